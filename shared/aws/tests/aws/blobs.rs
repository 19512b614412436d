//! `S3Blobs` against moto's S3 (path-style addressing), by the checks confab-aws-http's
//! `S3HttpBlobs` passes too (`confab_aws::testing::s3`).

use confab_aws::testing::chaos::ChaosProxy;
use confab_aws::testing::s3::{self as check, fresh_bucket};
use confab_aws::testing::{clients, dead_url, moto, sdk_config_for, sdk_config_without_retries, unique_name};
use confab_aws::{AwsClients, S3Blobs, S3Options};

#[tokio::test]
async fn put_then_get_round_trips_with_type_and_encryption() {
    let blobs = fresh_bucket().await;
    check::put_then_get_round_trips_with_type_and_encryption(&blobs, &blobs).await;
}

#[tokio::test]
async fn missing_objects_are_none() {
    check::missing_objects_are_none(&fresh_bucket().await).await;
}

#[tokio::test]
async fn invalid_keys_are_refused() {
    check::invalid_keys_are_refused(&fresh_bucket().await).await;
}

#[tokio::test]
async fn delete_prefix_matches_key_prefixes_as_strings() {
    let blobs = fresh_bucket().await;
    check::delete_prefix_matches_key_prefixes_as_strings(&blobs, &blobs).await;
}

#[tokio::test]
async fn delete_prefix_goes_through_every_page() {
    let blobs = fresh_bucket().await.with_list_page_size(7);
    check::delete_prefix_goes_through_every_page(&blobs, &blobs).await;
}

#[tokio::test]
async fn delete_prefix_deletes_more_than_one_batch() {
    let blobs = fresh_bucket().await;
    check::delete_prefix_deletes_more_than_one_batch(&blobs, &blobs).await;
}

#[tokio::test]
async fn download_urls_are_presigned_and_download_the_object_as_a_file() {
    check::download_urls_are_presigned_and_download_the_object_as_a_file(&fresh_bucket().await).await;
}

#[tokio::test]
async fn a_missing_bucket_is_unavailable() {
    let blobs = S3Blobs::new(clients().await.s3, unique_name("missing"));
    check::a_missing_bucket_is_unavailable(&blobs).await;
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let config = sdk_config_without_retries(&dead_url()).await;
    let clients = AwsClients::from_sdk_config(&config, S3Options { force_path_style: true });
    check::an_unreachable_endpoint_is_unavailable(&S3Blobs::new(clients.s3, "bucket")).await;
}

#[tokio::test]
async fn listing_conforms() {
    confab_core::conformance::blob_listing(&fresh_bucket().await).await;
}

#[tokio::test]
async fn slow_down_is_unavailable_after_the_sdks_three_tries() {
    let bucket = fresh_bucket().await;
    let chaos = ChaosProxy::start(&moto().url).await;
    let clients =
        AwsClients::from_sdk_config(&sdk_config_for(&chaos.url).await, S3Options { force_path_style: true });
    check::slow_down_is_unavailable(&S3Blobs::new(clients.s3, bucket.bucket()), &chaos, 3).await;
}
