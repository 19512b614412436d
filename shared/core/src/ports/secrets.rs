use super::{Clock, MaybeSend, MaybeSync};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

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

/// Secrets read through `inner` at most once per name per TTL, timed by the clock port
/// (there is no `Instant` on wasm32). The absence of a secret is cached too. When a
/// refresh fails, the last value read is served until one succeeds. Cheap to clone;
/// clones share the cache.
///
/// The TTL is short (`CONFAB_SECRETS_CACHE_SECONDS`, default 10). Provider keys are read
/// through this cache on every call, so a rotated one is used within the TTL. The
/// signing keys are kept longer by the core (`CONFAB_KEY_CACHE_SECONDS`), which re-reads
/// them early when it must (a token signed with a key id it doesn't know yet); this
/// cache must not hide a rotation from those re-reads for long.
pub struct Cached<S> {
    inner: Arc<S>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

#[derive(Clone)]
struct Entry {
    value: Option<String>,
    read_at: OffsetDateTime,
}

impl<S> Clone for Cached<S> {
    fn clone(&self) -> Self {
        Cached {
            inner: self.inner.clone(),
            clock: self.clock.clone(),
            ttl: self.ttl,
            entries: self.entries.clone(),
        }
    }
}

impl<S: Secrets> Cached<S> {
    pub fn new(inner: S, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Cached { inner: Arc::new(inner), clock, ttl, entries: Arc::default() }
    }

    fn entry(&self, name: &str) -> Option<Entry> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(name).cloned()
    }

    fn remember(&self, name: &str, value: Option<String>) {
        let entry = Entry { value, read_at: self.clock.now() };
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(name.to_string(), entry);
    }

    fn fresh(&self, entry: &Entry) -> bool {
        self.clock.now() - entry.read_at < self.ttl
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: Secrets> Secrets for Cached<S> {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        let cached = self.entry(name);
        if let Some(entry) = &cached
            && self.fresh(entry)
        {
            return Ok(entry.value.clone());
        }
        match self.inner.get(name).await {
            Ok(value) => {
                self.remember(name, value.clone());
                Ok(value)
            }
            Err(err) => match cached {
                Some(Entry { value: Some(stale), .. }) => {
                    tracing::warn!(secret = name, error = %err, "serving the last value read");
                    Ok(Some(stale))
                }
                _ => Err(err),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cached, SecretError, Secrets};
    use crate::testing::ManualClock;
    use futures::executor::block_on;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// One secret whose value (or outage) the test sets; counts reads.
    struct Store {
        value: Mutex<Result<Option<String>, String>>,
        reads: Mutex<u32>,
    }

    #[async_trait::async_trait]
    impl Secrets for Arc<Store> {
        async fn get(&self, _name: &str) -> Result<Option<String>, SecretError> {
            *self.reads.lock().unwrap() += 1;
            self.value.lock().unwrap().clone().map_err(SecretError::Unavailable)
        }
    }

    fn set(store: &Store, value: Result<Option<&str>, &str>) {
        *store.value.lock().unwrap() = value.map(|v| v.map(String::from)).map_err(String::from);
    }

    fn cached() -> (Arc<Store>, Arc<ManualClock>, Cached<Arc<Store>>) {
        let store = Arc::new(Store { value: Mutex::new(Ok(None)), reads: Mutex::new(0) });
        let clock = Arc::new(ManualClock::at(1_000));
        let cached = Cached::new(store.clone(), clock.clone(), Duration::from_secs(10));
        (store, clock, cached)
    }

    fn get(secrets: &impl Secrets) -> Result<Option<String>, SecretError> {
        block_on(secrets.get("k"))
    }

    #[test]
    fn values_and_absence_are_read_again_only_after_the_ttl() {
        let (store, clock, cached) = cached();
        assert_eq!(get(&cached).unwrap(), None);
        set(&store, Ok(Some("v1")));
        clock.advance(Duration::from_millis(9_999));
        assert_eq!(get(&cached).unwrap(), None, "absence is cached");
        assert_eq!(get(&cached.clone()).unwrap(), None, "clones share the cache");
        clock.advance(Duration::from_millis(1));
        assert_eq!(get(&cached).unwrap().as_deref(), Some("v1"));
        assert_eq!(*store.reads.lock().unwrap(), 2);
    }

    #[test]
    fn the_last_value_is_served_while_the_store_fails() {
        let (store, clock, cached) = cached();
        set(&store, Ok(Some("v1")));
        assert_eq!(get(&cached).unwrap().as_deref(), Some("v1"));
        set(&store, Err("down"));
        clock.advance(Duration::from_secs(60));
        assert_eq!(get(&cached).unwrap().as_deref(), Some("v1"));
        set(&store, Ok(Some("v2")));
        assert_eq!(get(&cached).unwrap().as_deref(), Some("v2"), "a failed refresh is retried");
    }

    #[test]
    fn a_failure_without_a_value_read_is_an_error() {
        let (store, clock, cached) = cached();
        assert_eq!(get(&cached).unwrap(), None);
        set(&store, Err("down"));
        clock.advance(Duration::from_secs(60));
        assert!(matches!(get(&cached), Err(SecretError::Unavailable(m)) if m == "down"));
    }
}
