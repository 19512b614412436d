//! confab's AWS adapters, for the Lambda functions:
//!
//! - [`DynamoStore`]: the key-value store port on one DynamoDB table (single-table
//!   design; the attribute mapping is in this crate's README);
//! - [`S3Blobs`]: the blob store port on one S3 bucket, plus presigned downloads;
//! - [`SecretsManagerSecrets`]: the secrets port on Secrets Manager (cached by the core's
//!   `ports::secrets::Cached`);
//! - [`KeySecrets`]: creating and rotating the signing-key secrets (the `confab-keys` tool);
//! - [`resources::ensure`]: the table, bucket and keys where no template makes them.
//!
//! [`AwsClients`] builds the three SDK clients once from the standard AWS environment
//! (credentials, region, `AWS_ENDPOINT_URL`); construction does no network I/O, and the
//! clients are cheap to clone and share. Every SDK failure becomes the port's
//! `Unavailable` error carrying the SDK error's full display; nothing here panics on a
//! service's answer.

mod clients;
mod dynamo;
mod keys;
pub mod resources;
mod s3;
mod secrets;
#[cfg(feature = "testing")]
pub mod testing;

pub use clients::{AwsClients, S3Options};
pub use confab_dynamo_json::GSI1;
pub use dynamo::DynamoStore;
pub use keys::{KeySecrets, KeysError};
pub use s3::S3Blobs;
pub use secrets::SecretsManagerSecrets;

/// The SDK crates, re-exported so that entry points and tests build clients and
/// configuration with exactly the versions this crate uses.
pub mod sdk {
    pub use aws_config;
    pub use aws_sdk_dynamodb as dynamodb;
    pub use aws_sdk_s3 as s3;
    pub use aws_sdk_secretsmanager as secretsmanager;
}
