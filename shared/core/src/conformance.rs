//! The store conformance suite: the [`Store`] port's semantics written down once as
//! executable cases, run against every adapter (embedded SQLite, DynamoDB, edge).
//!
//! Each case is `pub async fn case(store: &dyn Store)` and panics on a violation. Cases
//! write only under key prefixes unique to the call, so they can share one store, run
//! concurrently, and run again on a store that keeps data between runs.
//!
//! From a crate with tokio as a dev-dependency, [`store_conformance_tests!`] makes one
//! `#[tokio::test]` per case; elsewhere (e.g. inside a Workers test) call [`run_all`].
//!
//! [`store_conformance_tests!`]: crate::store_conformance_tests
//!
//! Semantics the suite pins down beyond the port's doc comments:
//! - **Pages.** A page never holds more than the (clamped) limit. A cursor is present
//!   when more items may follow: an adapter may return a cursor on a page that happens to
//!   end exactly at the last item, as long as the next page is then empty with no cursor.
//!   With small items and nothing expired in the range, pages are full until the last.
//! - **Cursors** are positions (the last returned key), not offsets: items written or
//!   deleted before the position don't shift the next page. Garbage is
//!   [`StoreError::BadCursor`].
//! - **Limits.** Above [`MAX_PAGE`] is clamped to it; 0 is treated as 1.
//! - **Ranges.** Empty bounds are allowed and `Prefix("")` is the same as `All`;
//!   prefixes match literally (no wildcards); `Between(a, b)` with `a > b` is empty or
//!   [`StoreError::Invalid`].
//! - **GSI1 ties.** Items with equal GSI1 sort keys come in an unspecified but stable
//!   order; paging still yields each exactly once.
//! - **Keys.** Writes with an empty pk, sk or GSI1 key part are [`StoreError::Invalid`]
//!   (DynamoDB rejects empty key strings); reads of empty keys are `Invalid` or find
//!   nothing. `data` may use any field name, even `pk`.
//! - **Expiry.** Expired means `expires_at <= now`. An expired item is absent for reads,
//!   conditions and [`Store::add`] (which starts it afresh). A version written over an
//!   expired item is only guaranteed to be at least 1.
//! - **Scans** page like queries, in any order; items written before a scan and left
//!   alone come exactly once, as `get` returns them. A scan's pages may be empty before
//!   the last (DynamoDB filters expired items after its page limit).
//!
//! [`blob_listing`] is the [`BlobStore::list`] case; each blob adapter's tests call it.

use crate::ports::store::{
    Condition, Item, MAX_PAGE, MAX_TRANSACTION_WRITES, Page, Query, SkRange, Store, StoreError, Write,
};
use crate::ports::{BlobError, BlobStore};
use futures::future::join_all;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};

/// 2000-01-01: long expired on any clock the suite will meet.
const PAST: i64 = 946_684_800;
/// 2100-01-01: far in the future.
const FUTURE: i64 = 4_102_444_800;

/// Internals of [`store_conformance_tests!`] and [`run_all`]; `@cases` holds the one list
/// of cases and hands it to an `@emit` rule.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance {
    (@cases $($what:tt)*) => {
        $crate::__store_conformance! { @emit $($what)*;
            get_missing_is_none,
            put_get_round_trip,
            data_may_use_any_field_names,
            versions_count_writes,
            put_conditions,
            delete_conditions,
            empty_keys_are_invalid,
            oversized_items_are_refused,
            expired_items_are_absent,
            add_over_expired_item_starts_fresh,
            query_sk_ranges,
            query_orders_bytewise,
            query_prefix_is_literal,
            query_limit,
            query_limit_is_clamped,
            query_paging_forward,
            query_paging_backward,
            query_paging_within_ranges,
            query_cursor_is_a_position,
            query_bad_cursor,
            gsi1_queries,
            gsi1_paging,
            gsi1_follows_updates,
            add_creates_and_increments,
            add_rejects_non_integer_fields,
            add_is_atomic_under_concurrency,
            transact_applies_all,
            transact_is_all_or_nothing,
            transact_limits,
            concurrent_creates_are_exclusive,
            scan_yields_every_live_item_once,
            scan_bad_cursor,
            restore_keeps_versions_and_skips_live_items,
        }
    };
    (@emit tests ($make_store:expr); $($case:ident),* $(,)?) => {
        mod store_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let store = $make_store.await;
                    let store: &dyn $crate::ports::Store = &*store;
                    $crate::conformance::$case(store).await;
                }
            )*
        }
    };
    (@emit run_all; $($case:ident),* $(,)?) => {
        /// Runs every case, one after another, against `store`; panics on the first
        /// violation. For runtimes where [`store_conformance_tests!`] doesn't fit.
        ///
        /// [`store_conformance_tests!`]: crate::store_conformance_tests
        pub async fn run_all(store: &dyn $crate::ports::Store) {
            $( $case(store).await; )*
        }
    };
}

/// Expands to a module `store_conformance` with one `#[tokio::test]` per conformance
/// case (the calling crate needs `tokio` with `macros` and `rt` as a dev-dependency).
///
/// `$make_store` is evaluated afresh in every test, inside that module (items of the
/// enclosing module are in scope), and must be a **future** (write `async { ... }` around
/// synchronous setup) resolving to a value `s` for which `&*s` is a `&S` with
/// `S: Store` or `S = dyn Store`: a `Box`/`Arc` of a store, or your own guard type that
/// derefs to the store and keeps e.g. a temporary directory alive.
///
/// ```ignore
/// async fn fresh_store() -> Box<dyn confab_core::ports::Store> { ... }
/// confab_core::store_conformance_tests!(fresh_store());
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($make_store:expr) => {
        $crate::__store_conformance! { @cases tests ($make_store) }
    };
}

crate::__store_conformance! { @cases run_all }

// ---------------------------------------------------------------------------------------
// Helpers

/// A key prefix no other call (in this process or, with high likelihood, any earlier
/// run against a persistent store) uses. Portable: no clock, no RNG dependency.
fn unique_prefix(case: &str) -> String {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let on_stack = 0u8;
    // RandomState is seeded from the OS natively; the stack address varies with ASLR.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    (&on_stack as *const u8 as usize).hash(&mut hasher);
    call.hash(&mut hasher);
    format!("conformance/{case}/{call}-{:016x}/", hasher.finish())
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("test data must be a JSON object, got {other}"),
    }
}

fn item(pk: &str, sk: &str) -> Item {
    Item::new(pk, sk, obj(json!({ "sk_copy": sk })))
}

async fn put(store: &dyn Store, item: Item, condition: Condition) -> u64 {
    let key = (item.pk.clone(), item.sk.clone());
    match store.put(item, condition).await {
        Ok(version) => version,
        Err(e) => panic!("put {key:?} with {condition:?} failed: {e:?}"),
    }
}

async fn get(store: &dyn Store, pk: &str, sk: &str) -> Option<Item> {
    match store.get(pk, sk).await {
        Ok(found) => found,
        Err(e) => panic!("get ({pk:?}, {sk:?}) failed: {e:?}"),
    }
}

async fn query(store: &dyn Store, query: Query) -> Page {
    match store.query(query.clone()).await {
        Ok(page) => page,
        Err(e) => panic!("{query:?} failed: {e:?}"),
    }
}

async fn add(store: &dyn Store, pk: &str, sk: &str, deltas: &[(&str, i64)], exp: Option<i64>) -> Item {
    match store.add(pk, sk, deltas, exp).await {
        Ok(item) => item,
        Err(e) => panic!("add {deltas:?} to ({pk:?}, {sk:?}) failed: {e:?}"),
    }
}

async fn transact(store: &dyn Store, writes: Vec<Write>) {
    if let Err(e) = store.transact(writes.clone()).await {
        panic!("transact {writes:?} failed: {e:?}");
    }
}

/// Writes items in transactions of the largest allowed size (fewer round trips).
async fn put_all(store: &dyn Store, items: Vec<Item>) {
    let mut writes: Vec<Write> =
        items.into_iter().map(|item| Write::Put { item, condition: Condition::Always }).collect();
    while !writes.is_empty() {
        let rest = writes.split_off(writes.len().min(MAX_TRANSACTION_WRITES));
        transact(store, writes).await;
        writes = rest;
    }
}

fn assert_condition_failed<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::ConditionFailed) => {}
        other => panic!("{what}: expected ConditionFailed, got {other:?}"),
    }
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("{what}: expected Invalid, got {other:?}"),
    }
}

fn sks(items: &[Item]) -> Vec<&str> {
    items.iter().map(|item| item.sk.as_str()).collect()
}

fn keys(items: &[Item]) -> Vec<(String, String)> {
    items.iter().map(|item| (item.pk.clone(), item.sk.clone())).collect()
}

/// The query's items from all its pages, checking page-level rules on the way: no page
/// over the limit, no empty page except a final one, a cursor only if more may follow.
async fn query_all(store: &dyn Store, q: Query) -> Vec<Item> {
    let limit = q.limit.clamp(1, MAX_PAGE) as usize;
    let mut q = q;
    let mut out = Vec::new();
    let mut seen_empty = false;
    for _ in 0..10_000 {
        let page = query(store, q.clone()).await;
        assert!(page.items.len() <= limit, "{q:?}: page of {} items over the limit", page.items.len());
        assert!(!seen_empty, "{q:?}: a page followed an empty page");
        seen_empty = page.items.is_empty();
        out.extend(page.items);
        match page.cursor {
            Some(cursor) => q.cursor = Some(cursor),
            None => return out,
        }
    }
    panic!("{q:?}: still returning cursors after 10000 pages");
}

/// Like [`query_all`] but also returns each page's size.
async fn page_sizes(store: &dyn Store, q: Query) -> (Vec<Item>, Vec<usize>) {
    let mut q = q;
    let mut items = Vec::new();
    let mut sizes = Vec::new();
    for _ in 0..10_000 {
        let page = query(store, q.clone()).await;
        sizes.push(page.items.len());
        items.extend(page.items);
        match page.cursor {
            Some(cursor) => q.cursor = Some(cursor),
            None => return (items, sizes),
        }
    }
    panic!("{q:?}: still returning cursors after 10000 pages");
}

/// Pages of `size` items (the last may be short) plus at most one final empty page.
fn assert_full_pages(sizes: &[usize], total: usize, size: usize, what: &str) {
    let mut expected: Vec<usize> = vec![size; total / size];
    if !total.is_multiple_of(size) {
        expected.push(total % size);
    }
    let exact = sizes == expected.as_slice();
    let with_empty_tail = sizes.split_last() == Some((&0, expected.as_slice()));
    assert!(
        exact || with_empty_tail || (total == 0 && sizes == [0]),
        "{what}: page sizes {sizes:?}, expected {expected:?} (optionally then one empty page)"
    );
}

// ---------------------------------------------------------------------------------------
// Basic reads and writes

pub async fn get_missing_is_none(store: &dyn Store) {
    let p = unique_prefix("get-missing");
    assert_eq!(get(store, &p, "nothing").await, None);
    put(store, item(&p, "a"), Condition::Always).await;
    assert_eq!(get(store, &p, "b").await, None, "a neighbouring sort key");
    assert_eq!(get(store, &p, "a ").await, None, "a longer sort key");
    assert_eq!(get(store, &format!("{p}x"), "a").await, None, "a longer partition key");
    assert_eq!(get(store, &p, "A").await, None, "keys are case-sensitive");
}

pub async fn put_get_round_trip(store: &dyn Store) {
    let p = unique_prefix("round-trip");
    let pk = format!("{p}Zoë/🦀#1");
    let data = obj(json!({
        "name": "Zoë 🦀 你好 \u{0301}\n\t\"quoted\" \\",
        "count": 42,
        "big": i64::MAX,
        "small": i64::MIN,
        "ratio": 1.5,
        "tiny": -0.0025,
        "yes": true,
        "nothing": null,
        "empty_string": "",
        "empty_list": [],
        "empty_object": {},
        "nested": { "list": [1, "two", [3], { "four": 4 }, null, false], "deep": { "a": { "b": "c" } } },
    }));
    let mut input = Item::new(&pk, "sk/ß€#2", data).with_gsi1(format!("{p}g-é"), "g/ñ").expiring_at(FUTURE);
    input.version = 99;
    let version = put(store, input.clone(), Condition::Always).await;
    assert_eq!(version, 1, "the first write's version is 1 whatever the input says");
    let expected = Item { version: 1, ..input };
    assert_eq!(get(store, &pk, "sk/ß€#2").await, Some(expected.clone()));

    // A bare item round-trips its absences too.
    let bare = Item::new(&pk, "bare", Map::new());
    put(store, bare.clone(), Condition::Always).await;
    assert_eq!(get(store, &pk, "bare").await, Some(Item { version: 1, ..bare }));
    // And writing one item leaves the other alone.
    assert_eq!(get(store, &pk, "sk/ß€#2").await, Some(expected));
}

pub async fn data_may_use_any_field_names(store: &dyn Store) {
    let p = unique_prefix("field-names");
    let data = obj(json!({
        "pk": "not the pk", "sk": 7, "gsi1pk": "x", "gsi1sk": "y", "gsi1": ["a", "b"],
        "data": { "d": 1 }, "expires_at": "never", "version": "v0", "ttl": 1, "#": "hash",
        ":": "colon", "a.b": "dotted", "a b": "spaced", "ü": "umlaut",
    }));
    let input = Item::new(&p, "item", data).with_gsi1(format!("{p}g"), "s");
    put(store, input.clone(), Condition::Always).await;
    let got = get(store, &p, "item").await;
    assert_eq!(got, Some(Item { version: 1, ..input.clone() }));
    let page = query(store, Query::new(format!("{p}g"), SkRange::All).on_gsi1()).await;
    assert_eq!(page.items, vec![Item { version: 1, ..input }]);
}

pub async fn versions_count_writes(store: &dyn Store) {
    let p = unique_prefix("versions");
    let mut input = item(&p, "a");
    input.version = 1000;
    assert_eq!(put(store, input.clone(), Condition::NotExists).await, 1);
    assert_eq!(put(store, input.clone(), Condition::Always).await, 2);
    assert_eq!(put(store, input.clone(), Condition::Version(2)).await, 3);
    assert_eq!(put(store, input.clone(), Condition::Exists).await, 4);
    assert_eq!(get(store, &p, "a").await.map(|i| i.version), Some(4));
    assert_eq!(add(store, &p, "a", &[("n", 1)], None).await.version, 5);
    transact(store, vec![Write::Put { item: input.clone(), condition: Condition::Version(5) }]).await;
    assert_eq!(get(store, &p, "a").await.map(|i| i.version), Some(6));
    // A Check writes nothing, so it doesn't count.
    let check = Write::Check { pk: p.clone(), sk: "a".into(), condition: Condition::Exists };
    transact(store, vec![check]).await;
    assert_eq!(get(store, &p, "a").await.map(|i| i.version), Some(6));
    // Deleting and creating again starts over.
    store.delete(&p, "a", Condition::Always).await.expect("delete");
    assert_eq!(put(store, input, Condition::NotExists).await, 1);
}

pub async fn put_conditions(store: &dyn Store) {
    let p = unique_prefix("put-conditions");
    let v1 = obj(json!({ "v": 1 }));
    let v2 = obj(json!({ "v": 2 }));

    // On a missing item: Exists and Version fail and create nothing.
    for condition in [Condition::Exists, Condition::Version(1), Condition::Version(0)] {
        let result = store.put(Item::new(&p, "a", v1.clone()), condition).await;
        assert_condition_failed(result, &format!("put with {condition:?} on a missing item"));
        assert_eq!(get(store, &p, "a").await, None, "{condition:?} failed but wrote");
    }
    assert_eq!(put(store, Item::new(&p, "a", v1.clone()), Condition::NotExists).await, 1);

    // On an existing item: NotExists and a wrong version fail and change nothing.
    let before = get(store, &p, "a").await;
    for condition in [Condition::NotExists, Condition::Version(0), Condition::Version(2)] {
        let result = store.put(Item::new(&p, "a", v2.clone()), condition).await;
        assert_condition_failed(result, &format!("put with {condition:?} on an existing item"));
        assert_eq!(get(store, &p, "a").await, before, "{condition:?} failed but wrote");
    }
    assert_eq!(put(store, Item::new(&p, "a", v2.clone()), Condition::Version(1)).await, 2);
    assert_eq!(put(store, Item::new(&p, "a", v1.clone()), Condition::Exists).await, 3);

    // Always writes either way, and a put replaces the whole item.
    assert_eq!(put(store, Item::new(&p, "b", v1.clone()), Condition::Always).await, 1);
    let full = Item::new(&p, "c", obj(json!({ "x": 1, "y": 2 })))
        .with_gsi1(format!("{p}g"), "s")
        .expiring_at(FUTURE);
    put(store, full, Condition::Always).await;
    assert_eq!(put(store, Item::new(&p, "c", v2.clone()), Condition::Always).await, 2);
    assert_eq!(get(store, &p, "c").await, Some(Item { version: 2, ..Item::new(&p, "c", v2) }));
}

pub async fn delete_conditions(store: &dyn Store) {
    let p = unique_prefix("delete-conditions");
    // Missing item: Always and NotExists succeed, Exists and Version fail.
    store.delete(&p, "a", Condition::Always).await.expect("delete Always of a missing item");
    store.delete(&p, "a", Condition::NotExists).await.expect("delete NotExists of a missing item");
    assert_condition_failed(store.delete(&p, "a", Condition::Exists).await, "delete Exists, missing");
    assert_condition_failed(store.delete(&p, "a", Condition::Version(1)).await, "delete Version, missing");

    put(store, item(&p, "a"), Condition::Always).await;
    put(store, item(&p, "a"), Condition::Always).await;
    let before = get(store, &p, "a").await;
    for condition in [Condition::NotExists, Condition::Version(1), Condition::Version(3)] {
        let result = store.delete(&p, "a", condition).await;
        assert_condition_failed(result, &format!("delete with {condition:?} of an existing item"));
        assert_eq!(get(store, &p, "a").await, before, "failed delete with {condition:?} changed the item");
    }
    store.delete(&p, "a", Condition::Version(2)).await.expect("delete with the right version");
    assert_eq!(get(store, &p, "a").await, None);

    put(store, item(&p, "b"), Condition::Always).await;
    store.delete(&p, "b", Condition::Exists).await.expect("delete Exists of an existing item");
    assert_eq!(get(store, &p, "b").await, None);
    put(store, item(&p, "c"), Condition::Always).await;
    store.delete(&p, "c", Condition::Always).await.expect("delete Always of an existing item");
    assert_eq!(get(store, &p, "c").await, None);
}

pub async fn oversized_items_are_refused(store: &dyn Store) {
    let p = unique_prefix("oversized");
    let big = obj(json!({ "text": "x".repeat(crate::ports::store::MAX_ITEM_BYTES + 1) }));
    match store.put(Item::new(&p, "big", big), Condition::Always).await {
        Err(StoreError::TooLarge(_)) => {}
        other => panic!("put of an item over the size limit: {other:?}"),
    }
    assert_eq!(get(store, &p, "big").await, None, "an oversized item was written");
    let fits = obj(json!({ "text": "x".repeat(crate::ports::store::MAX_ITEM_BYTES / 2) }));
    put(store, Item::new(&p, "fits", fits), Condition::Always).await;
}

pub async fn empty_keys_are_invalid(store: &dyn Store) {
    let p = unique_prefix("empty-keys");
    let data = || obj(json!({}));
    assert_invalid(store.put(Item::new("", "s", data()), Condition::Always).await, "put, empty pk");
    assert_invalid(store.put(Item::new(&p, "", data()), Condition::Always).await, "put, empty sk");
    let empty_gsi_pk = Item::new(&p, "s", data()).with_gsi1("", "x");
    assert_invalid(store.put(empty_gsi_pk, Condition::Always).await, "put, empty gsi1 pk");
    let empty_gsi_sk = Item::new(&p, "s", data()).with_gsi1("x", "");
    assert_invalid(store.put(empty_gsi_sk, Condition::Always).await, "put, empty gsi1 sk");
    assert_invalid(store.delete(&p, "", Condition::Always).await, "delete, empty sk");
    assert_invalid(store.add("", "s", &[("n", 1)], None).await, "add, empty pk");
    let write = Write::Put { item: Item::new(&p, "", data()), condition: Condition::Always };
    assert_invalid(store.transact(vec![write]).await, "transact, empty sk");
    assert_eq!(get(store, &p, "s").await, None, "an invalid write wrote");

    // Reads of empty keys may be rejected or find nothing.
    match store.get(&p, "").await {
        Ok(None) | Err(StoreError::Invalid(_)) => {}
        other => panic!("get with an empty sk: {other:?}"),
    }
    match store.query(Query::new("", SkRange::All)).await {
        Err(StoreError::Invalid(_)) => {}
        Ok(page) if page.items.is_empty() => {}
        other => panic!("query with an empty pk: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Expiry

pub async fn expired_items_are_absent(store: &dyn Store) {
    let p = unique_prefix("expiry");
    let g = format!("{p}g");
    let old = Item::new(&p, "old", obj(json!({ "v": "old" }))).with_gsi1(&g, "old").expiring_at(PAST);
    let new = Item::new(&p, "new", obj(json!({ "v": "new" }))).with_gsi1(&g, "new").expiring_at(FUTURE);
    let forever = Item::new(&p, "forever", obj(json!({}))).with_gsi1(&g, "forever");
    put(store, new.clone(), Condition::Always).await;
    put(store, forever, Condition::Always).await;
    // The expired item last, and reads before any other write: an adapter that purges
    // expired items as it writes must still hide them when reading.
    let old_version = put(store, old.clone(), Condition::Always).await;

    assert_eq!(get(store, &p, "old").await, None, "an expired item is visible to get");
    assert_eq!(get(store, &p, "new").await.and_then(|i| i.expires_at), Some(FUTURE));
    let all = query_all(store, Query::new(&p, SkRange::All)).await;
    assert_eq!(sks(&all), ["forever", "new"], "query shows expired items");
    let gsi = query_all(store, Query::new(&g, SkRange::All).on_gsi1()).await;
    assert_eq!(sks(&gsi), ["forever", "new"], "GSI1 query shows expired items");
    let between = query_all(store, Query::new(&p, SkRange::Between("a".into(), "z".into()))).await;
    assert_eq!(sks(&between), ["forever", "new"]);

    // Conditions see it as absent.
    for condition in [Condition::Exists, Condition::Version(old_version)] {
        let result = store.put(old.clone(), condition).await;
        assert_condition_failed(result, &format!("put {condition:?} over an expired item"));
        let result = store.delete(&p, "old", condition).await;
        assert_condition_failed(result, &format!("delete {condition:?} of an expired item"));
        let check = Write::Check { pk: p.clone(), sk: "old".into(), condition };
        let result = store.transact(vec![check]).await;
        assert_condition_failed(result, &format!("check {condition:?} of an expired item"));
    }
    let check = Write::Check { pk: p.clone(), sk: "old".into(), condition: Condition::NotExists };
    transact(store, vec![check]).await;
    store.delete(&p, "old", Condition::NotExists).await.expect("delete NotExists of an expired item");

    // Creating over it works and yields a live item.
    put(store, old.clone(), Condition::Always).await;
    let fresh = Item::new(&p, "old", obj(json!({ "v": "fresh" })));
    let version = put(store, fresh.clone(), Condition::NotExists).await;
    assert!(version >= 1);
    assert_eq!(get(store, &p, "old").await, Some(Item { version, ..fresh }));
    let all = query_all(store, Query::new(&p, SkRange::All)).await;
    assert_eq!(sks(&all), ["forever", "new", "old"]);
}

pub async fn add_over_expired_item_starts_fresh(store: &dyn Store) {
    let p = unique_prefix("add-expired");
    let old = Item::new(&p, "counter", obj(json!({ "n": 5, "other": "x" }))).expiring_at(PAST);
    put(store, old, Condition::Always).await;
    let after = add(store, &p, "counter", &[("n", 1)], None).await;
    assert_eq!(after.data, obj(json!({ "n": 1 })), "add counted an expired item's fields");
    assert_eq!(after.expires_at, None);
    assert!(after.version >= 1);
    assert_eq!(get(store, &p, "counter").await, Some(after));

    // The same with a new expiry (a fixed-window counter's next window).
    let old = Item::new(&p, "window", obj(json!({ "n": 9 }))).expiring_at(PAST);
    put(store, old, Condition::Always).await;
    let after = add(store, &p, "window", &[("n", 1)], Some(FUTURE)).await;
    assert_eq!((after.int("n"), after.expires_at), (Some(1), Some(FUTURE)));
}

// ---------------------------------------------------------------------------------------
// Queries on the primary index

pub async fn query_sk_ranges(store: &dyn Store) {
    let p = unique_prefix("ranges");
    let pk = format!("{p}part");
    let all = ["a", "b", "b1", "b2", "ba", "c", "d"];
    for sk in all {
        put(store, item(&pk, sk), Condition::Always).await;
        // Neighbouring partitions with the same sort keys must never leak in.
        for other in [format!("{p}par"), format!("{p}part2"), format!("{p}Part")] {
            put(store, item(&other, sk), Condition::Always).await;
        }
    }
    let cases: Vec<(SkRange, Vec<&str>)> = vec![
        (SkRange::All, all.to_vec()),
        (SkRange::Prefix(String::new()), all.to_vec()),
        (SkRange::Prefix("b".into()), vec!["b", "b1", "b2", "ba"]),
        (SkRange::Prefix("b1".into()), vec!["b1"]),
        (SkRange::Prefix("B".into()), vec![]),
        (SkRange::Prefix("zz".into()), vec![]),
        (SkRange::Between("b".into(), "c".into()), vec!["b", "b1", "b2", "ba", "c"]),
        (SkRange::Between("b1".into(), "b2".into()), vec!["b1", "b2"]),
        (SkRange::Between("b0".into(), "b15".into()), vec!["b1"]),
        (SkRange::Between("c".into(), "c".into()), vec!["c"]),
        (SkRange::Between("".into(), "a".into()), vec!["a"]),
        (SkRange::Between("d".into(), "\u{10FFFF}".into()), vec!["d"]),
        (SkRange::Between("e".into(), "z".into()), vec![]),
    ];
    for (range, expected) in cases {
        let forward = query_all(store, Query::new(&pk, range.clone())).await;
        assert_eq!(sks(&forward), expected, "{range:?} forward");
        assert!(forward.iter().all(|i| i.pk == pk), "{range:?}: another partition's item");
        let backward = query_all(store, Query::new(&pk, range.clone()).backward()).await;
        let reversed: Vec<&str> = expected.iter().rev().copied().collect();
        assert_eq!(sks(&backward), reversed, "{range:?} backward");
    }
    // Full items come back, not just keys.
    let page = query(store, Query::new(&pk, SkRange::Prefix("c".into()))).await;
    assert_eq!(page.items, vec![Item { version: 1, ..item(&pk, "c") }]);

    match store.query(Query::new(&pk, SkRange::Between("c".into(), "b".into()))).await {
        Err(StoreError::Invalid(_)) => {}
        Ok(page) if page.items.is_empty() && page.cursor.is_none() => {}
        other => panic!("Between with reversed bounds: {other:?}"),
    }
}

pub async fn query_orders_bytewise(store: &dyn Store) {
    let p = unique_prefix("bytewise");
    let g = format!("{p}g");
    // UTF-8 byte order: digits < upper < '_' < lower < '~' < 2-, 3- and 4-byte chars;
    // U+FF61 sorts before U+10000 bytewise though not in UTF-16.
    let unique = BTreeSet::from([
        "B",
        "a",
        "Z",
        "_",
        "é",
        "e",
        "\u{FF61}",
        "\u{10000}",
        "~",
        "0",
        "10",
        "9",
        "ab",
        "a b",
        "aa",
        "a\u{7F}",
        "ä",
        "z",
    ]);
    for sk in &unique {
        put(store, item(&p, sk).with_gsi1(&g, *sk), Condition::Always).await;
    }
    let sorted: Vec<&str> = unique.iter().copied().collect(); // BTreeSet<&str> is bytewise
    let forward = query_all(store, Query::new(&p, SkRange::All)).await;
    assert_eq!(sks(&forward), sorted, "primary, forward");
    let backward = query_all(store, Query::new(&p, SkRange::All).backward()).await;
    assert_eq!(sks(&backward), sorted.iter().rev().copied().collect::<Vec<_>>(), "primary, backward");
    let gsi = query_all(store, Query::new(&g, SkRange::All).on_gsi1()).await;
    assert_eq!(sks(&gsi), sorted, "GSI1, forward");
    let between = query_all(store, Query::new(&p, SkRange::Between("e".into(), "\u{FFFF}".into()))).await;
    assert_eq!(sks(&between), ["e", "z", "~", "ä", "é", "\u{FF61}"]);
}

pub async fn query_prefix_is_literal(store: &dyn Store) {
    let p = unique_prefix("literal");
    let g = format!("{p}g");
    let all = [
        "a%b1",
        "axb2",
        "a_c",
        "abc",
        "a*",
        "a*b",
        "a[1]",
        "a[",
        "a1",
        "a?",
        "ab?",
        "a\\x",
        "ax",
        "é1",
        "éx",
        "e1",
        "e\u{301}",
        "a\u{10FFFF}z",
        "a\u{10FFFF}",
        "b",
    ];
    for sk in all {
        put(store, item(&p, sk).with_gsi1(&g, sk), Condition::Always).await;
    }
    let cases: [(&str, &[&str]); 10] = [
        ("a%", &["a%b1"]),
        ("a_", &["a_c"]),
        ("a*", &["a*", "a*b"]),
        ("a[", &["a[", "a[1]"]),
        ("a?", &["a?"]),
        ("a\\", &["a\\x"]),
        ("é", &["é1", "éx"]),
        ("e", &["e1", "e\u{301}"]),
        ("a\u{10FFFF}", &["a\u{10FFFF}", "a\u{10FFFF}z"]),
        ("ab", &["ab?", "abc"]),
    ];
    for (prefix, expected) in cases {
        let range = SkRange::Prefix(prefix.to_string());
        let primary = query_all(store, Query::new(&p, range.clone())).await;
        assert_eq!(sks(&primary), expected, "primary, prefix {prefix:?}");
        let gsi = query_all(store, Query::new(&g, range.clone()).on_gsi1()).await;
        assert_eq!(sks(&gsi), expected, "GSI1, prefix {prefix:?}");
        let backward = query_all(store, Query::new(&p, range).backward()).await;
        let reversed: Vec<&str> = expected.iter().rev().copied().collect();
        assert_eq!(sks(&backward), reversed, "primary backward, prefix {prefix:?}");
    }
}

pub async fn query_limit(store: &dyn Store) {
    let p = unique_prefix("limit");
    for sk in ["a", "b", "c", "d", "e"] {
        put(store, item(&p, sk), Condition::Always).await;
    }
    let page = query(store, Query::new(&p, SkRange::All).limit(2)).await;
    assert_eq!(sks(&page.items), ["a", "b"]);
    assert!(page.cursor.is_some(), "more items follow but no cursor");
    let page = query(store, Query::new(&p, SkRange::All).limit(2).backward()).await;
    assert_eq!(sks(&page.items), ["e", "d"]);

    let page = query(store, Query::new(&p, SkRange::All).limit(0)).await;
    assert_eq!(sks(&page.items), ["a"], "limit 0 is treated as 1");
    assert!(page.cursor.is_some());

    let page = query(store, Query::new(&p, SkRange::All).limit(6)).await;
    assert_eq!(sks(&page.items), ["a", "b", "c", "d", "e"]);
    assert_eq!(page.cursor, None, "a short page is the last");

    // Exactly the limit: a cursor is allowed, but then the next page is empty and last.
    let page = query(store, Query::new(&p, SkRange::All).limit(5)).await;
    assert_eq!(page.items.len(), 5);
    if let Some(cursor) = page.cursor {
        let next = query(store, Query::new(&p, SkRange::All).limit(5).after(Some(cursor))).await;
        assert_eq!((next.items.len(), next.cursor), (0, None));
    }
}

pub async fn query_limit_is_clamped(store: &dyn Store) {
    let p = unique_prefix("clamp");
    let total = MAX_PAGE as usize + 1;
    let items: Vec<Item> = (0..total).map(|i| item(&p, &format!("{i:05}"))).collect();
    put_all(store, items).await;
    for limit in [MAX_PAGE + 1, u32::MAX] {
        let page = query(store, Query::new(&p, SkRange::All).limit(limit)).await;
        assert_eq!(page.items.len(), MAX_PAGE as usize, "limit {limit} not clamped to MAX_PAGE");
        let rest = query_all(store, Query::new(&p, SkRange::All).limit(limit).after(page.cursor)).await;
        assert_eq!(sks(&rest), [format!("{:05}", MAX_PAGE).as_str()]);
    }
}

async fn paging(store: &dyn Store, forward: bool) {
    let p = unique_prefix(if forward { "paging-fwd" } else { "paging-back" });
    let mut expected: Vec<String> = (0..57).map(|i| format!("item-{i:03}")).collect();
    put_all(store, expected.iter().map(|sk| item(&p, sk)).collect()).await;
    if !forward {
        expected.reverse();
    }
    let mut q = Query::new(&p, SkRange::All).limit(10);
    q.forward = forward;
    let (items, sizes) = page_sizes(store, q.clone()).await;
    assert_eq!(sks(&items), expected, "forward={forward}: not every item exactly once, in order");
    assert_full_pages(&sizes, 57, 10, &format!("forward={forward}, 57 items by 10"));

    // An exact multiple of the page size.
    let thirty: Vec<&str> = expected.iter().take(30).map(String::as_str).collect();
    let range = if forward {
        SkRange::Between(String::new(), "item-029".into())
    } else {
        SkRange::Between("item-027".into(), "item-999".into())
    };
    q.range = range;
    let (items, sizes) = page_sizes(store, q).await;
    assert_eq!(sks(&items), thirty, "forward={forward}, 30 items");
    assert_full_pages(&sizes, 30, 10, &format!("forward={forward}, 30 items by 10"));
}

pub async fn query_paging_forward(store: &dyn Store) {
    paging(store, true).await;
}

pub async fn query_paging_backward(store: &dyn Store) {
    paging(store, false).await;
}

pub async fn query_paging_within_ranges(store: &dyn Store) {
    let p = unique_prefix("paging-ranges");
    let mut sks_in: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
    sks_in.extend(["a", "m", "l9", "n", "z"].map(String::from));
    put_all(store, sks_in.iter().map(|sk| item(&p, sk)).collect()).await;
    let in_m: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
    let prefixed = |forward: bool| {
        let mut q = Query::new(&p, SkRange::Prefix("m".into())).limit(7);
        q.forward = forward;
        q
    };
    let mut expected = vec!["m".to_string()];
    expected.extend(in_m.iter().cloned());
    assert_eq!(sks(&query_all(store, prefixed(true)).await), expected, "Prefix, forward");
    expected.reverse();
    assert_eq!(sks(&query_all(store, prefixed(false)).await), expected, "Prefix, backward");

    let between = |forward: bool| {
        let mut q = Query::new(&p, SkRange::Between("m05".into(), "m30".into())).limit(4);
        q.forward = forward;
        q
    };
    let mut expected: Vec<String> = (5..=30).map(|i| format!("m{i:02}")).collect();
    assert_eq!(sks(&query_all(store, between(true)).await), expected, "Between, forward");
    expected.reverse();
    assert_eq!(sks(&query_all(store, between(false)).await), expected, "Between, backward");
}

pub async fn query_cursor_is_a_position(store: &dyn Store) {
    let p = unique_prefix("cursor-position");
    for sk in ["a", "b", "c", "d", "e", "f"] {
        put(store, item(&p, sk), Condition::Always).await;
    }
    let first = query(store, Query::new(&p, SkRange::All).limit(3)).await;
    assert_eq!(sks(&first.items), ["a", "b", "c"]);
    // Changes before the position don't shift what follows; changes after it show.
    store.delete(&p, "b", Condition::Always).await.expect("delete b");
    store.delete(&p, "d", Condition::Always).await.expect("delete d");
    put(store, item(&p, "0"), Condition::Always).await;
    put(store, item(&p, "cc"), Condition::Always).await;
    let rest = query_all(store, Query::new(&p, SkRange::All).limit(3).after(first.cursor)).await;
    assert_eq!(sks(&rest), ["cc", "e", "f"]);

    // The same going backward, and after the cursor's own item is deleted.
    let first = query(store, Query::new(&p, SkRange::All).limit(2).backward()).await;
    assert_eq!(sks(&first.items), ["f", "e"]);
    store.delete(&p, "e", Condition::Always).await.expect("delete e");
    let rest = query_all(store, Query::new(&p, SkRange::All).backward().after(first.cursor)).await;
    assert_eq!(sks(&rest), ["cc", "c", "a", "0"]);
}

pub async fn query_bad_cursor(store: &dyn Store) {
    let p = unique_prefix("bad-cursor");
    put(store, item(&p, "a").with_gsi1(&p, "a"), Condition::Always).await;
    let long = "A".repeat(3000);
    for garbage in ["not a cursor!", "%%%", "", "AAAA", "eyJ9", "////", "\u{1F980}", long.as_str()] {
        for gsi in [false, true] {
            let mut q = Query::new(&p, SkRange::All).after(Some(garbage.to_string()));
            if gsi {
                q = q.on_gsi1();
            }
            match store.query(q).await {
                Err(StoreError::BadCursor) => {}
                other => {
                    panic!("cursor {garbage:?} (gsi1: {gsi}): expected BadCursor, got {other:?}")
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The secondary index

pub async fn gsi1_queries(store: &dyn Store) {
    let p = unique_prefix("gsi1");
    let g = format!("{p}g");
    let other_g = format!("{p}g2");
    // Items from several partitions share the index partition; some have no gsi1.
    let indexed =
        [("u1", "x", "2024-03"), ("u2", "y", "2024-01"), ("u3", "x", "2024-02"), ("u1", "z", "2023-12")];
    for (pk, sk, gsk) in indexed {
        put(store, item(&format!("{p}{pk}"), sk).with_gsi1(&g, gsk), Condition::Always).await;
    }
    put(store, item(&format!("{p}u1"), "plain"), Condition::Always).await;
    put(store, item(&format!("{p}u2"), "elsewhere").with_gsi1(&other_g, "2024-01"), Condition::Always).await;

    let order = ["2023-12", "2024-01", "2024-02", "2024-03"];
    let got = query_all(store, Query::new(&g, SkRange::All).on_gsi1()).await;
    let gsks: Vec<&str> = got.iter().filter_map(|i| i.gsi1.as_ref().map(|(_, s)| s.as_str())).collect();
    assert_eq!(gsks, order, "GSI1 order or membership");
    assert_eq!(
        keys(&got),
        [("u1", "z"), ("u2", "y"), ("u3", "x"), ("u1", "x")]
            .map(|(pk, sk)| (format!("{p}{pk}"), sk.to_string())),
    );
    let expected_first = Item { version: 1, ..item(&format!("{p}u1"), "z").with_gsi1(&g, "2023-12") };
    assert_eq!(got[0], expected_first, "GSI1 queries return whole items");

    let back = query_all(store, Query::new(&g, SkRange::All).on_gsi1().backward()).await;
    assert_eq!(keys(&back), keys(&got).into_iter().rev().collect::<Vec<_>>());
    let range_sks = |items: &[Item]| -> Vec<String> {
        items.iter().filter_map(|i| i.gsi1.as_ref().map(|(_, s)| s.clone())).collect()
    };
    let prefix = query_all(store, Query::new(&g, SkRange::Prefix("2024-0".into())).on_gsi1()).await;
    assert_eq!(range_sks(&prefix), ["2024-01", "2024-02", "2024-03"]);
    let between = Query::new(&g, SkRange::Between("2024-01".into(), "2024-02".into())).on_gsi1();
    assert_eq!(range_sks(&query_all(store, between.backward()).await), ["2024-02", "2024-01"]);
    let other = query_all(store, Query::new(&other_g, SkRange::All).on_gsi1()).await;
    assert_eq!(keys(&other), [(format!("{p}u2"), "elsewhere".to_string())]);
    // The index doesn't answer primary-key queries and vice versa.
    assert!(query_all(store, Query::new(&g, SkRange::All)).await.is_empty());
    assert!(query_all(store, Query::new(format!("{p}u1"), SkRange::All).on_gsi1()).await.is_empty());
}

pub async fn gsi1_paging(store: &dyn Store) {
    let p = unique_prefix("gsi1-paging");
    let g = format!("{p}g");
    // 23 items over 3 partitions; pairs share a GSI1 sort key (ties).
    let items: Vec<Item> = (0..23)
        .map(|i| item(&format!("{p}u{}", i % 3), &format!("s{i:02}")).with_gsi1(&g, format!("t{:02}", i / 2)))
        .collect();
    put_all(store, items.clone()).await;
    let all: BTreeSet<(String, String)> = keys(&items).into_iter().collect();
    for forward in [true, false] {
        let mut q = Query::new(&g, SkRange::All).on_gsi1().limit(5);
        q.forward = forward;
        let (got, sizes) = page_sizes(store, q).await;
        assert_full_pages(&sizes, 23, 5, &format!("GSI1 forward={forward}"));
        let got_keys: BTreeSet<(String, String)> = keys(&got).into_iter().collect();
        assert_eq!(got.len(), 23, "forward={forward}: duplicates or missing items");
        assert_eq!(got_keys, all, "forward={forward}: not every item");
        let gsks: Vec<&str> = got.iter().filter_map(|i| i.gsi1.as_ref().map(|(_, s)| s.as_str())).collect();
        let mut sorted = gsks.clone();
        sorted.sort_unstable();
        if !forward {
            sorted.reverse();
        }
        assert_eq!(gsks, sorted, "forward={forward}: not in GSI1 sort-key order");
    }
}

pub async fn gsi1_follows_updates(store: &dyn Store) {
    let p = unique_prefix("gsi1-updates");
    let (g1, g2) = (format!("{p}g1"), format!("{p}g2"));
    let in_index = |g: String| Query::new(g, SkRange::All).on_gsi1();
    let sks_of = |items: Vec<Item>| -> Vec<String> { items.into_iter().map(|i| i.sk).collect() };
    put(store, item(&p, "other").with_gsi1(&g1, "k5"), Condition::Always).await;
    put(store, item(&p, "x").with_gsi1(&g1, "k9"), Condition::Always).await;
    assert_eq!(sks_of(query_all(store, in_index(g1.clone())).await), ["other", "x"]);

    put(store, item(&p, "x").with_gsi1(&g1, "k1"), Condition::Always).await;
    assert_eq!(sks_of(query_all(store, in_index(g1.clone())).await), ["x", "other"], "new GSI1 sort key");

    put(store, item(&p, "x").with_gsi1(&g2, "k1"), Condition::Always).await;
    assert_eq!(sks_of(query_all(store, in_index(g1.clone())).await), ["other"], "moved out of g1");
    assert_eq!(sks_of(query_all(store, in_index(g2.clone())).await), ["x"], "moved into g2");

    // add() keeps the index key and the index shows the new data.
    add(store, &p, "x", &[("n", 3)], None).await;
    let page = query_all(store, in_index(g2.clone())).await;
    assert_eq!(page.first().and_then(|i| i.int("n")), Some(3));

    put(store, item(&p, "x"), Condition::Always).await;
    assert!(query_all(store, in_index(g2.clone())).await.is_empty(), "gsi1 removed but still indexed");

    let write = Write::Put { item: item(&p, "x").with_gsi1(&g2, "k"), condition: Condition::Exists };
    transact(store, vec![write]).await;
    assert_eq!(sks_of(query_all(store, in_index(g2.clone())).await), ["x"], "transact put indexes");
    store.delete(&p, "x", Condition::Always).await.expect("delete");
    assert!(query_all(store, in_index(g2)).await.is_empty(), "deleted but still indexed");
}

// ---------------------------------------------------------------------------------------
// add()

pub async fn add_creates_and_increments(store: &dyn Store) {
    let p = unique_prefix("add");
    let created = add(store, &p, "new", &[("a", 1), ("b", -3)], None).await;
    let expected = Item { version: 1, ..Item::new(&p, "new", obj(json!({ "a": 1, "b": -3 }))) };
    assert_eq!(created, expected, "add on a missing item");
    assert_eq!(get(store, &p, "new").await, Some(created));

    let existing = Item::new(&p, "old", obj(json!({ "a": 10, "name": "x", "zero": 0 })))
        .with_gsi1(format!("{p}g"), "s")
        .expiring_at(FUTURE);
    put(store, existing.clone(), Condition::Always).await;
    let after = add(store, &p, "old", &[("a", 5), ("c", 2), ("zero", -1)], None).await;
    let data = obj(json!({ "a": 15, "c": 2, "name": "x", "zero": -1 }));
    assert_eq!(
        after,
        Item { data, version: 2, ..existing.clone() },
        "add keeps gsi1, expiry and other fields"
    );
    assert_eq!(get(store, &p, "old").await, Some(after));

    let later = add(store, &p, "old", &[("a", 1)], Some(FUTURE + 60)).await;
    assert_eq!((later.int("a"), later.expires_at, later.version), (Some(16), Some(FUTURE + 60), 3));
    assert_eq!(get(store, &p, "old").await, Some(later));

    let expiring = add(store, &p, "expiring", &[("hits", 1)], Some(FUTURE)).await;
    assert_eq!((expiring.int("hits"), expiring.expires_at), (Some(1), Some(FUTURE)));
}

pub async fn add_rejects_non_integer_fields(store: &dyn Store) {
    let p = unique_prefix("add-invalid");
    let original = Item::new(&p, "a", obj(json!({ "s": "text", "n": 1 })));
    put(store, original.clone(), Condition::Always).await;
    assert_invalid(store.add(&p, "a", &[("s", 1)], None).await, "add to a string field");
    assert_invalid(store.add(&p, "a", &[("n", 1), ("s", 1)], None).await, "add with one bad field");
    assert_eq!(
        get(store, &p, "a").await,
        Some(Item { version: 1, ..original }),
        "a failed add changed the item"
    );
}

pub async fn add_is_atomic_under_concurrency(store: &dyn Store) {
    let p = unique_prefix("add-concurrent");
    let adds = (0..50).map(|_| store.add(&p, "counter", &[("n", 1), ("m", 2)], None));
    let results = join_all(adds).await;
    let mut seen: Vec<i64> = results
        .into_iter()
        .map(|r| match r {
            Ok(item) => item.int("n").unwrap_or(-1),
            Err(e) => panic!("concurrent add failed: {e:?}"),
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=50).collect::<Vec<i64>>(), "each add must see the one before it");
    let last = get(store, &p, "counter").await.expect("the counter exists");
    assert_eq!((last.int("n"), last.int("m"), last.version), (Some(50), Some(100), 50));
}

// ---------------------------------------------------------------------------------------
// transact()

pub async fn transact_applies_all(store: &dyn Store) {
    let p = unique_prefix("transact");
    put(store, item(&p, "b"), Condition::Always).await;
    put(store, item(&p, "c"), Condition::Always).await;
    put(store, item(&p, "d"), Condition::Always).await;
    let replaced = Item::new(&p, "b", obj(json!({ "v": 2 }))).with_gsi1(format!("{p}g"), "b");
    let writes = vec![
        Write::Put { item: item(&p, "a"), condition: Condition::NotExists },
        Write::Put { item: replaced.clone(), condition: Condition::Version(1) },
        Write::Delete { pk: p.clone(), sk: "c".into(), condition: Condition::Exists },
        Write::Check { pk: p.clone(), sk: "d".into(), condition: Condition::Version(1) },
        Write::Check { pk: p.clone(), sk: "e".into(), condition: Condition::NotExists },
        Write::Delete { pk: p.clone(), sk: "f".into(), condition: Condition::Always },
    ];
    transact(store, writes).await;
    assert_eq!(get(store, &p, "a").await, Some(Item { version: 1, ..item(&p, "a") }));
    assert_eq!(get(store, &p, "b").await, Some(Item { version: 2, ..replaced }));
    assert_eq!(get(store, &p, "c").await, None);
    assert_eq!(get(store, &p, "d").await.map(|i| i.version), Some(1), "a Check wrote");
    assert_eq!(get(store, &p, "e").await, None, "a Check wrote");
    let all = query_all(store, Query::new(&p, SkRange::All)).await;
    assert_eq!(sks(&all), ["a", "b", "d"]);
}

pub async fn transact_is_all_or_nothing(store: &dyn Store) {
    let p = unique_prefix("transact-atomic");
    put(store, item(&p, "existing"), Condition::Always).await;
    let before = query_all(store, Query::new(&p, SkRange::All)).await;
    let new = |sk: &str| Write::Put { item: item(&p, sk), condition: Condition::NotExists };
    let failing: Vec<(&str, Write)> = vec![
        ("check", Write::Check { pk: p.clone(), sk: "missing".into(), condition: Condition::Exists }),
        ("put", Write::Put { item: item(&p, "existing"), condition: Condition::NotExists }),
        ("put-version", Write::Put { item: item(&p, "existing"), condition: Condition::Version(7) }),
        ("delete", Write::Delete { pk: p.clone(), sk: "existing".into(), condition: Condition::Version(2) }),
    ];
    for (name, bad) in failing {
        for position in 0..3 {
            let mut writes = vec![new("n1"), new("n2")];
            writes.push(Write::Delete { pk: p.clone(), sk: "other".into(), condition: Condition::Always });
            writes[position] = bad.clone();
            writes.push(new("n3"));
            let result = store.transact(writes).await;
            assert_condition_failed(result, &format!("a failing {name} at {position}"));
            let after = query_all(store, Query::new(&p, SkRange::All)).await;
            assert_eq!(after, before, "a failing {name} at {position} still wrote");
        }
    }
}

pub async fn transact_limits(store: &dyn Store) {
    let p = unique_prefix("transact-limits");
    let writes = |n: usize| -> Vec<Write> {
        (0..n)
            .map(|i| Write::Put { item: item(&p, &format!("{i:02}")), condition: Condition::Always })
            .collect()
    };
    let result = store.transact(writes(MAX_TRANSACTION_WRITES + 1)).await;
    assert_invalid(result, "more than MAX_TRANSACTION_WRITES");
    assert!(
        query_all(store, Query::new(&p, SkRange::All)).await.is_empty(),
        "an oversized transaction wrote"
    );
    transact(store, writes(MAX_TRANSACTION_WRITES)).await;
    assert_eq!(query_all(store, Query::new(&p, SkRange::All)).await.len(), MAX_TRANSACTION_WRITES);

    let put_w = |sk: &str| Write::Put { item: item(&p, sk), condition: Condition::Always };
    let delete_w = |sk: &str| Write::Delete { pk: p.clone(), sk: sk.into(), condition: Condition::Always };
    let check_w = |sk: &str| Write::Check { pk: p.clone(), sk: sk.into(), condition: Condition::Always };
    let duplicates = [
        vec![put_w("new"), put_w("new")],
        vec![put_w("new"), delete_w("new")],
        vec![check_w("00"), put_w("00"), put_w("new")],
        vec![put_w("new"), delete_w("01"), check_w("01")],
    ];
    for writes in duplicates {
        let result = store.transact(writes.clone()).await;
        assert_invalid(result, &format!("two writes on one key: {writes:?}"));
        assert_eq!(get(store, &p, "new").await, None, "a transaction with duplicate keys wrote");
        assert!(get(store, &p, "01").await.is_some(), "a transaction with duplicate keys deleted");
    }
}

pub async fn concurrent_creates_are_exclusive(store: &dyn Store) {
    let p = unique_prefix("exclusive");
    let creates = (0..20).map(|i| {
        let item = Item::new(&p, "once", obj(json!({ "writer": i })));
        store.put(item, Condition::NotExists)
    });
    let results = join_all(creates).await;
    let winners = exclusive_winners(results, "concurrent NotExists puts");
    let stored = get(store, &p, "once").await.expect("the winner's item");
    assert_eq!(stored.int("writer"), Some(winners[0] as i64), "the item isn't the winner's");

    let updates = (0..20).map(|i| {
        let item = Item::new(&p, "once", obj(json!({ "writer": 100 + i })));
        store.put(item, Condition::Version(1))
    });
    let results = join_all(updates).await;
    let winners = exclusive_winners(results, "concurrent Version(1) puts");
    let stored = get(store, &p, "once").await.expect("the winner's item");
    assert_eq!((stored.int("writer"), stored.version), (Some(100 + winners[0] as i64), 2));
}

// ---------------------------------------------------------------------------------------
// Whole-store scans and restores (the data tool)

/// Every item of a scan in pages of `limit`, checking no page is over it.
async fn scan_all(store: &dyn Store, limit: u32) -> Vec<Item> {
    let mut cursor = None;
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let page = match store.scan(cursor.clone(), limit).await {
            Ok(page) => page,
            Err(e) => panic!("scan after {cursor:?} failed: {e:?}"),
        };
        assert!(page.items.len() <= limit as usize, "a scan page of {} items", page.items.len());
        out.extend(page.items);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
    panic!("a scan still returning cursors after 100000 pages");
}

pub async fn scan_yields_every_live_item_once(store: &dyn Store) {
    let p = unique_prefix("scan");
    let mut items: Vec<Item> = (0..23).map(|i| item(&p, &format!("{i:02}"))).collect();
    items[0] = items[0].clone().with_gsi1(format!("{p}g"), "x").expiring_at(FUTURE);
    put_all(store, items).await;
    put(store, item(&p, "01"), Condition::Always).await;
    put(store, item(&p, "gone").expiring_at(PAST), Condition::Always).await;

    let mut scanned: Vec<Item> = scan_all(store, 7).await.into_iter().filter(|i| i.pk == p).collect();
    scanned.sort_by(|a, b| a.sk.cmp(&b.sk));
    let mut expected = Vec::new();
    for i in 0..23 {
        expected.push(get(store, &p, &format!("{i:02}")).await.expect("written"));
    }
    assert_eq!(scanned, expected, "each live item once, exactly as stored (gsi1, expiry, version)");
    assert_eq!(scanned[1].version, 2);
}

pub async fn scan_bad_cursor(store: &dyn Store) {
    for cursor in ["not a cursor!", "", "e30"] {
        match store.scan(Some(cursor.into()), 5).await {
            Err(StoreError::BadCursor) => {}
            other => panic!("scan after {cursor:?}: expected BadCursor, got {other:?}"),
        }
    }
}

async fn restore(store: &dyn Store, item: Item) -> bool {
    let key = (item.pk.clone(), item.sk.clone());
    match store.restore(item).await {
        Ok(written) => written,
        Err(e) => panic!("restore {key:?} failed: {e:?}"),
    }
}

pub async fn restore_keeps_versions_and_skips_live_items(store: &dyn Store) {
    let p = unique_prefix("restore");
    let mut full = Item::new(&p, "full", obj(json!({ "n": 1, "s": "x", "l": [1, null] })))
        .with_gsi1(format!("{p}g"), "k")
        .expiring_at(FUTURE);
    full.version = 7;
    assert!(restore(store, full.clone()).await, "an absent item is written");
    assert_eq!(get(store, &p, "full").await, Some(full.clone()), "exactly, version included");
    let other = Item { data: obj(json!({ "n": 2 })), version: 9, ..full.clone() };
    assert!(!restore(store, other).await, "a live item is left alone");
    assert_eq!(get(store, &p, "full").await, Some(full.clone()));
    let on_gsi1 = query_all(store, Query::new(format!("{p}g"), SkRange::All).on_gsi1()).await;
    assert_eq!(on_gsi1, vec![full.clone()], "the index finds it");
    assert_eq!(put(store, full.clone(), Condition::Version(7)).await, 8, "versions go on from it");

    put(store, item(&p, "old").expiring_at(PAST), Condition::Always).await;
    let fresh = Item { version: 3, ..Item::new(&p, "old", Map::new()) };
    assert!(restore(store, fresh.clone()).await, "an expired item counts as absent");
    assert_eq!(get(store, &p, "old").await, Some(fresh));

    assert_invalid(store.restore(item(&p, "v0")).await, "restore without a version");
    let empty = Item { version: 1, ..item(&p, "") };
    assert_invalid(store.restore(empty).await, "restore with an empty sort key");
}

// ---------------------------------------------------------------------------------------
// Blobs

/// [`BlobStore::list`]: pages of keys by string prefix, each key once, bad arguments
/// refused. Writes only under its own prefix.
pub async fn blob_listing(blobs: &dyn BlobStore) {
    let p = unique_prefix("list");
    let names = ["a", "a-b", "a.b", "b/c", "b/c-d/e", "b0", "z"];
    let keys: Vec<String> = names.iter().map(|name| format!("{p}{name}")).collect();
    for key in &keys {
        let put = blobs.put(key, "text/plain", bytes::Bytes::from(key.clone())).await;
        put.unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }
    let list_all = |prefix: String| async move {
        let (mut cursor, mut out) = (None, Vec::new());
        for _ in 0..100 {
            let page = blobs.list(&prefix, cursor, 2).await.unwrap_or_else(|e| panic!("list: {e:?}"));
            assert!(page.keys.len() <= 2, "a page of {} keys", page.keys.len());
            out.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return out,
            }
        }
        panic!("list {prefix:?} still returning cursors after 100 pages");
    };
    let sorted = |mut keys: Vec<String>| {
        keys.sort();
        keys
    };
    assert_eq!(sorted(list_all(p.clone()).await), keys, "every key once");
    let under_b = sorted(list_all(format!("{p}b")).await);
    assert_eq!(under_b, keys[3..6].to_vec(), "the prefix matches as a string");
    assert!(list_all(format!("{p}nothing")).await.is_empty());
    for (prefix, cursor) in [("../x", None), (p.as_str(), Some("a//b".to_string()))] {
        match blobs.list(prefix, cursor.clone(), 2).await {
            Err(BlobError::InvalidKey(_)) => {}
            other => panic!("list {prefix:?} after {cursor:?}: expected InvalidKey, got {other:?}"),
        }
    }
}

/// Indexes of the Ok results; asserts there is exactly one and the rest failed their
/// condition.
fn exclusive_winners(results: Vec<Result<u64, StoreError>>, what: &str) -> Vec<usize> {
    let mut winners = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(_) => winners.push(i),
            Err(StoreError::ConditionFailed) => {}
            Err(e) => panic!("{what}: unexpected error {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{what}: {} succeeded, exactly one should", winners.len());
    winners
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_unique() {
        let a = unique_prefix("x");
        let b = unique_prefix("x");
        assert_ne!(a, b);
        assert!(a.starts_with("conformance/x/"));
    }

    #[test]
    fn full_pages() {
        assert_full_pages(&[10, 10, 7], 27, 10, "");
        assert_full_pages(&[10, 10], 20, 10, "");
        assert_full_pages(&[10, 10, 0], 20, 10, "");
        assert!(std::panic::catch_unwind(|| assert_full_pages(&[10, 9, 1], 20, 10, "")).is_err());
    }
}
