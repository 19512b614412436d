//! A small in-memory cache with a maximum age, for values read from secrets. It lives
//! as long as the instance (one Lambda container, one Worker isolate).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct TtlCache<V> {
    entries: Mutex<HashMap<String, (Arc<V>, i64)>>,
}

impl<V> Default for TtlCache<V> {
    fn default() -> Self {
        TtlCache { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V> TtlCache<V> {
    /// The value for `key` if it was stored less than `max_age` seconds before `now`.
    pub fn get(&self, key: &str, now: i64, max_age: i64) -> Option<Arc<V>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(_, at)| now - at < max_age).map(|(v, _)| v.clone())
    }

    pub fn put(&self, key: &str, value: V, now: i64) -> Arc<V> {
        let value = Arc::new(value);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert(key.to_string(), (value.clone(), now));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::TtlCache;

    #[test]
    fn values_expire_after_max_age() {
        let cache = TtlCache::default();
        cache.put("k", 7, 100);
        assert_eq!(cache.get("k", 109, 10).as_deref(), Some(&7));
        assert_eq!(cache.get("k", 110, 10), None);
        assert_eq!(cache.get("other", 100, 10), None);
    }
}
