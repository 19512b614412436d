//! Counts kept in memory by a process that counts alone (the local server) and written
//! to the store in batches ([`Tally::flush`], every second): a request's path then
//! writes nothing for its token reservation, settlement and usage. Totals stay exact:
//! an item is read once when its total is first asked for, and nobody else writes it.
//! Lambdas and Workers, many instances at once, count in the store.

use crate::app::App;
use crate::error::ApiResult;
use crate::ports::{Store, StoreError};
use futures::lock::Mutex as IoLock;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct Tally {
    counts: Mutex<HashMap<Key, Counts>>,
    /// Held while the store is read or written, so a first read never sees half a flush.
    io: IoLock<()>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    pk: String,
    sk: String,
}

/// One item's counts.
#[derive(Default)]
struct Counts {
    /// Per field: what is not written yet, and the total with it once the item was read.
    fields: Vec<Field>,
    expires_at: Option<i64>,
    /// Added to since the last flush; an item left alone for a whole flush is forgotten.
    touched: bool,
}

/// Field names and the amounts to add to them: one store `add`.
type Deltas = Vec<(&'static str, i64)>;

struct Field {
    name: &'static str,
    unwritten: i64,
    total: Option<i64>,
}

impl Counts {
    fn field(&mut self, name: &'static str) -> &mut Field {
        match self.fields.iter().position(|f| f.name == name) {
            Some(i) => &mut self.fields[i],
            None => {
                self.fields.push(Field { name, unwritten: 0, total: None });
                self.fields.last_mut().expect("just pushed")
            }
        }
    }

    fn add(&mut self, deltas: &[(&'static str, i64)], expires_at: Option<i64>) {
        for &(name, delta) in deltas {
            let field = self.field(name);
            field.unwritten = field.unwritten.saturating_add(delta);
            field.total = field.total.map(|t| t.saturating_add(delta));
        }
        self.expires_at = expires_at.or(self.expires_at);
        self.touched = true;
    }

    /// Adds `delta` to a field whose total is known; returns the new total.
    fn add_counted(&mut self, name: &'static str, delta: i64, expires_at: Option<i64>) -> Option<i64> {
        self.fields.iter().find(|f| f.name == name)?.total?;
        self.add(&[(name, delta)], expires_at);
        self.field(name).total
    }

    /// Takes what is not written yet, as the deltas of one store `add`.
    fn take_unwritten(&mut self) -> Deltas {
        let deltas = self.fields.iter().filter(|f| f.unwritten != 0).map(|f| (f.name, f.unwritten)).collect();
        self.fields.iter_mut().for_each(|f| f.unwritten = 0);
        deltas
    }
}

impl Tally {
    fn counts(&self) -> MutexGuard<'_, HashMap<Key, Counts>> {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `deltas` to the item at `pk`/`sk`, as the store's `add` would once flushed.
    pub fn add(&self, pk: &str, sk: &str, deltas: &[(&'static str, i64)], expires_at: Option<i64>) {
        let key = Key { pk: pk.to_string(), sk: sk.to_string() };
        self.counts().entry(key).or_default().add(deltas, expires_at);
    }

    /// Adds `delta` to one field and returns its total: what the store has plus what is
    /// not written yet. The first time, the stored count is read (once: a concurrent
    /// first caller waits for the read and finds the total known).
    pub async fn add_and_count(
        &self,
        store: &dyn Store,
        pk: &str,
        sk: &str,
        (name, delta): (&'static str, i64),
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        let key = Key { pk: pk.to_string(), sk: sk.to_string() };
        let counted = |tally: &Tally| tally.counts().get_mut(&key)?.add_counted(name, delta, expires_at);
        if let Some(total) = counted(self) {
            return Ok(total);
        }
        let _io = self.io.lock().await;
        if let Some(total) = counted(self) {
            return Ok(total);
        }
        let stored = store.get(pk, sk).await?.and_then(|item| item.int(name)).unwrap_or(0);
        let mut counts = self.counts();
        let counts = counts.entry(key.clone()).or_default();
        let field = counts.field(name);
        field.total = Some(stored.saturating_add(field.unwritten));
        Ok(counts.add_counted(name, delta, expires_at).unwrap_or(stored))
    }

    /// Writes every item's unwritten counts, one store `add` each. What could not be
    /// written stays to be written by the next flush.
    pub async fn flush(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _io = self.io.lock().await;
        let batch: Vec<(Key, Deltas, Option<i64>)> = {
            let mut counts = self.counts();
            counts.retain(|_, c| std::mem::take(&mut c.touched) || c.fields.iter().any(|f| f.unwritten != 0));
            counts.iter_mut().map(|(key, c)| (key.clone(), c.take_unwritten(), c.expires_at)).collect()
        };
        let mut failure = None;
        for (key, deltas, expires_at) in batch.into_iter().filter(|(_, deltas, _)| !deltas.is_empty()) {
            let written = match failure {
                None => store.add(&key.pk, &key.sk, &deltas, expires_at).await,
                Some(_) => Err(StoreError::Unavailable("an earlier write of the batch failed".into())),
            };
            match written {
                Ok(_) => {}
                // The store cannot take these counts (an overflow): kept, they would
                // hold back every later flush.
                Err(e @ StoreError::Invalid(_)) => {
                    tracing::error!(error = %e, pk = %key.pk, sk = %key.sk, "counts that cannot be written are dropped");
                }
                Err(e) => {
                    self.put_back(key, &deltas);
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Counts deltas a failed flush took as not written again (the totals have them).
    fn put_back(&self, key: Key, deltas: &[(&'static str, i64)]) {
        let mut counts = self.counts();
        let counts = counts.entry(key).or_default();
        for &(name, delta) in deltas {
            if let Some(field) = counts.fields.iter_mut().find(|f| f.name == name) {
                field.unwritten = field.unwritten.saturating_add(delta);
            }
        }
    }
}

/// Writes the counts a server that counts alone keeps in memory; nothing otherwise.
/// Readers of the counts call it first, so that they see every count. The writing runs
/// as a task of its own: a flush takes the counts it writes out of memory, so a
/// request that goes away (its client gone) must not stop one halfway.
pub async fn flush_counts(app: &App) -> ApiResult<()> {
    let Some(tally) = app.tally.clone() else { return Ok(()) };
    let store = app.store.clone();
    let (done, flushed) = futures::channel::oneshot::channel();
    app.spawner.spawn(Box::pin(async move {
        let _ = done.send(tally.flush(&*store).await);
    }));
    match flushed.await {
        Ok(result) => Ok(result?),
        Err(_) => Err(crate::error::ApiError::Unavailable("the counts' writing was dropped".into())),
    }
}

#[cfg(test)]
mod tests;
