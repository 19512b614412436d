//! `DynamoHttpStore` beyond the conformance suite, by the checks confab-aws's
//! `DynamoStore` passes (`confab_aws::testing::dynamo`): the attributes it writes (read
//! raw through the SDK), add limits, pages over expired items, cursors, error mapping.

use crate::common;

use confab_aws::testing::dynamo as check;
use confab_aws::testing::{dead_url, unique_name};
use confab_aws_http::DynamoHttpStore;

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
