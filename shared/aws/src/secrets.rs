//! [`SecretsManagerSecrets`]: the secrets port on AWS Secrets Manager.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use confab_core::ports::secrets::{SecretError, Secrets};

/// Secrets by name (or ARN) from Secrets Manager: the `AWSCURRENT` version's
/// `SecretString` (or a UTF-8 `SecretBinary`). Every call reads; wrap it in the core's
/// [`Cached`](confab_core::ports::secrets::Cached) to cache. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SecretsManagerSecrets {
    client: Client,
    prefix: String,
}

impl SecretsManagerSecrets {
    /// No network I/O.
    pub fn new(client: Client) -> Self {
        SecretsManagerSecrets { client, prefix: String::new() }
    }

    /// Reads every name with `prefix` in front (`confab/prod/` turns
    /// `confab-verify-keys` into `confab/prod/confab-verify-keys`), so that several
    /// deployments can share one account and each role can be granted only its own.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
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
