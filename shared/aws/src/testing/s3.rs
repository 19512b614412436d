//! Checks of an S3 blob store adapter, shared by `S3Blobs`'s tests and confab-aws-http's
//! `S3HttpBlobs` tests: each works through the port, and looks through the SDK where the
//! port can't see (content type, encryption, remaining keys).

use super::chaos::{Answer, ChaosProxy};
use crate::S3Blobs;
use bytes::Bytes;
use confab_core::ports::blob::{BlobError, BlobStore};
use futures::future::try_join_all;
use std::time::Duration;

/// A fresh bucket made by `S3Blobs::create_bucket`.
pub async fn fresh_bucket() -> S3Blobs {
    let blobs = S3Blobs::new(super::clients().await.s3, super::unique_name("bucket"));
    blobs.create_bucket().await.expect("create the bucket");
    blobs
}

/// Every key in the bucket, listed through the SDK.
pub async fn keys(sdk: &S3Blobs) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = sdk
            .client()
            .list_objects_v2()
            .bucket(sdk.bucket())
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

/// Puts each key with itself as the body, 50 at a time.
pub async fn put_many(blobs: &dyn BlobStore, keys: impl IntoIterator<Item = String>) {
    let keys: Vec<String> = keys.into_iter().collect();
    for chunk in keys.chunks(50) {
        try_join_all(chunk.iter().map(|key| blobs.put(key, "text/plain", Bytes::from(key.clone()))))
            .await
            .expect("put");
    }
}

pub async fn put_then_get_round_trips_with_type_and_encryption(sdk: &S3Blobs, blobs: &dyn BlobStore) {
    let key = "users/u1/sessions/s1/export=1.json";
    let body = Bytes::from_static(b"{\"hello\":\"w\xc3\xb6rld\"}\n\x00\xff");
    blobs.put(key, "application/json", body.clone()).await.expect("put");
    assert_eq!(blobs.get(key).await.expect("get"), Some(body));

    let head = sdk.client().head_object().bucket(sdk.bucket()).key(key).send().await.expect("head");
    assert_eq!(head.content_type(), Some("application/json"));
    assert_eq!(head.server_side_encryption().map(|e| e.as_str()), Some("AES256"));

    // Overwriting replaces; an empty body is a body.
    blobs.put(key, "application/json", Bytes::new()).await.expect("put");
    assert_eq!(blobs.get(key).await.expect("get"), Some(Bytes::new()));
}

pub async fn missing_objects_are_none(blobs: &dyn BlobStore) {
    assert_eq!(blobs.get("users/u1/nothing").await.expect("get"), None);
    blobs.put("users/u1/a", "text/plain", Bytes::from_static(b"a")).await.expect("put");
    assert_eq!(blobs.get("users/u1").await.expect("get a prefix of a key"), None);
    assert_eq!(blobs.get("users/u1/a/b").await.expect("get under a key"), None);
}

pub async fn invalid_keys_are_refused(blobs: &dyn BlobStore) {
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

pub async fn delete_prefix_matches_key_prefixes_as_strings(sdk: &S3Blobs, blobs: &dyn BlobStore) {
    put_many(blobs, ["a/b", "a/bc", "a/b/x", "a/bc/y", "a/c", "ab", "b/a/b"].map(String::from)).await;
    blobs.delete_prefix("a/b/").await.expect("delete a/b/");
    assert_eq!(keys(sdk).await, ["a/b", "a/bc", "a/bc/y", "a/c", "ab", "b/a/b"]);
    blobs.delete_prefix("a/b").await.expect("delete a/b");
    assert_eq!(keys(sdk).await, ["a/c", "ab", "b/a/b"]);
    blobs.delete_prefix("nothing/here/").await.expect("delete a prefix with nothing under it");
    assert_eq!(keys(sdk).await, ["a/c", "ab", "b/a/b"]);
}

/// `blobs` lists pages of 7 keys.
pub async fn delete_prefix_goes_through_every_page(sdk: &S3Blobs, blobs: &dyn BlobStore) {
    put_many(blobs, (0..40).map(|i| format!("users/u1/sessions/s1/m={i:02}"))).await;
    put_many(blobs, (0..3).map(|i| format!("users/u1/sessions/s2/m={i:02}"))).await;
    blobs.delete_prefix("users/u1/sessions/s1/").await.expect("delete");
    assert_eq!(
        keys(sdk).await,
        ["users/u1/sessions/s2/m=00", "users/u1/sessions/s2/m=01", "users/u1/sessions/s2/m=02"]
    );
}

pub async fn delete_prefix_deletes_more_than_one_batch(sdk: &S3Blobs, blobs: &dyn BlobStore) {
    put_many(blobs, (0..1005).map(|i| format!("users/u2/blob-{i:04}"))).await;
    put_many(blobs, ["users/u20/keep".to_string()]).await;
    blobs.delete_prefix("users/u2/").await.expect("delete");
    assert_eq!(keys(sdk).await, ["users/u20/keep"]);
}

pub async fn download_urls_are_presigned_and_download_the_object_as_a_file(blobs: &dyn BlobStore) {
    let body = Bytes::from_static(b"# Conversation\n\nhello\n");
    blobs.put("exports/u1/s1/e=1.md", "text/markdown", body.clone()).await.expect("put");
    let url = blobs
        .download_url("exports/u1/s1/e=1.md", "chat notes.md", Duration::from_secs(300))
        .await
        .expect("presign")
        .expect("S3 signs its own URLs");
    assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=300"), "{url}");
    let response = reqwest::get(&url).await.expect("GET the presigned URL");
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from);
    assert_eq!(header("content-type").as_deref(), Some("text/markdown"));
    // RFC 6266: an ASCII fallback and the name as given.
    let disposition = "attachment; filename=\"chat_notes.md\"; filename*=UTF-8''chat%20notes.md";
    assert_eq!(header("content-disposition").as_deref(), Some(disposition));
    assert_eq!(response.bytes().await.expect("body"), body);

    let too_long =
        blobs.download_url("exports/u1/s1/e=1.md", "e.md", Duration::from_secs(8 * 24 * 3600)).await;
    assert!(matches!(too_long, Err(BlobError::Unavailable(_))), "{too_long:?}");
}

/// `blobs` is on a bucket that doesn't exist.
pub async fn a_missing_bucket_is_unavailable(blobs: &dyn BlobStore) {
    let put = blobs.put("a", "text/plain", Bytes::new()).await;
    assert!(matches!(&put, Err(BlobError::Unavailable(m)) if m.contains("NoSuchBucket")), "{put:?}");
    let get = blobs.get("a").await;
    assert!(matches!(&get, Err(BlobError::Unavailable(m)) if m.contains("NoSuchBucket")), "{get:?}");
    let delete = blobs.delete_prefix("a/").await;
    assert!(matches!(&delete, Err(BlobError::Unavailable(m)) if m.contains("NoSuchBucket")), "{delete:?}");
}

/// `blobs` points where nothing listens.
pub async fn an_unreachable_endpoint_is_unavailable(blobs: &dyn BlobStore) {
    assert!(matches!(blobs.put("a", "text/plain", Bytes::new()).await, Err(BlobError::Unavailable(_))));
    assert!(matches!(blobs.get("a").await, Err(BlobError::Unavailable(_))));
    assert!(matches!(blobs.delete_prefix("a").await, Err(BlobError::Unavailable(_))));
}

/// `blobs` reaches S3 through `chaos`, which answers S3's `SlowDown` (503) to every
/// request: `Unavailable` after `tries` requests (the SDK retries on its own); once
/// healed, the blobs work again.
pub async fn slow_down_is_unavailable(blobs: &dyn BlobStore, chaos: &ChaosProxy, tries: usize) {
    chaos.answer("", Answer::s3("SlowDown", 503));
    let put = blobs.put("a", "text/plain", Bytes::from_static(b"a")).await;
    assert!(matches!(&put, Err(BlobError::Unavailable(m)) if m.contains("SlowDown")), "{put:?}");
    assert_eq!(chaos.answered(), tries, "the requests for one put");
    let get = blobs.get("a").await;
    assert!(matches!(&get, Err(BlobError::Unavailable(m)) if m.contains("SlowDown")), "{get:?}");
    chaos.heal();
    blobs.put("a", "text/plain", Bytes::from_static(b"a")).await.expect("a put once healed");
}
