//! confab's embedded adapters, for `cargo run` and laptops: everything in local files.
//!
//! - [`SqliteStore`]: the key-value store on one SQLite file (shareable by processes).
//! - [`LocalBlobs`]: blobs as files under a folder.
//! - [`LocalSecrets`]: secrets from a JSON key file, generated on first run.
//!
//! The async methods run blocking file work on tokio's blocking pool when called inside
//! a tokio runtime, and inline otherwise. [`SqliteStore`] runs its writes on a thread
//! of its own and short reads inline; without a runtime its calls block until done.

mod blobs;
mod files;
mod secrets;
mod sqlite;

pub use blobs::LocalBlobs;
pub use secrets::LocalSecrets;
pub use sqlite::SqliteStore;
