//! [`SecretsManagerHttpSecrets`]: the secrets port on Secrets Manager's JSON API, with
//! an in-memory cache timed by the clock port (there is no `Instant` on wasm32).

use crate::client::{AwsConfig, Service};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use confab_core::ports::secrets::{SecretError, Secrets};
use confab_core::ports::{Clock, HttpClient};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

/// How long a value read from Secrets Manager is used before it is read again: short,
/// for the reasons confab-aws's `DEFAULT_SECRETS_TTL` gives.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Secrets by name (or ARN) from Secrets Manager: the `AWSCURRENT` version's
/// `SecretString` (or a UTF-8 `SecretBinary`). Values, and the absence of a secret, are
/// cached per name for a TTL; when a refresh fails, the last value read is served until
/// a refresh succeeds. Cheap to clone; clones share the cache.
#[derive(Debug, Clone)]
pub struct SecretsManagerHttpSecrets {
    service: Service,
    ttl: Duration,
    prefix: String,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

#[derive(Debug, Clone)]
struct Cached {
    value: Option<String>,
    read_at: OffsetDateTime,
}

impl SecretsManagerHttpSecrets {
    /// Secrets with the [`DEFAULT_TTL`]. No network I/O.
    pub fn new(config: &AwsConfig, http: Arc<dyn HttpClient>, clock: Arc<dyn Clock>) -> Self {
        let endpoint = config
            .secrets_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://secretsmanager.{}.amazonaws.com", config.region));
        SecretsManagerHttpSecrets {
            service: Service::new(config, "secretsmanager", endpoint, http, clock),
            ttl: DEFAULT_TTL,
            prefix: String::new(),
            cache: Arc::default(),
        }
    }

    /// Keeps values for `ttl` instead of the default.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Reads every name with `prefix` in front (`confab/prod/` turns
    /// `confab-verify-keys` into `confab/prod/confab-verify-keys`).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }

    fn cached(&self, name: &str) -> Option<Cached> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(name).cloned()
    }

    fn remember(&self, name: &str, value: Option<String>) {
        let entry = Cached { value, read_at: self.service.clock.now() };
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(name.to_string(), entry);
    }

    fn fresh(&self, entry: &Cached) -> bool {
        self.service.clock.now() - entry.read_at < self.ttl
    }

    /// Reads `name` from Secrets Manager, bypassing the cache.
    async fn fetch(&self, name: &str) -> Result<Option<String>, SecretError> {
        let name = format!("{}{name}", self.prefix);
        let unavailable = |what: &dyn std::fmt::Display| {
            SecretError::Unavailable(format!("reading secret {name:?}: {what}"))
        };
        let body = serde_json::to_vec(&json!({ "SecretId": name })).map_err(|e| unavailable(&e))?;
        let request = http::Request::post(format!("{}/", self.service.endpoint))
            .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")
            .header("x-amz-target", "secretsmanager.GetSecretValue")
            .body(Bytes::from(body))
            .map_err(|e| unavailable(&e))?;
        let response = self.service.send(request).await.map_err(|e| unavailable(&e))?;
        let json = serde_json::from_slice::<Value>(&response.body).unwrap_or(Value::Null);
        if !response.status.is_success() {
            let kind = json.get("__type").and_then(Value::as_str).unwrap_or_default();
            if kind.rsplit('#').next() == Some("ResourceNotFoundException") {
                return Ok(None);
            }
            let text = String::from_utf8_lossy(&response.body);
            return Err(unavailable(&format!("{}: {text}", response.status)));
        }
        if let Some(value) = json.get("SecretString").and_then(Value::as_str) {
            return Ok(Some(value.to_string()));
        }
        let binary = json.get("SecretBinary").and_then(Value::as_str).map(|b| STANDARD.decode(b));
        match binary.map(|bytes| bytes.ok().and_then(|b| String::from_utf8(b).ok())) {
            Some(Some(value)) => Ok(Some(value)),
            Some(None) => Err(SecretError::Unavailable(format!("secret {name:?} is binary, not UTF-8 text"))),
            None => Err(SecretError::Unavailable(format!("secret {name:?} has no value"))),
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Secrets for SecretsManagerHttpSecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        let cached = self.cached(name);
        if let Some(entry) = &cached
            && self.fresh(entry)
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
