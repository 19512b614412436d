//! `DynamoHttpStore` beyond the conformance suite, by the checks confab-aws's
//! `DynamoStore` passes (`confab_aws::testing::dynamo`): the attributes it writes (read
//! raw through the SDK), add limits, pages over expired items, cursors, error mapping.

use crate::common;

use confab_aws::testing::chaos::ChaosProxy;
use confab_aws::testing::dynamo as check;
use confab_aws::testing::{dead_url, moto, unique_name};
use confab_aws_http::DynamoHttpStore;
use std::time::Duration;

#[tokio::test]
async fn items_are_stored_as_confab_aws_readme_says() {
    let (sdk, store) = common::fresh_table().await;
    check::items_are_stored_as_the_readme_says(&sdk, &store).await;
}

#[tokio::test]
async fn add_refuses_to_overflow_and_repeated_fields() {
    check::add_refuses_to_overflow_and_repeated_fields(&common::fresh_table().await.1).await;
}

#[tokio::test]
async fn pages_are_refilled_past_expired_items() {
    check::pages_are_refilled_past_expired_items(&common::fresh_table().await.1).await;
}

#[tokio::test]
async fn cursors_belong_to_their_query() {
    check::cursors_belong_to_their_query(&common::fresh_table().await.1).await;
}

#[tokio::test]
async fn an_item_over_400_kb_is_too_large() {
    check::an_item_over_400_kb_is_too_large(&common::fresh_table().await.1).await;
}

#[tokio::test]
async fn a_missing_table_is_unavailable() {
    let store =
        DynamoHttpStore::new(&common::config(), common::http(), common::clock(), unique_name("missing"));
    check::a_missing_table_is_unavailable(&store).await;
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let store =
        DynamoHttpStore::new(&common::config_for(&dead_url()), common::http(), common::clock(), "table");
    check::an_unreachable_endpoint_is_unavailable(&store, "connect").await;
}

/// A store on a fresh table, reached through a chaos proxy in front of moto, with
/// requests limited to `timeout`.
async fn behind_chaos(timeout: Duration) -> (DynamoHttpStore, ChaosProxy) {
    let (sdk, _) = common::fresh_table().await;
    let chaos = ChaosProxy::start(&moto().url).await;
    let config = common::config_for(&chaos.url).with_timeout(timeout);
    (DynamoHttpStore::new(&config, common::http(), common::clock(), sdk.table()), chaos)
}

#[tokio::test]
async fn throttling_and_server_errors_are_unavailable() {
    let (store, chaos) = behind_chaos(confab_aws_http::DEFAULT_TIMEOUT).await;
    check::overload_is_unavailable(&store, &chaos, 1).await;
}

#[tokio::test]
async fn a_stalled_dynamodb_is_unavailable_past_the_time_limit() {
    let (store, chaos) = behind_chaos(Duration::from_millis(500)).await;
    check::a_stalled_dynamo_is_unavailable(&store, &chaos).await;
}
