//! [`S3HttpBlobs`]: the blob store port on one S3 bucket over S3's REST API.

use crate::client::{AwsConfig, Response, Service};
use crate::xml;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use confab_core::ports::blob::{
    BlobError, BlobPage, BlobStore, MAX_LIST_PAGE, content_disposition, validate_key, validate_listing,
};
use confab_core::ports::{Clock, HttpClient};
use md5::{Digest, Md5};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::sync::Arc;
use std::time::Duration;

/// Most keys one `ListObjectsV2` page and one `DeleteObjects` call take.
const MAX_BATCH: u32 = 1000;
/// The longest a presigned URL may last (SigV4's limit).
const MAX_PRESIGNED: Duration = Duration::from_secs(7 * 24 * 3600);

/// What SigV4 leaves unencoded in a query value or path segment: the unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// In a path, `/` separates segments.
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Blobs as objects of one bucket, each written with server-side encryption (`AES256`),
/// like confab-aws's `S3Blobs`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct S3HttpBlobs {
    service: Service,
    bucket: String,
    /// The bucket's URL, ending in `/`: path-style on an overridden endpoint, virtual-hosted on AWS.
    bucket_url: String,
    list_page_size: u32,
}

impl S3HttpBlobs {
    /// Blobs in `bucket`, which must exist. No network I/O.
    pub fn new(
        config: &AwsConfig,
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        bucket: impl Into<String>,
    ) -> Self {
        let bucket = bucket.into();
        let (endpoint, bucket_url) = match &config.s3_endpoint {
            Some(endpoint) => (endpoint.clone(), format!("{endpoint}/{bucket}/")),
            None => {
                let url = format!("{}/", config.public_endpoint(&format!("{bucket}.s3")));
                (config.public_endpoint("s3"), url)
            }
        };
        let service = Service::new(config, "s3", endpoint, http, clock);
        S3HttpBlobs { service, bucket, bucket_url, list_page_size: MAX_BATCH }
    }

    /// Lists (and so deletes) at most `size` keys at a time in
    /// [`delete_prefix`](BlobStore::delete_prefix); clamped to 1..=1000, the default.
    /// Smaller pages only make sense in tests.
    pub fn with_list_page_size(mut self, size: u32) -> Self {
        self.list_page_size = size.clamp(1, MAX_BATCH);
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn object_url(&self, key: &str) -> String {
        format!("{}{}", self.bucket_url, utf8_percent_encode(key, PATH))
    }

    async fn send(&self, request: http::request::Builder, body: Bytes) -> Result<Response, BlobError> {
        let request = request.body(body).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        self.service.send(request).await.map_err(BlobError::Unavailable)
    }

    /// One `ListObjectsV2` page of at most `max_keys` from `from` on: its keys and, when
    /// more follow, the continuation token.
    async fn list_objects(
        &self,
        prefix: &str,
        max_keys: u32,
        from: ListFrom,
    ) -> Result<(Vec<String>, Option<String>), BlobError> {
        let encode = |value: &str| utf8_percent_encode(value, UNRESERVED).to_string();
        let mut url =
            format!("{}?list-type=2&max-keys={max_keys}&prefix={}", self.bucket_url, encode(prefix));
        match from {
            ListFrom::Start => {}
            ListFrom::Continuation(token) => url += &format!("&continuation-token={}", encode(&token)),
            ListFrom::After(key) => url += &format!("&start-after={}", encode(&key)),
        }
        let response = self.send(http::Request::get(url), Bytes::new()).await?;
        let texts = self.answer(&response, "listing")?;
        let keys = xml::all(&texts, "ListBucketResult/Contents/Key").map(str::to_string).collect();
        let truncated = xml::first(&texts, "ListBucketResult/IsTruncated") == Some("true");
        let next = xml::first(&texts, "ListBucketResult/NextContinuationToken").filter(|_| truncated);
        Ok((keys, next.map(str::to_string)))
    }

    /// Deletes one page worth of keys (at most 1000) with `DeleteObjects`, which wants
    /// the body's MD5.
    async fn delete_keys(&self, keys: &[String]) -> Result<(), BlobError> {
        let objects: String =
            keys.iter().map(|key| format!("<Object><Key>{}</Key></Object>", xml::escape(key))).collect();
        let body = format!(
            "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>{objects}</Delete>"
        );
        let md5 = STANDARD.encode(Md5::digest(body.as_bytes()));
        let request = http::Request::post(format!("{}?delete", self.bucket_url))
            .header(http::header::CONTENT_TYPE, "application/xml")
            .header("content-md5", md5);
        let response = self.send(request, Bytes::from(body)).await?;
        let texts = self.answer(&response, "deleting")?;
        let mut failed = xml::all(&texts, "DeleteResult/Error/Key");
        match failed.next() {
            None => Ok(()),
            Some(key) => Err(BlobError::Unavailable(format!(
                "deleting {key:?} (and {} more): {} {}",
                failed.count(),
                xml::first(&texts, "DeleteResult/Error/Code").unwrap_or_default(),
                xml::first(&texts, "DeleteResult/Error/Message").unwrap_or_default(),
            ))),
        }
    }

    /// A successful answer's XML texts, or the S3 error as `Unavailable`.
    fn answer(&self, response: &Response, what: &str) -> Result<Vec<(String, String)>, BlobError> {
        if !response.status.is_success() {
            return Err(self.error(response, what));
        }
        let unreadable =
            |e: &dyn std::fmt::Display| BlobError::Unavailable(format!("{what} s3://{}: {e}", self.bucket));
        let body = std::str::from_utf8(&response.body).map_err(|e| unreadable(&e))?;
        xml::texts(body).map_err(|e| unreadable(&e))
    }

    /// An S3 error answer: its status, code and message.
    fn error(&self, response: &Response, what: &str) -> BlobError {
        let texts = xml::texts(&String::from_utf8_lossy(&response.body)).unwrap_or_default();
        BlobError::Unavailable(format!(
            "{what} s3://{}: {} {} {}",
            self.bucket,
            response.status,
            xml::first(&texts, "Error/Code").unwrap_or_default(),
            xml::first(&texts, "Error/Message").unwrap_or_default(),
        ))
    }
}

/// The `Code` of an S3 error answer.
fn error_code(response: &Response) -> Option<String> {
    let texts = xml::texts(&String::from_utf8_lossy(&response.body)).ok()?;
    xml::first(&texts, "Error/Code").map(str::to_string)
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl BlobStore for S3HttpBlobs {
    async fn put(&self, key: &str, content_type: &str, body: Bytes) -> Result<(), BlobError> {
        check_object_key(key)?;
        let request = http::Request::put(self.object_url(key))
            .header(http::header::CONTENT_TYPE, content_type)
            .header("x-amz-server-side-encryption", "AES256");
        let response = self.send(request, body).await?;
        if !response.status.is_success() {
            return Err(self.error(&response, &format!("writing {key:?} to")));
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        check_object_key(key)?;
        let response = self.send(http::Request::get(self.object_url(key)), Bytes::new()).await?;
        if response.status.is_success() {
            return Ok(Some(response.body));
        }
        if response.status == http::StatusCode::NOT_FOUND
            && error_code(&response).as_deref() == Some("NoSuchKey")
        {
            return Ok(None);
        }
        Err(self.error(&response, &format!("reading {key:?} from")))
    }

    /// `prefix` matches key prefixes as strings, like the embedded adapter: `a/b`
    /// deletes `a/b`, `a/bc` and everything under `a/b/` and `a/bc/`.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        validate_key(prefix)?;
        let mut continuation = None;
        loop {
            let from = continuation.take().map_or(ListFrom::Start, ListFrom::Continuation);
            let (keys, next) = self.list_objects(prefix, self.list_page_size, from).await?;
            if !keys.is_empty() {
                self.delete_keys(&keys).await?;
            }
            match next {
                Some(token) => continuation = Some(token),
                None => return Ok(()),
            }
        }
    }

    /// Keys in S3's order (bytewise); the cursor is the last key (`start-after`).
    async fn list(&self, prefix: &str, cursor: Option<String>, limit: u32) -> Result<BlobPage, BlobError> {
        validate_listing(prefix, cursor.as_deref())?;
        let from = cursor.map_or(ListFrom::Start, ListFrom::After);
        let (keys, next) = self.list_objects(prefix, limit.clamp(1, MAX_LIST_PAGE), from).await?;
        let cursor = keys.last().filter(|_| next.is_some()).cloned();
        Ok(BlobPage { keys, cursor })
    }

    /// Signs a GET locally (no request is made), for at most 7 days; the download is
    /// named `filename`.
    async fn download_url(
        &self,
        key: &str,
        filename: &str,
        expires_in: Duration,
    ) -> Result<Option<String>, BlobError> {
        check_object_key(key)?;
        if expires_in > MAX_PRESIGNED {
            return Err(BlobError::Unavailable(format!("presigning for {expires_in:?}: more than 7 days")));
        }
        let disposition = utf8_percent_encode(&content_disposition(filename), UNRESERVED).to_string();
        // `x-id` as the AWS SDKs write it (S3 ignores it), so the URL is exactly theirs.
        let url =
            format!("{}?x-id=GetObject&response-content-disposition={disposition}", self.object_url(key));
        self.service.presign_get(&url, expires_in).map(Some).map_err(BlobError::Unavailable)
    }
}

/// Where a `ListObjectsV2` page starts.
enum ListFrom {
    Start,
    Continuation(String),
    After(String),
}

/// An object's key: a valid key that doesn't end with `/` (that is a prefix).
fn check_object_key(key: &str) -> Result<(), BlobError> {
    validate_key(key)?;
    if key.ends_with('/') {
        return Err(BlobError::InvalidKey(key.to_string()));
    }
    Ok(())
}
