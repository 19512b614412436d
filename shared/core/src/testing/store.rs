//! A [`Store`] in memory, with the semantics the conformance suite pins down.

use crate::ports::Clock;
use crate::ports::store::{
    Condition, Index, Item, MAX_PAGE, Page, Query, SkRange, Store, StoreError, Write, add_deltas,
    check_deltas, check_item, check_key, check_restore, check_transaction, decode_cursor, decode_scan_cursor,
    encode_cursor, encode_scan_cursor,
};
use serde_json::Map;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Items in a map behind one lock, so every call is atomic. Expiry is judged by the
/// clock it was given (the manual clock, in tests).
pub struct MemoryStore {
    items: Mutex<BTreeMap<(String, String), Item>>,
    clock: Arc<dyn Clock>,
    hooks: Mutex<Vec<((String, String), Hook)>>,
}

type Hook = Box<dyn FnOnce() + Send>;

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryStore { items: Mutex::default(), clock, hooks: Mutex::default() }
    }

    /// Runs `hook` once, just before the next `get` of `(pk, sk)` reads: how a test puts
    /// another instance's writes between two reads of the code it tests.
    pub fn before_get(&self, pk: &str, sk: &str, hook: impl FnOnce() + Send + 'static) {
        self.hooks.lock().unwrap_or_else(|p| p.into_inner()).push((key(pk, sk), Box::new(hook)));
    }

    fn run_hook(&self, pk: &str, sk: &str) {
        let hook = {
            let mut hooks = self.hooks.lock().unwrap_or_else(|p| p.into_inner());
            let at = hooks.iter().position(|(k, _)| *k == key(pk, sk));
            at.map(|at| hooks.remove(at).1)
        };
        if let Some(hook) = hook {
            hook();
        }
    }

    /// Every live item, in key order: for tests that look at what was written.
    pub fn items(&self) -> Vec<Item> {
        let now = self.clock.now_unix();
        self.lock().values().filter(|item| live(item, now)).cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, String), Item>> {
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The items under one lock, at one instant.
struct Snapshot<'a> {
    items: MutexGuard<'a, BTreeMap<(String, String), Item>>,
    now: i64,
}

fn live(item: &Item, now: i64) -> bool {
    item.expires_at.is_none_or(|at| at > now)
}

fn key(pk: &str, sk: &str) -> (String, String) {
    (pk.to_string(), sk.to_string())
}

impl Snapshot<'_> {
    fn get(&self, pk: &str, sk: &str) -> Option<&Item> {
        self.items.get(&key(pk, sk)).filter(|item| live(item, self.now))
    }

    fn version(&self, pk: &str, sk: &str) -> Option<u64> {
        self.get(pk, sk).map(|item| item.version)
    }

    fn put(&mut self, mut item: Item, condition: Condition) -> Result<u64, StoreError> {
        let current = self.version(&item.pk, &item.sk);
        condition.check(current)?;
        item.version = current.map_or(1, |v| v + 1);
        let version = item.version;
        self.items.insert(key(&item.pk, &item.sk), item);
        Ok(version)
    }

    fn delete(&mut self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        condition.check(self.version(pk, sk))?;
        self.items.remove(&key(pk, sk));
        Ok(())
    }

    fn apply(&mut self, write: Write) -> Result<(), StoreError> {
        match write {
            Write::Put { item, condition } => self.put(item, condition).map(drop),
            Write::Delete { pk, sk, condition } => self.delete(&pk, &sk, condition),
            Write::Check { pk, sk, condition } => condition.check(self.version(&pk, &sk)),
        }
    }

    /// Every write's condition, checked before any is applied.
    fn check_all(&self, writes: &[Write]) -> Result<(), StoreError> {
        writes.iter().try_for_each(|write| {
            let condition = match write {
                Write::Put { condition, .. }
                | Write::Delete { condition, .. }
                | Write::Check { condition, .. } => *condition,
            };
            let (pk, sk) = write.key();
            condition.check(self.version(pk, sk))
        })
    }
}

impl MemoryStore {
    fn snapshot(&self) -> Snapshot<'_> {
        Snapshot { items: self.lock(), now: self.clock.now_unix() }
    }
}

/// Whether `sk` is in `range`, bytewise.
fn in_range(sk: &str, range: &SkRange) -> bool {
    match range {
        SkRange::All => true,
        SkRange::Prefix(prefix) => sk.as_bytes().starts_with(prefix.as_bytes()),
        SkRange::Between(low, high) => low.as_str() <= sk && sk <= high.as_str(),
    }
}

/// The item's partition and sort key in `index`, if it is in it.
fn index_key(item: &Item, index: Index) -> Option<(&str, &str)> {
    match index {
        Index::Primary => Some((&item.pk, &item.sk)),
        Index::Gsi1 => item.gsi1.as_ref().map(|(pk, sk)| (pk.as_str(), sk.as_str())),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Store for MemoryStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        check_key(pk, sk)?;
        self.run_hook(pk, sk);
        Ok(self.snapshot().get(pk, sk).cloned())
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        check_item(&item)?;
        self.snapshot().put(item, condition)
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        check_key(pk, sk)?;
        self.snapshot().delete(pk, sk, condition)
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        if query.pk.is_empty() {
            return Err(StoreError::Invalid("empty partition key".into()));
        }
        let after = query.cursor.as_deref().map(|c| decode_cursor(c, query.index)).transpose()?;
        let snapshot = self.snapshot();
        let mut found: Vec<&Item> = snapshot
            .items
            .values()
            .filter(|item| live(item, snapshot.now))
            .filter(|item| {
                index_key(item, query.index)
                    .is_some_and(|(pk, sk)| pk == query.pk && in_range(sk, &query.range))
            })
            .collect();
        found.sort_by(|a, b| query.index.position(a).cmp(&query.index.position(b)));
        if !query.forward {
            found.reverse();
        }
        if let Some(after) = &after {
            let after: Vec<&str> = after.iter().map(String::as_str).collect();
            found.retain(|item| {
                let position = query.index.position(item);
                if query.forward { position > after } else { position < after }
            });
        }
        let limit = query.limit.clamp(1, MAX_PAGE) as usize;
        let more = found.len() > limit;
        let items: Vec<Item> = found.into_iter().take(limit).cloned().collect();
        let cursor = items.last().filter(|_| more).map(|last| encode_cursor(last, query.index));
        Ok(Page { items, cursor })
    }

    async fn add(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Item, StoreError> {
        check_key(pk, sk)?;
        check_deltas(deltas)?;
        let mut snapshot = self.snapshot();
        // An expired item counts as absent: the counter starts afresh.
        let mut item = snapshot.get(pk, sk).cloned().unwrap_or_else(|| Item::new(pk, sk, Map::new()));
        add_deltas(&mut item.data, deltas)?;
        item.expires_at = expires_at.or(item.expires_at);
        item.version = snapshot.put(item.clone(), Condition::Always)?;
        Ok(item)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        check_transaction(&writes)?;
        let mut snapshot = self.snapshot();
        snapshot.check_all(&writes)?;
        writes.into_iter().try_for_each(|write| snapshot.apply(write))
    }

    async fn scan(&self, cursor: Option<String>, limit: u32) -> Result<Page, StoreError> {
        let after = cursor.as_deref().map(decode_scan_cursor).transpose()?;
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let snapshot = self.snapshot();
        let mut found = snapshot
            .items
            .iter()
            .filter(|(key, _)| after.as_ref().is_none_or(|after| *key > after))
            .map(|(_, item)| item)
            .filter(|item| live(item, snapshot.now));
        let items: Vec<Item> = found.by_ref().take(limit).cloned().collect();
        let more = found.next().is_some();
        let cursor = items.last().filter(|_| more).map(encode_scan_cursor);
        Ok(Page { items, cursor })
    }

    async fn restore(&self, item: Item) -> Result<bool, StoreError> {
        check_restore(&item)?;
        let mut snapshot = self.snapshot();
        if snapshot.version(&item.pk, &item.sk).is_some() {
            return Ok(false);
        }
        snapshot.items.insert(key(&item.pk, &item.sk), item);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::testing::ManualClock;
    use std::sync::Arc;

    /// A clock well between the suite's long past and far future.
    fn fresh_store() -> Arc<MemoryStore> {
        Arc::new(MemoryStore::new(Arc::new(ManualClock::at(1_750_000_000))))
    }

    crate::store_conformance_tests!(async { fresh_store() });
}
