//! Blobs and secrets in memory.

use crate::ports::blob::{MAX_LIST_PAGE, validate_key, validate_listing};
use crate::ports::{BlobError, BlobPage, BlobStore, SecretError, Secrets};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A [`BlobStore`] in a map; keys are checked as every adapter checks them.
#[derive(Default)]
pub struct MemoryBlobs(Mutex<BTreeMap<String, Bytes>>);

impl MemoryBlobs {
    /// Every key stored, in order.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.0).keys().cloned().collect()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl BlobStore for MemoryBlobs {
    async fn put(&self, key: &str, _content_type: &str, body: Bytes) -> Result<(), BlobError> {
        validate_key(key)?;
        lock(&self.0).insert(key.to_string(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        validate_key(key)?;
        Ok(lock(&self.0).get(key).cloned())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        validate_key(prefix)?;
        lock(&self.0).retain(|key, _| !key.starts_with(prefix));
        Ok(())
    }

    async fn list(&self, prefix: &str, cursor: Option<String>, limit: u32) -> Result<BlobPage, BlobError> {
        validate_listing(prefix, cursor.as_deref())?;
        let limit = limit.clamp(1, MAX_LIST_PAGE) as usize;
        let blobs = lock(&self.0);
        let mut found = blobs
            .keys()
            .filter(|key| cursor.as_ref().is_none_or(|cursor| *key > cursor) && key.starts_with(prefix));
        let keys: Vec<String> = found.by_ref().take(limit).cloned().collect();
        let more = found.next().is_some();
        let cursor = keys.last().filter(|_| more).cloned();
        Ok(BlobPage { keys, cursor })
    }
}

/// [`Secrets`] a test sets by name.
#[derive(Default)]
pub struct MemorySecrets(Mutex<HashMap<String, String>>);

impl MemorySecrets {
    pub fn set(&self, name: &str, value: &str) {
        lock(&self.0).insert(name.to_string(), value.to_string());
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Secrets for MemorySecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        Ok(lock(&self.0).get(name).cloned())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn listing_conforms() {
        crate::conformance::blob_listing(&super::MemoryBlobs::default()).await;
    }
}
