//! `DynamoStore` beyond the conformance suite: the table it creates, the attributes it
//! writes, error mapping, and pages over expired items.

use confab_aws::testing as common;

use confab_aws::sdk::dynamodb::types::{AttributeValue, BillingMode, KeyType, ProjectionType};
use confab_aws::{AwsClients, DynamoStore, GSI1, S3Options};
use confab_core::ports::store::{Condition, Item, Query, SkRange, Store, StoreError};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

async fn fresh_store() -> DynamoStore {
    let clients = common::clients().await;
    let store = DynamoStore::new(clients.dynamodb, common::unique_name("table"));
    store.create_table().await.expect("create the table");
    store
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

#[tokio::test]
async fn create_table_makes_the_single_table_layout() {
    let store = fresh_store().await;
    let client = store.client();
    let table = client.describe_table().table_name(store.table()).send().await.expect("describe");
    let table = table.table().expect("table description");
    let keys: Vec<(&str, KeyType)> =
        table.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().clone())).collect();
    assert_eq!(keys, [("pk", KeyType::Hash), ("sk", KeyType::Range)]);
    let billing = table.billing_mode_summary().and_then(|b| b.billing_mode()).cloned();
    assert_eq!(billing, Some(BillingMode::PayPerRequest));
    let [gsi] = table.global_secondary_indexes() else { panic!("expected one GSI") };
    assert_eq!(gsi.index_name(), Some(GSI1));
    let gsi_keys: Vec<(&str, KeyType)> =
        gsi.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().clone())).collect();
    assert_eq!(gsi_keys, [("gsi1pk", KeyType::Hash), ("gsi1sk", KeyType::Range)]);
    assert_eq!(gsi.projection().and_then(|p| p.projection_type()), Some(&ProjectionType::All));

    let ttl = client.describe_time_to_live().table_name(store.table()).send().await.expect("describe ttl");
    let ttl = ttl.time_to_live_description().expect("ttl description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status().map(|s| s.as_str()), Some("ENABLED"));
}

#[tokio::test]
async fn items_are_stored_as_the_readme_says() {
    let store = fresh_store().await;
    let data =
        obj(json!({ "pk": "data, not the key", "v": "data, not the version", "n": 7, "list": [1, null] }));
    let item = Item::new("USER#1", "USER", data).with_gsi1("USERS", "1").expiring_at(4_102_444_800);
    store.put(item.clone(), Condition::NotExists).await.expect("put");

    let raw = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", s("USER#1"))
        .key("sk", s("USER"))
        .send()
        .await
        .expect("raw get");
    let raw = raw.item().expect("the item").clone();
    let expected_data = HashMap::from([
        ("pk".to_string(), s("data, not the key")),
        ("v".to_string(), s("data, not the version")),
        ("n".to_string(), AttributeValue::N("7".into())),
        (
            "list".to_string(),
            AttributeValue::L(vec![AttributeValue::N("1".into()), AttributeValue::Null(true)]),
        ),
    ]);
    let expected = HashMap::from([
        ("pk".to_string(), s("USER#1")),
        ("sk".to_string(), s("USER")),
        ("gsi1pk".to_string(), s("USERS")),
        ("gsi1sk".to_string(), s("1")),
        ("d".to_string(), AttributeValue::M(expected_data)),
        ("expires_at".to_string(), AttributeValue::N("4102444800".into())),
        ("v".to_string(), AttributeValue::N("1".into())),
    ]);
    assert_eq!(raw, expected);

    // Replacing the item without gsi1 and expiry removes those attributes.
    store.put(Item::new("USER#1", "USER", Map::new()), Condition::Version(1)).await.expect("put");
    let raw = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", s("USER#1"))
        .key("sk", s("USER"))
        .send()
        .await
        .expect("raw get");
    let mut names: Vec<&str> = raw.item().expect("the item").keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["d", "pk", "sk", "v"]);
}

#[tokio::test]
async fn add_refuses_to_overflow_and_repeated_fields() {
    let store = fresh_store().await;
    let data = obj(json!({ "hi": i64::MAX - 1, "lo": i64::MIN + 1, "f": 1.5, "list": [] }));
    store.put(Item::new("p", "counter", data.clone()), Condition::Always).await.expect("put");
    let after = store.add("p", "counter", &[("hi", 1), ("lo", -1)], None).await.expect("add to the limits");
    assert_eq!((after.int("hi"), after.int("lo")), (Some(i64::MAX), Some(i64::MIN)));
    for deltas in [&[("hi", 1)][..], &[("lo", -1)], &[("hi", i64::MIN), ("lo", i64::MIN)], &[("list", 0)]] {
        match store.add("p", "counter", deltas, None).await {
            Err(StoreError::Invalid(_)) => {}
            other => panic!("add {deltas:?}: expected Invalid, got {other:?}"),
        }
    }
    let unchanged = store.get("p", "counter").await.expect("get").expect("the item");
    assert_eq!(
        (unchanged.int("hi"), unchanged.int("lo"), unchanged.version),
        (Some(i64::MAX), Some(i64::MIN), 2)
    );
    match store.add("p", "counter", &[("x", 1), ("x", 2)], None).await {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("a field named twice: expected Invalid, got {other:?}"),
    }
    // Going down from the top is fine, including by i64::MIN from 0 or more.
    let after = store.add("p", "counter", &[("hi", i64::MIN)], None).await.expect("add i64::MIN");
    assert_eq!(after.int("hi"), Some(-1));
}

#[tokio::test]
async fn pages_are_refilled_past_expired_items() {
    let store = fresh_store().await;
    // Every other item has expired: DynamoDB's Limit counts them before the filter.
    for i in 0..10 {
        let mut item = Item::new("p", format!("{i:02}"), Map::new());
        if i % 2 == 0 {
            item = item.expiring_at(946_684_800);
        }
        store.put(item, Condition::Always).await.expect("put");
    }
    let mut query = Query::new("p", SkRange::All).limit(3);
    let first = store.query(query.clone()).await.expect("first page");
    let sks: Vec<&str> = first.items.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(sks, ["01", "03", "05"]);
    query.cursor = first.cursor;
    let second = store.query(query).await.expect("second page");
    let sks: Vec<&str> = second.items.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(sks, ["07", "09"]);
    assert_eq!(second.cursor, None);
}

#[tokio::test]
async fn cursors_belong_to_their_query() {
    let store = fresh_store().await;
    for sk in ["a1", "a2", "b1", "b2"] {
        let item = Item::new("p", sk, Map::new()).with_gsi1("g", sk);
        store.put(item, Condition::Always).await.expect("put");
    }
    let page = store.query(Query::new("p", SkRange::Prefix("a".into())).limit(1)).await.expect("query");
    let cursor = page.cursor.expect("a cursor");
    let elsewhere = [
        Query::new("p", SkRange::Prefix("b".into())),
        Query::new("p", SkRange::Between("b".into(), "c".into())),
        Query::new("q", SkRange::All),
        Query::new("g", SkRange::All).on_gsi1(),
    ];
    for query in elsewhere {
        let result = store.query(query.clone().after(Some(cursor.clone()))).await;
        assert!(matches!(result, Err(StoreError::BadCursor)), "{query:?}: {result:?}");
    }
    let rest = store.query(Query::new("p", SkRange::All).after(Some(cursor))).await.expect("same partition");
    let sks: Vec<&str> = rest.items.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(sks, ["a2", "b1", "b2"]);
}

#[tokio::test]
async fn a_missing_table_is_unavailable() {
    let clients = common::clients().await;
    let store = DynamoStore::new(clients.dynamodb, common::unique_name("missing"));
    match store.get("p", "s").await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("ResourceNotFoundException"), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match store.put(Item::new("p", "s", Map::new()), Condition::Always).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let config = common::sdk_config_without_retries(&common::dead_url()).await;
    let clients = AwsClients::from_sdk_config(&config, S3Options::default());
    let store = DynamoStore::new(clients.dynamodb, "table");
    for result in [
        store.get("p", "s").await.map(|_| ()),
        store.put(Item::new("p", "s", Map::new()), Condition::Always).await.map(|_| ()),
        store.query(Query::new("p", SkRange::All)).await.map(|_| ()),
        store.add("p", "s", &[("n", 1)], None).await.map(|_| ()),
        store.delete("p", "s", Condition::Always).await,
    ] {
        match result {
            Err(StoreError::Unavailable(message)) => {
                assert!(message.contains("dispatch failure"), "{message}")
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}
