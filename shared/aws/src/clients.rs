//! The SDK clients, built once per process from an [`SdkConfig`].

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

/// How the S3 client addresses buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct S3Options {
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`: needed
    /// for emulators such as moto, and for bucket names with dots.
    pub force_path_style: bool,
}

impl S3Options {
    /// Path style when the environment overrides the endpoint (`AWS_ENDPOINT_URL`):
    /// emulators such as moto are addressed by path, not by bucket subdomain.
    pub fn from_env() -> Self {
        S3Options { force_path_style: std::env::var_os("AWS_ENDPOINT_URL").is_some() }
    }
}

/// The three SDK clients the adapters use. Cloning is cheap (the clients share one
/// HTTP connection pool and credentials cache).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    /// Clients from the standard AWS environment: credentials and region from the
    /// default provider chains (in Lambda: the function's role and `AWS_REGION`), and
    /// an endpoint override from `AWS_ENDPOINT_URL` (or the per-service
    /// `AWS_ENDPOINT_URL_DYNAMODB`, `_S3`, `_SECRETS_MANAGER`), e.g. to use moto.
    ///
    /// Credentials are resolved lazily, on the first request; with `AWS_REGION` set
    /// (as it always is in Lambda) loading does no network I/O.
    pub async fn from_env(s3: S3Options) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retries())
            .timeout_config(timeouts())
            .load()
            .await;
        Self::from_sdk_config(&config, s3)
    }

    /// Clients sharing one already-loaded configuration (tests build theirs with fixed
    /// credentials, region and endpoint instead of reading the process environment).
    pub fn from_sdk_config(config: &SdkConfig, s3: S3Options) -> Self {
        let s3_config =
            aws_sdk_s3::config::Builder::from(config).force_path_style(s3.force_path_style).build();
        AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
        }
    }
}

/// Three tries, with the SDK's jittered backoff (at most 1 s, then 2 s) between them:
/// a throttled call ends as `Unavailable` (503 with `Retry-After`) within about 3 s
/// plus its tries' own time.
pub fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// Past these a call has timed out and the service is unavailable: a stalled
/// connection must not hold a request until the function's own time runs out (API
/// Gateway gives up at 29 s).
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(8))
        .operation_timeout(Duration::from_secs(20))
        .build()
}
