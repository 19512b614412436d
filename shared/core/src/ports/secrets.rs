use super::{MaybeSend, MaybeSync};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

/// Named secret values (Secrets Manager in the cloud, a key file locally).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Secrets: MaybeSend + MaybeSync {
    /// The current value of `name`, or `None` when no such secret exists.
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError>;
}
