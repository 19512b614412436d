//! The tally against the kit's store, failures injected: exact totals, batched writes.

use super::Tally;
use crate::ports::Store;
use crate::testing::{Fault, FaultyStore, ManualClock, MemoryStore};
use futures::executor::block_on;
use std::sync::Arc;

fn store() -> FaultyStore {
    FaultyStore::new(Arc::new(MemoryStore::new(Arc::new(ManualClock::at(1_750_000_000)))))
}

fn stored(store: &dyn Store, pk: &str, sk: &str, field: &str) -> Option<i64> {
    block_on(store.get(pk, sk)).unwrap().and_then(|item| item.int(field))
}

fn count(tally: &Tally, store: &dyn Store, delta: i64) -> i64 {
    block_on(tally.add_and_count(store, "QUOTA#u", "d", ("tokens", delta), None)).unwrap()
}

#[test]
fn counts_reach_the_store_only_when_flushed_one_write_per_item() {
    let store = store();
    let tally = Tally::default();
    for _ in 0..3 {
        tally.add("USAGE#d", "u#m", &[("requests", 1), ("input_tokens", 10)], None);
    }
    tally.add("USAGE#d", "v#m", &[("requests", 1)], None);
    assert_eq!(store.calls(), 0);
    block_on(tally.flush(&store)).unwrap();
    assert_eq!(store.calls(), 2, "one add per item");
    assert_eq!(stored(&store, "USAGE#d", "u#m", "requests"), Some(3));
    assert_eq!(stored(&store, "USAGE#d", "u#m", "input_tokens"), Some(30));
    assert_eq!(stored(&store, "USAGE#d", "v#m", "requests"), Some(1));
    let calls = store.calls();
    block_on(tally.flush(&store)).unwrap();
    assert_eq!(store.calls(), calls, "nothing left to write");
}

#[test]
fn a_total_starts_from_the_stored_count_read_once() {
    let store = store();
    block_on(store.add("QUOTA#u", "d", &[("tokens", 100)], None)).unwrap();
    let tally = Tally::default();
    let calls = store.calls();
    assert_eq!(count(&tally, &store, 5), 105);
    assert_eq!(count(&tally, &store, -2), 103);
    assert_eq!(store.calls(), calls + 1, "one read, no write");
    block_on(tally.flush(&store)).unwrap();
    assert_eq!(stored(&store, "QUOTA#u", "d", "tokens"), Some(103));
    assert_eq!(count(&tally, &store, 0), 103);
}

#[test]
fn counts_added_before_the_first_read_are_in_the_total() {
    let store = store();
    block_on(store.add("QUOTA#u", "d", &[("tokens", 100)], None)).unwrap();
    let tally = Tally::default();
    tally.add("QUOTA#u", "d", &[("tokens", 7)], None);
    assert_eq!(count(&tally, &store, 1), 108);
}

#[test]
fn concurrent_first_callers_read_once_and_both_count() {
    let store = store();
    block_on(store.add("QUOTA#u", "d", &[("tokens", 100)], None)).unwrap();
    let tally = Tally::default();
    let calls = store.calls();
    let (a, b) = block_on(async {
        futures::join!(
            tally.add_and_count(&store, "QUOTA#u", "d", ("tokens", 10), None),
            tally.add_and_count(&store, "QUOTA#u", "d", ("tokens", 20), None),
        )
    });
    let mut totals = [a.unwrap(), b.unwrap()];
    totals.sort();
    assert_eq!(totals, [110, 130]);
    assert_eq!(store.calls(), calls + 1);
}

#[test]
fn a_failed_flush_keeps_what_it_could_not_write_for_the_next() {
    let store = store();
    let tally = Tally::default();
    tally.add("A", "1", &[("n", 1)], Some(1_750_100_000));
    tally.add("B", "1", &[("n", 2)], None);
    store.fail_every_call(Fault::Throttled);
    assert!(block_on(tally.flush(&store)).is_err());
    tally.add("A", "1", &[("n", 10)], None);
    store.heal();
    block_on(tally.flush(&store)).unwrap();
    assert_eq!(stored(&store, "A", "1", "n"), Some(11));
    assert_eq!(stored(&store, "B", "1", "n"), Some(2));
    let expires = block_on(store.get("A", "1")).unwrap().unwrap().expires_at;
    assert_eq!(expires, Some(1_750_100_000), "the latest expiry given is kept");
}

#[test]
fn a_flush_failing_halfway_writes_the_rest_next_time_and_nothing_twice() {
    let store = store();
    let tally = Tally::default();
    for pk in ["A", "B", "C"] {
        tally.add(pk, "1", &[("n", 1)], None);
    }
    store.fail_calls_from(2, Fault::TimedOut);
    assert!(block_on(tally.flush(&store)).is_err());
    store.heal();
    block_on(tally.flush(&store)).unwrap();
    for pk in ["A", "B", "C"] {
        assert_eq!(stored(&store, pk, "1", "n"), Some(1), "{pk}");
    }
}

#[test]
fn a_failed_flush_leaves_the_totals_as_they_were() {
    let store = store();
    let tally = Tally::default();
    assert_eq!(count(&tally, &store, 5), 5);
    store.fail_every_call(Fault::Throttled);
    assert!(block_on(tally.flush(&store)).is_err());
    assert_eq!(count(&tally, &store, 1), 6);
    store.heal();
    block_on(tally.flush(&store)).unwrap();
    assert_eq!(stored(&store, "QUOTA#u", "d", "tokens"), Some(6));
}

#[test]
fn items_left_alone_for_a_whole_flush_are_forgotten_and_read_again() {
    let store = store();
    let tally = Tally::default();
    count(&tally, &store, 5);
    block_on(tally.flush(&store)).unwrap();
    block_on(tally.flush(&store)).unwrap();
    assert!(tally.counts().is_empty());
    block_on(store.add("QUOTA#u", "d", &[("tokens", 1)], None)).unwrap();
    assert_eq!(count(&tally, &store, 0), 6, "read again, with what was written since");
}

#[test]
fn counts_the_store_cannot_take_are_dropped_and_hold_back_nothing() {
    let store = store();
    block_on(store.add("A", "1", &[("n", i64::MAX - 1)], None)).unwrap();
    let tally = Tally::default();
    tally.add("A", "1", &[("n", 5)], None);
    tally.add("B", "1", &[("n", 1)], None);
    block_on(tally.flush(&store)).unwrap();
    block_on(tally.flush(&store)).unwrap();
    assert_eq!(stored(&store, "A", "1", "n"), Some(i64::MAX - 1), "the overflow is not written");
    assert_eq!(stored(&store, "B", "1", "n"), Some(1));
}

#[test]
fn a_reader_that_goes_away_does_not_stop_the_writing_halfway() {
    let t = crate::testing::app().counting_alone().build();
    let tally = t.app.tally.clone().unwrap();
    for pk in ["A", "B", "C"] {
        tally.add(pk, "1", &[("n", 1)], None);
    }
    // The reader is polled once (the writing starts as a task of its own), then dropped.
    let mut reader = Box::pin(super::flush_counts(&t.app));
    assert!(futures::FutureExt::now_or_never(&mut reader).is_none(), "the writing is a task");
    drop(reader);
    t.run(async {});
    for pk in ["A", "B", "C"] {
        assert_eq!(stored(&*t.store, pk, "1", "n"), Some(1), "{pk}");
    }
}
