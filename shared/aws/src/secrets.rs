//! [`SecretsManagerSecrets`]: the secrets port on AWS Secrets Manager, with an
//! in-memory cache so that requests don't each call Secrets Manager.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use confab_core::ports::secrets::{SecretError, Secrets};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a value read from Secrets Manager is used before it is read again. Short,
/// because the core keeps its own longer-lived caches of what it derives from secrets
/// (signing keys, provider credentials) and re-reads a secret early when it must (a
/// token signed with a key id it doesn't know yet): this cache only has to keep bursts
/// of requests from each calling Secrets Manager, and must not hide a rotation from
/// those re-reads for long.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Secrets by name (or ARN) from Secrets Manager: the `AWSCURRENT` version's
/// `SecretString` (or a UTF-8 `SecretBinary`). Values, and the absence of a secret, are
/// cached per name for a TTL; when a refresh fails, the last value read is served until
/// a refresh succeeds. Cheap to clone; clones share the cache.
#[derive(Debug, Clone)]
pub struct SecretsManagerSecrets {
    client: Client,
    ttl: Duration,
    prefix: String,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

#[derive(Debug, Clone)]
struct Cached {
    value: Option<String>,
    read_at: Instant,
}

impl SecretsManagerSecrets {
    /// Secrets with the [`DEFAULT_TTL`]. No network I/O.
    pub fn new(client: Client) -> Self {
        SecretsManagerSecrets { client, ttl: DEFAULT_TTL, prefix: String::new(), cache: Arc::default() }
    }

    /// Keeps values for `ttl` instead of the default.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Reads every name with `prefix` in front (`confab/prod/` turns
    /// `confab-verify-keys` into `confab/prod/confab-verify-keys`), so that several
    /// deployments can share one account and each role can be granted only its own.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }

    fn cached(&self, name: &str) -> Option<Cached> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(name).cloned()
    }

    fn remember(&self, name: &str, value: Option<String>) {
        let entry = Cached { value, read_at: Instant::now() };
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(name.to_string(), entry);
    }

    /// Reads `name` from Secrets Manager, bypassing the cache.
    async fn fetch(&self, name: &str) -> Result<Option<String>, SecretError> {
        let name = format!("{}{name}", self.prefix);
        let result = self.client.get_secret_value().secret_id(&name).send().await;
        let out = match result {
            Ok(out) => out,
            Err(err) => {
                return match err.as_service_error() {
                    Some(GetSecretValueError::ResourceNotFoundException(_)) => Ok(None),
                    _ => Err(SecretError::Unavailable(format!(
                        "reading secret {name:?}: {}",
                        DisplayErrorContext(&err)
                    ))),
                };
            }
        };
        if let Some(value) = out.secret_string() {
            return Ok(Some(value.to_string()));
        }
        match out.secret_binary().map(|blob| String::from_utf8(blob.as_ref().to_vec())) {
            Some(Ok(value)) => Ok(Some(value)),
            Some(Err(_)) => {
                Err(SecretError::Unavailable(format!("secret {name:?} is binary, not UTF-8 text")))
            }
            None => Err(SecretError::Unavailable(format!("secret {name:?} has no value"))),
        }
    }
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        let cached = self.cached(name);
        if let Some(entry) = &cached
            && entry.read_at.elapsed() < self.ttl
        {
            return Ok(entry.value.clone());
        }
        match self.fetch(name).await {
            Ok(value) => {
                self.remember(name, value.clone());
                Ok(value)
            }
            Err(err) => match cached {
                Some(Cached { value: Some(stale), .. }) => {
                    tracing::warn!(secret = name, error = %err, "serving the last value read");
                    Ok(Some(stale))
                }
                _ => Err(err),
            },
        }
    }
}
