//! confab-aws (on the SDK) and confab-aws-http on the same table and bucket: each reads
//! what the other wrote, exactly; cursors continue across them; presigned URLs match.

use crate::common;

use bytes::Bytes;
use confab_aws::sdk::s3::presigning::PresigningConfig;
use confab_aws_http::S3HttpBlobs;
use confab_core::ports::blob::{BlobStore, content_disposition};
use confab_core::ports::store::{Condition, Item, Query, SkRange, Store, StoreError, Write};
use confab_core::testing::ManualClock;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2000-01-01: long expired.
const PAST: i64 = 946_684_800;
/// 2100-01-01: far in the future.
const FUTURE: i64 = 4_102_444_800;

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Data with every JSON type, nesting, and field names that are the adapters' own.
fn rich_data(n: i64) -> Map<String, Value> {
    obj(json!({
        "pk": "data, not the key", "v": "data, not the version", "d": { "nested": [1, null, { "x": true }] },
        "n": n, "max": i64::MAX, "min": i64::MIN, "u": u64::MAX, "f": -2.5, "e": "", "null": null, "l": [],
    }))
}

fn stores<'a>(sdk: &'a dyn Store, http: &'a dyn Store) -> [(&'static str, &'a dyn Store, &'a dyn Store); 2] {
    [("sdk to http", sdk, http), ("http to sdk", http, sdk)]
}

#[tokio::test]
async fn items_read_back_identically_through_the_other_adapter() {
    let (sdk, http) = common::fresh_table().await;
    for (way, writer, reader) in stores(&sdk, &http) {
        let item =
            Item::new(way, "ITEM", rich_data(7)).with_gsi1(format!("G#{way}"), "1").expiring_at(FUTURE);
        let version = writer.put(item.clone(), Condition::NotExists).await.expect("put");
        let read = reader.get(way, "ITEM").await.expect("get").expect("the item");
        assert_eq!(read, Item { version, ..item.clone() }, "{way}");
        assert_eq!(writer.get(way, "ITEM").await.expect("get"), Some(read.clone()), "{way}");

        // A version read through one adapter conditions a write through the other, which
        // continues the count and drops the index key and the expiry.
        let plain = Item::new(way, "ITEM", rich_data(8));
        let next = reader.put(plain.clone(), Condition::Version(version)).await.expect("put on version");
        assert_eq!(next, version + 1, "{way}");
        assert_eq!(
            writer.get(way, "ITEM").await.expect("get"),
            Some(Item { version: next, ..plain }),
            "{way}"
        );
        let stale = writer.put(item.clone(), Condition::Version(version)).await;
        assert!(matches!(stale, Err(StoreError::ConditionFailed)), "{way}: {stale:?}");

        let query = Query::new(format!("G#{way}"), SkRange::All).on_gsi1();
        assert_eq!(reader.query(query.clone()).await.expect("query").items, [], "{way}: gsi1 key removed");
        reader.delete(way, "ITEM", Condition::Exists).await.expect("delete");
        assert_eq!(writer.get(way, "ITEM").await.expect("get"), None, "{way}");
    }
}

#[tokio::test]
async fn expired_items_are_absent_through_both() {
    let (sdk, http) = common::fresh_table().await;
    for (way, writer, reader) in stores(&sdk, &http) {
        let expired =
            Item::new(way, "OLD", rich_data(1)).with_gsi1(format!("G#{way}"), "old").expiring_at(PAST);
        writer.put(expired, Condition::Always).await.expect("put expired");
        let live =
            Item::new(way, "NEW", rich_data(2)).with_gsi1(format!("G#{way}"), "new").expiring_at(FUTURE);
        writer.put(live, Condition::NotExists).await.expect("put live");
        for store in [writer, reader] {
            assert_eq!(store.get(way, "OLD").await.expect("get"), None, "{way}");
            let page = store.query(Query::new(way, SkRange::All)).await.expect("query");
            assert_eq!(keys(&page.items), [(way.to_string(), "NEW".to_string())], "{way}");
            let page =
                store.query(Query::new(format!("G#{way}"), SkRange::All).on_gsi1()).await.expect("query");
            assert_eq!(keys(&page.items), [(way.to_string(), "NEW".to_string())], "{way} on gsi1");
        }
        // The expired item is absent for conditions, and `add` starts it afresh.
        reader.put(Item::new(way, "OLD", Map::new()), Condition::NotExists).await.expect("put over expired");
        writer
            .put(Item::new(way, "OLD", rich_data(1)).expiring_at(PAST), Condition::Always)
            .await
            .expect("put");
        let added = reader.add(way, "OLD", &[("n", 5)], Some(FUTURE)).await.expect("add over expired");
        assert_eq!((added.data, added.expires_at), (obj(json!({ "n": 5 })), Some(FUTURE)), "{way}");
    }
}

#[tokio::test]
async fn counters_add_up_across_adapters() {
    let (sdk, http) = common::fresh_table().await;
    let mut expected = 0;
    for round in 0..6_i64 {
        let store: &dyn Store = if round % 2 == 0 { &sdk } else { &http };
        let item =
            store.add("COUNTER", "C", &[("count", round), ("rounds", 1)], Some(FUTURE)).await.expect("add");
        expected += round;
        assert_eq!((item.int("count"), item.int("rounds")), (Some(expected), Some(round + 1)));
        assert_eq!(item.version, round as u64 + 1);
    }
    let read = http.get("COUNTER", "C").await.expect("get");
    assert_eq!(read, sdk.get("COUNTER", "C").await.expect("get"));
    let overflow = http.add("COUNTER", "C", &[("count", i64::MAX)], None).await;
    assert!(matches!(overflow, Err(StoreError::Invalid(_))), "{overflow:?}");
    sdk.put(Item::new("COUNTER", "S", obj(json!({ "count": "x" }))), Condition::Always).await.expect("put");
    let not_a_number = http.add("COUNTER", "S", &[("count", 1)], None).await;
    assert!(matches!(not_a_number, Err(StoreError::Invalid(_))), "{not_a_number:?}");
}

#[tokio::test]
async fn transactions_see_the_other_adapters_writes() {
    let (sdk, http) = common::fresh_table().await;
    for (way, writer, reader) in stores(&sdk, &http) {
        let version = writer.put(Item::new(way, "A", rich_data(1)), Condition::NotExists).await.expect("put");
        let writes = |version| {
            vec![
                Write::Check { pk: way.into(), sk: "A".into(), condition: Condition::Version(version) },
                Write::Put { item: Item::new(way, "B", rich_data(2)), condition: Condition::NotExists },
            ]
        };
        let stale = reader.transact(writes(version + 1)).await;
        assert!(matches!(stale, Err(StoreError::ConditionFailed)), "{way}: {stale:?}");
        assert_eq!(writer.get(way, "B").await.expect("get"), None, "{way}");
        reader.transact(writes(version)).await.expect("transact");
        assert_eq!(writer.get(way, "B").await.expect("get").map(|i| i.data), Some(rich_data(2)), "{way}");
    }
}

fn keys(items: &[Item]) -> Vec<(String, String)> {
    items.iter().map(|i| (i.pk.clone(), i.sk.clone())).collect()
}

/// Pages of `query`, alternating between the adapters; each page, cursor included, is
/// the same from both.
async fn alternating_pages(sdk: &dyn Store, http: &dyn Store, query: Query) -> Vec<Item> {
    let (mut items, mut cursor, mut turn) = (Vec::new(), None, 0);
    loop {
        let query = query.clone().after(cursor);
        let (this, other) = if turn % 2 == 0 { (sdk, http) } else { (http, sdk) };
        let page = this.query(query.clone()).await.expect("query");
        let same = other.query(query).await.expect("query");
        assert_eq!((&page.items, &page.cursor), (&same.items, &same.cursor), "both adapters' page {turn}");
        items.extend(page.items);
        cursor = page.cursor;
        turn += 1;
        if cursor.is_none() {
            return items;
        }
    }
}

#[tokio::test]
async fn cursors_continue_on_the_other_adapter() {
    let (sdk, http) = common::fresh_table().await;
    for i in 0..11 {
        let store: &dyn Store = if i % 2 == 0 { &sdk } else { &http };
        let item =
            Item::new("P", format!("MSG#{i:02}"), rich_data(i)).with_gsi1("G", format!("{:02}", 20 - i));
        store.put(item, Condition::NotExists).await.expect("put");
    }
    for query in [
        Query::new("P", SkRange::All).limit(3),
        Query::new("P", SkRange::Prefix("MSG#0".into())).limit(4).backward(),
        Query::new("P", SkRange::Between("MSG#02".into(), "MSG#09".into())).limit(2),
        Query::new("G", SkRange::All).on_gsi1().limit(3),
        Query::new("G", SkRange::All).on_gsi1().limit(4).backward(),
    ] {
        let paged = alternating_pages(&sdk, &http, query.clone()).await;
        let all = http.query(query.clone().limit(1000)).await.expect("query").items;
        assert_eq!(paged, all, "{query:?}");
    }
}

#[tokio::test]
async fn blobs_written_by_either_are_read_by_the_other() {
    let (sdk, http) = common::fresh_bucket().await;
    let pairs: [(&str, &dyn BlobStore, &dyn BlobStore); 2] = [("sdk", &sdk, &http), ("http", &http, &sdk)];
    for (writer_name, writer, reader) in pairs {
        let key = format!("users/u1/{writer_name}/export=1.json");
        let body = Bytes::from(format!("{{\"by\":\"{writer_name}\"}}\n\u{0}\u{ff}"));
        writer.put(&key, "application/json", body.clone()).await.expect("put");
        assert_eq!(reader.get(&key).await.expect("get"), Some(body.clone()), "{writer_name}");
        let url = reader.download_url(&key, "export.json", Duration::from_secs(60)).await.expect("presign");
        let response = reqwest::get(url.expect("a URL")).await.expect("download");
        assert_eq!(response.bytes().await.expect("body"), body, "{writer_name}");
        reader.delete_prefix(&format!("users/u1/{writer_name}/")).await.expect("delete");
        assert_eq!(writer.get(&key).await.expect("get"), None, "{writer_name}");
    }
}

/// The same signing time gives the SDK's presigned URL, signature and all.
#[tokio::test]
async fn presigned_urls_are_the_sdks() {
    let (sdk, _) = common::fresh_bucket().await;
    let unix = 1_763_800_000;
    let clock = Arc::new(ManualClock::at(unix));
    let http = S3HttpBlobs::new(&common::config(), common::http(), clock, sdk.bucket());
    let (key, expires_in) = ("exports/u1/s=1/e1.md", Duration::from_secs(900));
    let ours = http.download_url(key, "chat notes.md", expires_in).await.expect("presign").expect("a URL");
    let config = PresigningConfig::builder()
        .start_time(UNIX_EPOCH + Duration::from_secs(unix as u64))
        .expires_in(expires_in)
        .build()
        .expect("presigning config");
    let theirs = sdk
        .client()
        .get_object()
        .bucket(sdk.bucket())
        .key(key)
        .response_content_disposition(content_disposition("chat notes.md"))
        .presigned(config)
        .await
        .expect("presign");
    assert!(SystemTime::now() > UNIX_EPOCH + Duration::from_secs(unix as u64));
    assert_eq!(ours, theirs.uri());
}
