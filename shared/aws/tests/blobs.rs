//! `S3Blobs` against moto's S3 (path-style addressing).

use confab_aws::testing as common;

use bytes::Bytes;
use confab_aws::{AwsClients, S3Blobs, S3Options};
use confab_core::ports::blob::{BlobError, BlobStore};
use futures::future::try_join_all;
use std::time::Duration;

async fn fresh_blobs() -> S3Blobs {
    let clients = common::clients().await;
    let blobs = S3Blobs::new(clients.s3, common::unique_name("bucket"));
    blobs.create_bucket().await.expect("create the bucket");
    blobs
}

async fn keys(blobs: &S3Blobs) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = blobs
            .client()
            .list_objects_v2()
            .bucket(blobs.bucket())
            .set_continuation_token(token.take())
            .send()
            .await
            .expect("list");
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        match page.next_continuation_token() {
            Some(next) => token = Some(next.to_string()),
            None => return keys,
        }
    }
}

async fn put_many(blobs: &S3Blobs, keys: impl IntoIterator<Item = String>) {
    let keys: Vec<String> = keys.into_iter().collect();
    for chunk in keys.chunks(50) {
        try_join_all(chunk.iter().map(|key| blobs.put(key, "text/plain", Bytes::from(key.clone()))))
            .await
            .expect("put");
    }
}

#[tokio::test]
async fn put_then_get_round_trips_with_type_and_encryption() {
    let blobs = fresh_blobs().await;
    let body = Bytes::from_static(b"{\"hello\":\"w\xc3\xb6rld\"}\n\x00\xff");
    blobs.put("users/u1/sessions/s1/export.json", "application/json", body.clone()).await.expect("put");
    assert_eq!(blobs.get("users/u1/sessions/s1/export.json").await.expect("get"), Some(body));

    let head = blobs
        .client()
        .head_object()
        .bucket(blobs.bucket())
        .key("users/u1/sessions/s1/export.json")
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some("application/json"));
    assert_eq!(head.server_side_encryption().map(|e| e.as_str()), Some("AES256"));

    // Overwriting replaces; an empty body is a body.
    blobs.put("users/u1/sessions/s1/export.json", "application/json", Bytes::new()).await.expect("put");
    assert_eq!(blobs.get("users/u1/sessions/s1/export.json").await.expect("get"), Some(Bytes::new()));
}

#[tokio::test]
async fn missing_objects_are_none() {
    let blobs = fresh_blobs().await;
    assert_eq!(blobs.get("users/u1/nothing").await.expect("get"), None);
    blobs.put("users/u1/a", "text/plain", Bytes::from_static(b"a")).await.expect("put");
    assert_eq!(blobs.get("users/u1").await.expect("get a prefix of a key"), None);
    assert_eq!(blobs.get("users/u1/a/b").await.expect("get under a key"), None);
}

#[tokio::test]
async fn invalid_keys_are_refused() {
    let blobs = fresh_blobs().await;
    for key in ["", "/a", "a//b", "a/../b", "a/./b", "a b", "a/b/", "ü", "a?b"] {
        let result = blobs.put(key, "text/plain", Bytes::new()).await;
        assert!(matches!(result, Err(BlobError::InvalidKey(_))), "put {key:?}: {result:?}");
        let result = blobs.get(key).await;
        assert!(matches!(result, Err(BlobError::InvalidKey(_))), "get {key:?}: {result:?}");
    }
    for prefix in ["", "/", "a//", "../a"] {
        let result = blobs.delete_prefix(prefix).await;
        assert!(matches!(result, Err(BlobError::InvalidKey(_))), "delete_prefix {prefix:?}: {result:?}");
    }
    let result = blobs.download_url("a/", "a.md", Duration::from_secs(60)).await;
    assert!(matches!(result, Err(BlobError::InvalidKey(_))), "download_url of a prefix: {result:?}");
}

#[tokio::test]
async fn delete_prefix_matches_key_prefixes_as_strings() {
    let blobs = fresh_blobs().await;
    put_many(&blobs, ["a/b", "a/bc", "a/b/x", "a/bc/y", "a/c", "ab", "b/a/b"].map(String::from)).await;
    blobs.delete_prefix("a/b/").await.expect("delete a/b/");
    assert_eq!(keys(&blobs).await, ["a/b", "a/bc", "a/bc/y", "a/c", "ab", "b/a/b"]);
    blobs.delete_prefix("a/b").await.expect("delete a/b");
    assert_eq!(keys(&blobs).await, ["a/c", "ab", "b/a/b"]);
    blobs.delete_prefix("nothing/here/").await.expect("delete a prefix with nothing under it");
    assert_eq!(keys(&blobs).await, ["a/c", "ab", "b/a/b"]);
}

#[tokio::test]
async fn delete_prefix_goes_through_every_page() {
    let blobs = fresh_blobs().await.with_list_page_size(7);
    put_many(&blobs, (0..40).map(|i| format!("users/u1/sessions/s1/m{i:02}"))).await;
    put_many(&blobs, (0..3).map(|i| format!("users/u1/sessions/s2/m{i:02}"))).await;
    blobs.delete_prefix("users/u1/sessions/s1/").await.expect("delete");
    assert_eq!(
        keys(&blobs).await,
        ["users/u1/sessions/s2/m00", "users/u1/sessions/s2/m01", "users/u1/sessions/s2/m02"]
    );
}

#[tokio::test]
async fn delete_prefix_deletes_more_than_one_batch() {
    let blobs = fresh_blobs().await;
    put_many(&blobs, (0..1005).map(|i| format!("users/u2/blob-{i:04}"))).await;
    put_many(&blobs, ["users/u20/keep".to_string()]).await;
    blobs.delete_prefix("users/u2/").await.expect("delete");
    assert_eq!(keys(&blobs).await, ["users/u20/keep"]);
}

#[tokio::test]
async fn download_urls_are_presigned_and_download_the_object_as_a_file() {
    let blobs = fresh_blobs().await;
    let body = Bytes::from_static(b"# Conversation\n\nhello\n");
    blobs.put("exports/u1/s1/e1.md", "text/markdown", body.clone()).await.expect("put");
    let url = blobs
        .download_url("exports/u1/s1/e1.md", "chat notes.md", Duration::from_secs(300))
        .await
        .expect("presign")
        .expect("S3 signs its own URLs");
    assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=300"), "{url}");
    let response = reqwest::get(&url).await.expect("GET the presigned URL");
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from);
    assert_eq!(header("content-type").as_deref(), Some("text/markdown"));
    assert_eq!(header("content-disposition").as_deref(), Some("attachment; filename=\"chat_notes.md\""));
    assert_eq!(response.bytes().await.expect("body"), body);

    let too_long =
        blobs.download_url("exports/u1/s1/e1.md", "e1.md", Duration::from_secs(8 * 24 * 3600)).await;
    assert!(matches!(too_long, Err(BlobError::Unavailable(_))), "{too_long:?}");
}

#[tokio::test]
async fn a_missing_bucket_is_unavailable() {
    let clients = common::clients().await;
    let blobs = S3Blobs::new(clients.s3, common::unique_name("missing"));
    let put = blobs.put("a", "text/plain", Bytes::new()).await;
    assert!(matches!(&put, Err(BlobError::Unavailable(m)) if m.contains("NoSuchBucket")), "{put:?}");
    let get = blobs.get("a").await;
    assert!(matches!(&get, Err(BlobError::Unavailable(m)) if m.contains("NoSuchBucket")), "{get:?}");
    let delete = blobs.delete_prefix("a/").await;
    assert!(matches!(&delete, Err(BlobError::Unavailable(_))), "{delete:?}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let config = common::sdk_config_without_retries(&common::dead_url()).await;
    let clients = AwsClients::from_sdk_config(&config, S3Options { force_path_style: true });
    let blobs = S3Blobs::new(clients.s3, "bucket");
    assert!(matches!(blobs.put("a", "text/plain", Bytes::new()).await, Err(BlobError::Unavailable(_))));
    assert!(matches!(blobs.get("a").await, Err(BlobError::Unavailable(_))));
    assert!(matches!(blobs.delete_prefix("a").await, Err(BlobError::Unavailable(_))));
}
