//! confab-aws-http's adapters against moto: one test binary, so one moto server for all.

mod blobs;
mod common;
mod cross_adapter;
mod dynamo;
mod secrets;
mod signatures;
mod store_conformance;
