//! [`SecretsManagerHttpSecrets`]: the secrets port on Secrets Manager's JSON API.

use crate::client::{AwsConfig, Service};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use confab_core::ports::secrets::{SecretError, Secrets};
use confab_core::ports::{Clock, HttpClient};
use serde_json::{Value, json};
use std::sync::Arc;

/// Secrets by name (or ARN) from Secrets Manager: the `AWSCURRENT` version's
/// `SecretString` (or a UTF-8 `SecretBinary`). Every call reads; wrap it in the core's
/// [`Cached`](confab_core::ports::secrets::Cached) to cache. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SecretsManagerHttpSecrets {
    service: Service,
    prefix: String,
}

impl SecretsManagerHttpSecrets {
    /// No network I/O.
    pub fn new(config: &AwsConfig, http: Arc<dyn HttpClient>, clock: Arc<dyn Clock>) -> Self {
        let endpoint =
            config.secrets_endpoint.clone().unwrap_or_else(|| config.public_endpoint("secretsmanager"));
        SecretsManagerHttpSecrets {
            service: Service::new(config, "secretsmanager", endpoint, http, clock),
            prefix: String::new(),
        }
    }

    /// Reads every name with `prefix` in front (`confab/prod/` turns
    /// `confab-verify-keys` into `confab/prod/confab-verify-keys`).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Secrets for SecretsManagerHttpSecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
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
