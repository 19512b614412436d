//! [`S3Blobs`]: the blob store port on one S3 bucket.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, ServerSideEncryption};
use bytes::Bytes;
use confab_core::ports::blob::{
    BlobError, BlobPage, BlobStore, MAX_LIST_PAGE, content_disposition, validate_key, validate_listing,
};
use std::time::Duration;

/// Most keys one `ListObjectsV2` page and one `DeleteObjects` call take.
const MAX_BATCH: i32 = 1000;

/// Blobs as objects of one bucket, each written with server-side encryption (`AES256`,
/// on top of whatever default the bucket has). Cheap to clone.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
    list_page_size: i32,
}

impl S3Blobs {
    /// Blobs in `bucket`, which must exist. No network I/O.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Blobs { client, bucket: bucket.into(), list_page_size: MAX_BATCH }
    }

    /// Lists (and so deletes) at most `size` keys at a time in
    /// [`delete_prefix`](BlobStore::delete_prefix); clamped to 1..=1000, the default.
    /// Smaller pages only make sense in tests.
    pub fn with_list_page_size(mut self, size: i32) -> Self {
        self.list_page_size = size.clamp(1, MAX_BATCH);
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the bucket (in the client's region). For tests and first-time setup
    /// outside the infrastructure template.
    pub async fn create_bucket(&self) -> Result<(), BlobError> {
        let mut request = self.client.create_bucket().bucket(&self.bucket);
        let region = self.client.config().region().map(|r| r.as_ref().to_string());
        if let Some(region) = region.filter(|r| r != "us-east-1") {
            let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(region.as_str().into())
                .build();
            request = request.create_bucket_configuration(location);
        }
        request.send().await.map_err(unavailable)?;
        Ok(())
    }

    /// Deletes one page worth of keys (at most 1000).
    async fn delete_keys(&self, keys: Vec<String>) -> Result<(), BlobError> {
        let objects = keys
            .into_iter()
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BlobError::Unavailable(DisplayErrorContext(&e).to_string()))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| BlobError::Unavailable(DisplayErrorContext(&e).to_string()))?;
        let out = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(unavailable)?;
        match out.errors().first() {
            None => Ok(()),
            Some(failed) => Err(BlobError::Unavailable(format!(
                "deleting {:?} (and {} more): {} {}",
                failed.key().unwrap_or_default(),
                out.errors().len() - 1,
                failed.code().unwrap_or_default(),
                failed.message().unwrap_or_default(),
            ))),
        }
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(&self, key: &str, content_type: &str, body: Bytes) -> Result<(), BlobError> {
        check_object_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        check_object_key(key)?;
        let result = self.client.get_object().bucket(&self.bucket).key(key).send().await;
        let out = match result {
            Ok(out) => out,
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(err) => return Err(unavailable(err)),
        };
        let body = out.body.collect().await.map_err(|e| {
            BlobError::Unavailable(format!("reading s3://{}/{key}: {}", self.bucket, DisplayErrorContext(&e)))
        })?;
        Ok(Some(body.into_bytes()))
    }

    /// `prefix` matches key prefixes as strings, like the embedded adapter: `a/b`
    /// deletes `a/b`, `a/bc` and everything under `a/b/` and `a/bc/`. On a versioned
    /// bucket this adds delete markers; the bucket's lifecycle rules remove the older
    /// versions.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        validate_key(prefix)?;
        let mut continuation = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(self.list_page_size)
                .set_continuation_token(continuation.take())
                .send()
                .await
                .map_err(unavailable)?;
            let keys: Vec<String> =
                page.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
            if !keys.is_empty() {
                self.delete_keys(keys).await?;
            }
            match page.next_continuation_token() {
                Some(token) if page.is_truncated() == Some(true) => continuation = Some(token.to_string()),
                _ => return Ok(()),
            }
        }
    }

    /// Keys in S3's order (bytewise); the cursor is the last key (`StartAfter`).
    async fn list(&self, prefix: &str, cursor: Option<String>, limit: u32) -> Result<BlobPage, BlobError> {
        validate_listing(prefix, cursor.as_deref())?;
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(cursor)
            .max_keys(limit.clamp(1, MAX_LIST_PAGE) as i32)
            .send()
            .await
            .map_err(unavailable)?;
        let keys: Vec<String> = page.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
        let cursor = keys.last().filter(|_| page.is_truncated() == Some(true)).cloned();
        Ok(BlobPage { keys, cursor })
    }

    /// Signs a GET locally (no request is made): at most 7 days, and no longer than the
    /// signing credentials last (in Lambda the role's session, a few hours). The
    /// download is named `filename`.
    async fn download_url(
        &self,
        key: &str,
        filename: &str,
        expires_in: Duration,
    ) -> Result<Option<String>, BlobError> {
        check_object_key(key)?;
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| BlobError::Unavailable(format!("presigning for {expires_in:?}: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition(filename))
            .presigned(config)
            .await
            .map_err(unavailable)?;
        Ok(Some(request.uri().to_string()))
    }
}

/// An object's key: a valid key that doesn't end with `/` (that is a prefix).
fn check_object_key(key: &str) -> Result<(), BlobError> {
    validate_key(key)?;
    if key.ends_with('/') {
        return Err(BlobError::InvalidKey(key.to_string()));
    }
    Ok(())
}

fn unavailable<E, R>(err: SdkError<E, R>) -> BlobError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    BlobError::Unavailable(DisplayErrorContext(&err).to_string())
}
