//! A [`Store`] in front of another that fails the calls a test chooses: how tests put
//! a throttled or timed-out store under the code they check. Calls are counted from
//! the store's creation, every operation alike (a transaction is one call).

use crate::ports::store::{Condition, Item, Page, Query, Store, StoreError, Write};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

/// How an injected failure reads. Either way nothing is written: the call is refused
/// before it reaches the store (DynamoDB's throttling, a request that never arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttled,
    TimedOut,
}

impl Fault {
    fn error(self) -> StoreError {
        StoreError::Unavailable(match self {
            Fault::Throttled => "throttled (injected fault)".into(),
            Fault::TimedOut => "timed out (injected fault)".into(),
        })
    }
}

pub struct FaultyStore {
    inner: Arc<dyn Store>,
    plan: Mutex<Plan>,
}

#[derive(Default)]
struct Plan {
    calls: usize,
    /// The numbers of the calls that fail, and how.
    failing: Option<(Range<usize>, Fault)>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        FaultyStore { inner, plan: Mutex::default() }
    }

    /// The calls made so far.
    pub fn calls(&self) -> usize {
        self.plan().calls
    }

    /// Fails the `n`th call from now (1 is the next one), and only that one.
    pub fn fail_call(&self, n: usize, fault: Fault) {
        self.fail(n..n + 1, fault);
    }

    /// Fails the `n`th call from now and every one after it, until [`heal`](Self::heal):
    /// a store that goes down.
    pub fn fail_calls_from(&self, n: usize, fault: Fault) {
        self.fail(n..usize::MAX, fault);
    }

    /// Fails every call until [`heal`](Self::heal).
    pub fn fail_every_call(&self, fault: Fault) {
        self.fail_calls_from(1, fault);
    }

    /// Whether the first call chosen to fail has not been made yet.
    pub fn pending(&self) -> bool {
        let plan = self.plan();
        plan.failing.as_ref().is_some_and(|(numbers, _)| numbers.start > plan.calls)
    }

    /// Lets every call through again.
    pub fn heal(&self) {
        self.plan().failing = None;
    }

    fn fail(&self, from_now: Range<usize>, fault: Fault) {
        let mut plan = self.plan();
        let numbers = plan.calls + from_now.start..plan.calls.saturating_add(from_now.end);
        plan.failing = Some((numbers, fault));
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a call; its injected failure, if it has one.
    fn call(&self) -> Result<(), StoreError> {
        let mut plan = self.plan();
        plan.calls += 1;
        match &plan.failing {
            Some((numbers, fault)) if numbers.contains(&plan.calls) => Err(fault.error()),
            _ => Ok(()),
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Store for FaultyStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.call()?;
        self.inner.get(pk, sk).await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        self.call()?;
        self.inner.put(item, condition).await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        self.call()?;
        self.inner.delete(pk, sk, condition).await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.call()?;
        self.inner.query(query).await
    }

    async fn add(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Item, StoreError> {
        self.call()?;
        self.inner.add(pk, sk, deltas, expires_at).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.call()?;
        self.inner.transact(writes).await
    }

    async fn scan(&self, cursor: Option<String>, limit: u32) -> Result<Page, StoreError> {
        self.call()?;
        self.inner.scan(cursor, limit).await
    }

    async fn restore(&self, item: Item) -> Result<bool, StoreError> {
        self.call()?;
        self.inner.restore(item).await
    }
}

#[cfg(test)]
mod tests {
    use super::{Fault, FaultyStore};
    use crate::ports::Store;
    use crate::ports::store::StoreError;
    use crate::testing::{ManualClock, MemoryStore};
    use futures::executor::block_on;
    use std::sync::Arc;

    fn faulty() -> Arc<FaultyStore> {
        let clock = Arc::new(ManualClock::at(1_750_000_000));
        Arc::new(FaultyStore::new(Arc::new(MemoryStore::new(clock))))
    }

    // With no fault chosen it is the store behind it.
    crate::store_conformance_tests!(async { faulty() });

    /// Whether each of `calls` reads succeeded.
    fn outcomes(store: &FaultyStore, calls: usize) -> Vec<bool> {
        (0..calls).map(|_| block_on(store.get("pk", "sk")).is_ok()).collect()
    }

    #[test]
    fn fails_the_chosen_call_once_or_every_call_until_healed() {
        let store = faulty();
        store.fail_call(2, Fault::Throttled);
        assert!(store.pending());
        assert_eq!(outcomes(&store, 3), [true, false, true]);
        assert!(!store.pending());
        store.fail_every_call(Fault::TimedOut);
        assert_eq!(outcomes(&store, 2), [false, false]);
        store.heal();
        assert_eq!(outcomes(&store, 1), [true]);
        store.fail_calls_from(2, Fault::TimedOut);
        assert!(store.pending());
        assert_eq!(outcomes(&store, 3), [true, false, false]);
        assert!(!store.pending());
        assert_eq!(store.calls(), 9);
    }

    #[test]
    fn an_injected_fault_is_unavailable() {
        let store = faulty();
        store.fail_every_call(Fault::Throttled);
        let got = block_on(store.get("pk", "sk"));
        assert!(matches!(got, Err(StoreError::Unavailable(m)) if m.contains("throttled")));
    }
}
