//! Checks of a DynamoDB store adapter beyond the conformance suite, shared by
//! `DynamoStore`'s tests and confab-aws-http's `DynamoHttpStore` tests: each works
//! through the port, and reads raw attributes through the SDK where the port can't see.

use super::chaos::{Answer, ChaosProxy};
use crate::DynamoStore;
use crate::sdk::dynamodb::types::AttributeValue;
use confab_core::ports::store::{Condition, Item, Query, SkRange, Store, StoreError, Write};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// A fresh table made by `DynamoStore::create_table`.
pub async fn fresh_table() -> DynamoStore {
    let store = DynamoStore::new(super::clients().await.dynamodb, super::unique_name("table"));
    store.create_table().await.expect("create the table");
    store
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn n(value: &str) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// `store` writes items laid out as the README says, read raw through `sdk`'s table.
pub async fn items_are_stored_as_the_readme_says(sdk: &DynamoStore, store: &dyn Store) {
    let data =
        object(json!({ "pk": "data, not the key", "v": "data, not the version", "n": 7, "list": [1, null] }));
    let item = Item::new("USER#1", "USER", data).with_gsi1("USERS", "1").expiring_at(4_102_444_800);
    store.put(item, Condition::NotExists).await.expect("put");
    let raw_get =
        || sdk.client().get_item().table_name(sdk.table()).key("pk", s("USER#1")).key("sk", s("USER")).send();
    let raw = raw_get().await.expect("raw get").item().expect("the item").clone();
    let expected_data = HashMap::from([
        ("pk".to_string(), s("data, not the key")),
        ("v".to_string(), s("data, not the version")),
        ("n".to_string(), n("7")),
        ("list".to_string(), AttributeValue::L(vec![n("1"), AttributeValue::Null(true)])),
    ]);
    let expected = HashMap::from([
        ("pk".to_string(), s("USER#1")),
        ("sk".to_string(), s("USER")),
        ("gsi1pk".to_string(), s("USERS")),
        ("gsi1sk".to_string(), s("1")),
        ("d".to_string(), AttributeValue::M(expected_data)),
        ("expires_at".to_string(), n("4102444800")),
        ("v".to_string(), n("1")),
    ]);
    assert_eq!(raw, expected);

    // Replacing the item without gsi1 and expiry removes those attributes.
    store.put(Item::new("USER#1", "USER", Map::new()), Condition::Version(1)).await.expect("put");
    let raw = raw_get().await.expect("raw get");
    let mut names: Vec<&str> = raw.item().expect("the item").keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["d", "pk", "sk", "v"]);
}

pub async fn add_refuses_to_overflow_and_repeated_fields(store: &dyn Store) {
    let data = object(json!({ "hi": i64::MAX - 1, "lo": i64::MIN + 1, "f": 1.5, "list": [] }));
    store.put(Item::new("p", "counter", data), Condition::Always).await.expect("put");
    let after = store.add("p", "counter", &[("hi", 1), ("lo", -1)], None).await.expect("add to the limits");
    assert_eq!((after.int("hi"), after.int("lo")), (Some(i64::MAX), Some(i64::MIN)));
    for deltas in [&[("hi", 1)][..], &[("lo", -1)], &[("hi", i64::MIN), ("lo", i64::MIN)], &[("list", 0)]] {
        let result = store.add("p", "counter", deltas, None).await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "add {deltas:?}: {result:?}");
    }
    let unchanged = store.get("p", "counter").await.expect("get").expect("the item");
    assert_eq!(
        (unchanged.int("hi"), unchanged.int("lo"), unchanged.version),
        (Some(i64::MAX), Some(i64::MIN), 2)
    );
    let twice = store.add("p", "counter", &[("x", 1), ("x", 2)], None).await;
    assert!(matches!(twice, Err(StoreError::Invalid(_))), "a field named twice: {twice:?}");
    // Going down from the top is fine, including by i64::MIN from 0 or more.
    let after = store.add("p", "counter", &[("hi", i64::MIN)], None).await.expect("add i64::MIN");
    assert_eq!(after.int("hi"), Some(-1));
}

pub async fn pages_are_refilled_past_expired_items(store: &dyn Store) {
    // Every other item has expired: DynamoDB's Limit counts them before the filter.
    for i in 0..10 {
        let mut item = Item::new("p", format!("{i:02}"), Map::new());
        if i % 2 == 0 {
            item = item.expiring_at(946_684_800);
        }
        store.put(item, Condition::Always).await.expect("put");
    }
    let query = Query::new("p", SkRange::All).limit(3);
    let first = store.query(query.clone()).await.expect("first page");
    let sks: Vec<&str> = first.items.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(sks, ["01", "03", "05"]);
    let second = store.query(query.after(first.cursor)).await.expect("second page");
    let sks: Vec<&str> = second.items.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(sks, ["07", "09"]);
    assert_eq!(second.cursor, None);
}

pub async fn cursors_belong_to_their_query(store: &dyn Store) {
    for sk in ["a1", "a2", "b1", "b2"] {
        store.put(Item::new("p", sk, Map::new()).with_gsi1("g", sk), Condition::Always).await.expect("put");
    }
    let page = store.query(Query::new("p", SkRange::Prefix("a".into())).limit(1)).await.expect("query");
    let cursor = page.cursor.expect("a cursor");
    for query in [
        Query::new("p", SkRange::Prefix("b".into())),
        Query::new("p", SkRange::Between("b".into(), "c".into())),
        Query::new("q", SkRange::All),
        Query::new("g", SkRange::All).on_gsi1(),
    ] {
        let result = store.query(query.clone().after(Some(cursor.clone()))).await;
        assert!(matches!(result, Err(StoreError::BadCursor)), "{query:?}: {result:?}");
    }
    let rest = store.query(Query::new("p", SkRange::All).after(Some(cursor))).await.expect("same partition");
    let sks: Vec<&str> = rest.items.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(sks, ["a2", "b1", "b2"]);
}

pub async fn an_item_over_400_kb_is_too_large(store: &dyn Store) {
    let big = object(json!({ "text": "x".repeat(410 * 1024) }));
    let result = store.put(Item::new("p", "big", big), Condition::Always).await;
    assert!(matches!(result, Err(StoreError::TooLarge(_))), "an item over 400 KB: {result:?}");
}

/// `store` is on a table that doesn't exist.
pub async fn a_missing_table_is_unavailable(store: &dyn Store) {
    let result = store.get("p", "s").await;
    assert!(
        matches!(&result, Err(StoreError::Unavailable(m)) if m.contains("ResourceNotFoundException")),
        "{result:?}"
    );
    let result = store.put(Item::new("p", "s", Map::new()), Condition::Always).await;
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");
}

/// The outcome of each of the store's operations, once.
async fn every_operation(store: &dyn Store) -> Vec<Result<(), StoreError>> {
    let write = Write::Put { item: Item::new("p", "t", Map::new()), condition: Condition::Always };
    vec![
        store.get("p", "s").await.map(|_| ()),
        store.put(Item::new("p", "s", Map::new()), Condition::Always).await.map(|_| ()),
        store.query(Query::new("p", SkRange::All)).await.map(|_| ()),
        store.add("p", "s", &[("n", 1)], None).await.map(|_| ()),
        store.delete("p", "s", Condition::Always).await,
        store.transact(vec![write]).await,
    ]
}

/// `store` points where nothing listens; its errors say so with `says`.
pub async fn an_unreachable_endpoint_is_unavailable(store: &dyn Store, says: &str) {
    for result in every_operation(store).await {
        assert!(matches!(&result, Err(StoreError::Unavailable(m)) if m.contains(says)), "{result:?}");
    }
}

/// What DynamoDB answers when it is overloaded or failing: code and status.
pub const OVERLOADED: [(&str, u16); 5] = [
    ("ProvisionedThroughputExceededException", 400),
    ("ThrottlingException", 400),
    ("RequestLimitExceeded", 400),
    ("InternalServerError", 500),
    ("ServiceUnavailable", 503),
];

/// `store` reaches DynamoDB through `chaos`: each of DynamoDB's overload errors, on
/// every operation, is `Unavailable` (a 503 with `Retry-After`), after `tries` requests
/// (the SDK retries throttling on its own); once healed, the store works again.
pub async fn overload_is_unavailable(store: &dyn Store, chaos: &ChaosProxy, tries: usize) {
    for (code, status) in OVERLOADED {
        chaos.answer("DynamoDB_20120810.GetItem", Answer::dynamo(code, status));
        let result = store.get("p", "s").await;
        assert!(matches!(&result, Err(StoreError::Unavailable(m)) if m.contains(code)), "{code}: {result:?}");
        assert_eq!(chaos.answered(), tries, "{code}: the requests for one get");
    }
    chaos.answer("DynamoDB_20120810.", Answer::dynamo_throttled());
    for result in every_operation(store).await {
        assert!(matches!(&result, Err(StoreError::Unavailable(_))), "{result:?}");
    }
    chaos.heal();
    store.put(Item::new("p", "s", Map::new()), Condition::Always).await.expect("a put once healed");
}

/// `store` reaches DynamoDB through `chaos`, which never answers: `Unavailable` once the
/// store's time limit passes.
pub async fn a_stalled_dynamo_is_unavailable(store: &dyn Store, chaos: &ChaosProxy) {
    chaos.answer("DynamoDB_20120810.GetItem", Answer::Stall);
    let result = store.get("p", "s").await;
    assert!(matches!(&result, Err(StoreError::Unavailable(_))), "{result:?}");
    chaos.heal();
}
