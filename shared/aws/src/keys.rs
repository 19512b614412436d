//! The access-token signing keys in Secrets Manager: created on first deploy, rotated
//! by an operator (the `confab-keys` tool). The key material and the rotation rule come
//! from the core (`confab_core::auth::keys`); this module only reads and writes them.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use confab_core::auth::keys::{
    self, Jwks, SIGNING_KEYS_SECRET, SigningKeySet, VERIFY_KEYS_SECRET, initial_secrets, rotation_is_early,
};
use confab_core::ports::{Clock, Random};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("Secrets Manager: {0}")]
    Service(String),
    #[error("secret {0} is missing: run `confab-keys init` first")]
    Missing(String),
    #[error("secret {0} does not hold a confab key set: {1}")]
    Malformed(String, String),
    #[error(
        "the current signing key is younger than the access-token lifetime ({0} s); rotating now would \
         end sessions signed with the key before it. Wait, or pass --force"
    )]
    TooEarly(i64),
}

/// The secrets of one deployment: names behind `prefix` (`CONFAB_SECRETS_PREFIX`).
pub struct KeySecrets<'a> {
    pub client: &'a Client,
    pub prefix: &'a str,
}

impl KeySecrets<'_> {
    /// Gives both key secrets a fresh key where they have no value yet: creates them, or
    /// fills the empty secrets a deployment template declared. Returns whether anything
    /// was written; existing keys are never replaced.
    pub async fn init(&self, random: &dyn Random, clock: &dyn Clock) -> Result<bool, KeysError> {
        let mut written = false;
        for (name, value) in initial_secrets(random, clock) {
            if self.read(&name).await?.is_none() {
                let created =
                    self.client.create_secret().name(self.id(&name)).secret_string(&value).send().await;
                match created {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.as_service_error(),
                            Some(CreateSecretError::ResourceExistsException(_))
                        ) =>
                    {
                        self.put(&name, &value).await?;
                    }
                    Err(e) => return Err(KeysError::Service(DisplayErrorContext(&e).to_string())),
                }
                written = true;
            }
        }
        Ok(written)
    }

    /// Publishes a new public key to every function, waits `propagation` (how long the
    /// functions may take to see it: their secrets cache plus their key re-read
    /// interval), then makes the new key the signing key. Returns the new key id.
    pub async fn rotate(
        &self,
        random: &dyn Random,
        clock: &dyn Clock,
        access_ttl_seconds: i64,
        force: bool,
        propagation: Duration,
    ) -> Result<String, KeysError> {
        let signing: SigningKeySet = self.parse(SIGNING_KEYS_SECRET).await?;
        let verify: Jwks = self.parse(VERIFY_KEYS_SECRET).await?;
        if !force && rotation_is_early(&signing, access_ttl_seconds, clock) {
            return Err(KeysError::TooEarly(access_ttl_seconds));
        }
        let (signing, verify) = keys::rotated(&verify, &signing, random, clock);
        let values = keys::to_secrets(&signing, &verify);
        self.put(VERIFY_KEYS_SECRET, &values[VERIFY_KEYS_SECRET]).await?;
        clock.sleep(propagation).await;
        self.put(SIGNING_KEYS_SECRET, &values[SIGNING_KEYS_SECRET]).await?;
        Ok(signing.current)
    }

    fn id(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    async fn read(&self, name: &str) -> Result<Option<String>, KeysError> {
        match self.client.get_secret_value().secret_id(self.id(name)).send().await {
            Ok(out) => Ok(out.secret_string().map(String::from)),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(GetSecretValueError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(KeysError::Service(DisplayErrorContext(&e).to_string())),
        }
    }

    async fn parse<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, KeysError> {
        let raw = self.read(name).await?.ok_or_else(|| KeysError::Missing(self.id(name)))?;
        serde_json::from_str(&raw).map_err(|e| KeysError::Malformed(self.id(name), e.to_string()))
    }

    async fn put(&self, name: &str, value: &str) -> Result<(), KeysError> {
        let sent = self.client.put_secret_value().secret_id(self.id(name)).secret_string(value).send().await;
        sent.map(|_| ()).map_err(|e| KeysError::Service(DisplayErrorContext(&e).to_string()))
    }
}
