//! `DynamoStore` beyond the conformance suite: the table it creates, the attributes it
//! writes, error mapping, and pages over expired items (the checks shared with
//! confab-aws-http are in `confab_aws::testing::dynamo`).

use confab_aws::sdk::dynamodb::types::{BillingMode, KeyType, ProjectionType};
use confab_aws::testing::chaos::ChaosProxy;
use confab_aws::testing::dynamo::{self as check, fresh_table};
use confab_aws::testing::{
    clients, dead_url, moto, sdk_config_for, sdk_config_with_timeout, sdk_config_without_retries, unique_name,
};
use confab_aws::{AwsClients, DynamoStore, GSI1, S3Options};
use std::time::Duration;

#[tokio::test]
async fn create_table_makes_the_single_table_layout() {
    let store = fresh_table().await;
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
    let store = fresh_table().await;
    check::items_are_stored_as_the_readme_says(&store, &store).await;
}

#[tokio::test]
async fn add_refuses_to_overflow_and_repeated_fields() {
    check::add_refuses_to_overflow_and_repeated_fields(&fresh_table().await).await;
}

#[tokio::test]
async fn pages_are_refilled_past_expired_items() {
    check::pages_are_refilled_past_expired_items(&fresh_table().await).await;
}

#[tokio::test]
async fn cursors_belong_to_their_query() {
    check::cursors_belong_to_their_query(&fresh_table().await).await;
}

#[tokio::test]
async fn an_item_over_400_kb_is_too_large() {
    check::an_item_over_400_kb_is_too_large(&fresh_table().await).await;
}

#[tokio::test]
async fn a_missing_table_is_unavailable() {
    let store = DynamoStore::new(clients().await.dynamodb, unique_name("missing"));
    check::a_missing_table_is_unavailable(&store).await;
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let config = sdk_config_without_retries(&dead_url()).await;
    let clients = AwsClients::from_sdk_config(&config, S3Options::default());
    let store = DynamoStore::new(clients.dynamodb, "table");
    check::an_unreachable_endpoint_is_unavailable(&store, "dispatch failure").await;
}

/// `table`'s store, reached through a chaos proxy in front of moto, on `config`.
async fn behind_chaos(table: &DynamoStore, timeout: Option<Duration>) -> (DynamoStore, ChaosProxy) {
    let chaos = ChaosProxy::start(&moto().url).await;
    let config = match timeout {
        Some(timeout) => sdk_config_with_timeout(&chaos.url, timeout).await,
        None => sdk_config_for(&chaos.url).await,
    };
    let clients = AwsClients::from_sdk_config(&config, S3Options::default());
    (DynamoStore::new(clients.dynamodb, table.table()), chaos)
}

#[tokio::test]
async fn throttling_and_server_errors_are_unavailable_after_the_sdks_three_tries() {
    let (store, chaos) = behind_chaos(&fresh_table().await, None).await;
    check::overload_is_unavailable(&store, &chaos, 3).await;
}

#[tokio::test]
async fn a_stalled_dynamodb_is_unavailable_past_the_time_limit() {
    let (store, chaos) = behind_chaos(&fresh_table().await, Some(Duration::from_millis(500))).await;
    check::a_stalled_dynamo_is_unavailable(&store, &chaos).await;
}
