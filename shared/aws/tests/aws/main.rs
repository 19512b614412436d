//! confab-aws's adapters against moto: one test binary, so one moto server for all.

mod blobs;
mod dynamo;
mod keys;
mod secrets;
mod store_conformance;
