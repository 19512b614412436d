//! What the tests share: moto (one for the binary, from confab-aws's launcher), the
//! adapters' configuration for it, and confab-aws's SDK adapters on the same resources.

use confab_aws::testing::moto;

use confab_aws::{DynamoStore, S3Blobs};
use confab_aws_http::{AwsConfig, Credentials, DynamoHttpStore, S3HttpBlobs};
use confab_core::ports::{Clock, HttpClient};
use confab_native::{ReqwestClient, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// moto's fake credentials, region us-east-1, every service at `url`.
pub fn config_for(url: &str) -> AwsConfig {
    let credentials = Credentials {
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
        session_token: None,
    };
    AwsConfig::new("us-east-1", credentials).with_endpoint(url)
}

pub fn config() -> AwsConfig {
    config_for(&moto().url)
}

/// A client per test: each `#[tokio::test]` has its own runtime, and a connection pool
/// belongs to the runtime it was first used on.
pub fn http() -> Arc<dyn HttpClient> {
    Arc::new(ReqwestClient::new(Duration::from_secs(5)).expect("HTTP client"))
}

pub fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A fresh table (made by confab-aws), with both adapters on it.
pub async fn fresh_table() -> (DynamoStore, DynamoHttpStore) {
    let sdk = confab_aws::testing::dynamo::fresh_table().await;
    let http = DynamoHttpStore::new(&config(), http(), clock(), sdk.table());
    (sdk, http)
}

/// A fresh bucket (made by confab-aws), with both adapters on it.
pub async fn fresh_bucket() -> (S3Blobs, S3HttpBlobs) {
    let sdk = confab_aws::testing::s3::fresh_bucket().await;
    let http = S3HttpBlobs::new(&config(), http(), clock(), sdk.bucket());
    (sdk, http)
}
