//! confab's AWS adapters over the core's HTTP client port, for runtimes without the AWS
//! SDK (Cloudflare Workers; natively they run on any `HttpClient`):
//!
//! - [`DynamoHttpStore`]: the store port on one DynamoDB table, with confab-aws's
//!   `DynamoStore` layout, conditions and cursors, so the two share a table;
//! - [`S3HttpBlobs`]: the blob store port on one S3 bucket, plus presigned downloads;
//! - [`SecretsManagerHttpSecrets`]: the secrets port on Secrets Manager (cached by the core's
//!   `ports::secrets::Cached`).
//!
//! Every request is signed with SigV4 at the clock port's time, with the credentials and
//! endpoints of an [`AwsConfig`]. Construction does no I/O. Failures become the ports'
//! `Unavailable` errors (DynamoDB's failed conditions and refusals their own variants);
//! nothing here panics on a service's answer.

mod client;
mod dynamo;
mod s3;
mod secrets;
mod xml;

pub use client::{AwsConfig, Credentials, DEFAULT_TIMEOUT};
pub use dynamo::DynamoHttpStore;
pub use s3::S3HttpBlobs;
pub use secrets::SecretsManagerHttpSecrets;
