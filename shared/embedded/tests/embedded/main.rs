//! confab-embedded's adapters: one test binary, a module per adapter.

mod local_blobs;
mod local_secrets;
mod sqlite_store;
mod store_conformance;
