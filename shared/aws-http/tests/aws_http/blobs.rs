//! `S3HttpBlobs` against moto's S3 (path-style addressing), by the checks confab-aws's
//! `S3Blobs` passes (`confab_aws::testing::s3`), looking through the SDK where the port
//! can't see (content type, encryption, remaining keys).

use crate::common;

use confab_aws::testing::chaos::ChaosProxy;
use confab_aws::testing::s3 as check;
use confab_aws::testing::{dead_url, moto, unique_name};
use confab_aws_http::S3HttpBlobs;

#[tokio::test]
async fn put_then_get_round_trips_with_type_and_encryption() {
    let (sdk, blobs) = common::fresh_bucket().await;
    check::put_then_get_round_trips_with_type_and_encryption(&sdk, &blobs).await;
}

#[tokio::test]
async fn missing_objects_are_none() {
    check::missing_objects_are_none(&common::fresh_bucket().await.1).await;
}

#[tokio::test]
async fn invalid_keys_are_refused() {
    check::invalid_keys_are_refused(&common::fresh_bucket().await.1).await;
}

#[tokio::test]
async fn delete_prefix_matches_key_prefixes_as_strings() {
    let (sdk, blobs) = common::fresh_bucket().await;
    check::delete_prefix_matches_key_prefixes_as_strings(&sdk, &blobs).await;
}

#[tokio::test]
async fn delete_prefix_goes_through_every_page() {
    let (sdk, blobs) = common::fresh_bucket().await;
    check::delete_prefix_goes_through_every_page(&sdk, &blobs.with_list_page_size(7)).await;
}

#[tokio::test]
async fn delete_prefix_deletes_more_than_one_batch() {
    let (sdk, blobs) = common::fresh_bucket().await;
    check::delete_prefix_deletes_more_than_one_batch(&sdk, &blobs).await;
}

#[tokio::test]
async fn download_urls_are_presigned_and_download_the_object_as_a_file() {
    check::download_urls_are_presigned_and_download_the_object_as_a_file(&common::fresh_bucket().await.1)
        .await;
}

#[tokio::test]
async fn a_missing_bucket_is_unavailable() {
    let blobs = S3HttpBlobs::new(&common::config(), common::http(), common::clock(), unique_name("missing"));
    check::a_missing_bucket_is_unavailable(&blobs).await;
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let blobs = S3HttpBlobs::new(&common::config_for(&dead_url()), common::http(), common::clock(), "bucket");
    check::an_unreachable_endpoint_is_unavailable(&blobs).await;
}

#[tokio::test]
async fn listing_conforms() {
    confab_core::conformance::blob_listing(&common::fresh_bucket().await.1).await;
}

#[tokio::test]
async fn slow_down_is_unavailable() {
    let (sdk, _) = common::fresh_bucket().await;
    let chaos = ChaosProxy::start(&moto().url).await;
    let blobs =
        S3HttpBlobs::new(&common::config_for(&chaos.url), common::http(), common::clock(), sdk.bucket());
    check::slow_down_is_unavailable(&blobs, &chaos, 1).await;
}
