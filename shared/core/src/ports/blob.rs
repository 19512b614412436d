use super::{MaybeSend, MaybeSync};
use bytes::Bytes;
use std::time::Duration;

/// Most keys one [`BlobStore::list`] page may return.
pub const MAX_LIST_PAGE: u32 = 1000;

/// One page of [`BlobStore::list`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlobPage {
    pub keys: Vec<String>,
    /// Present when more keys may follow (an adapter may end on an empty page).
    pub cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key: {0}")]
    InvalidKey(String),
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
}

/// Opaque objects by key (S3 in the cloud, a folder locally). Keys are `/`-separated
/// paths of `[A-Za-z0-9._=-]` segments; adapters reject anything else.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait BlobStore: MaybeSend + MaybeSync {
    async fn put(&self, key: &str, content_type: &str, body: Bytes) -> Result<(), BlobError>;
    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError>;
    /// Deletes every object whose key starts with `prefix`; absent keys are not an error.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError>;
    /// One page of the object keys that start with `prefix` (as strings; `""` lists
    /// them all), from after `cursor` (a previous page's), at most `limit` (clamped to
    /// 1..=[`MAX_LIST_PAGE`]). The order is the adapter's and stays the same between
    /// calls, so paging yields every key that stays in place exactly once.
    async fn list(&self, prefix: &str, cursor: Option<String>, limit: u32) -> Result<BlobPage, BlobError>;
    /// A URL that lets anyone holding it download `key` as a file named `filename` for
    /// `expires_in`, when the store can sign one itself (S3 presigned GET); `None` when
    /// it cannot, and the caller then serves the blob through a capability URL of its own.
    async fn download_url(
        &self,
        key: &str,
        filename: &str,
        expires_in: Duration,
    ) -> Result<Option<String>, BlobError> {
        let _ = (key, filename, expires_in);
        Ok(None)
    }
}

/// Checks a blob key against the shape every adapter accepts.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let ok_segment = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._=-".contains(&b))
    };
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    if key.len() <= 1024 && trimmed.split('/').all(ok_segment) {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(key.to_string()))
    }
}

/// Checks `list`'s arguments: a prefix is empty or a valid key, and so is a cursor (the
/// last key of a page, in every adapter).
pub fn validate_listing(prefix: &str, cursor: Option<&str>) -> Result<(), BlobError> {
    if !prefix.is_empty() {
        validate_key(prefix)?;
    }
    cursor.map_or(Ok(()), validate_key)
}

/// RFC 5987's `attr-char`s: everything else in `filename*` is percent-encoded.
const NOT_ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The `Content-Disposition` that saves a download as `filename` (RFC 6266): the exact
/// name as UTF-8 in `filename*`, and for older clients `filename` reduced to characters
/// every browser and shell take literally.
pub fn content_disposition(filename: &str) -> String {
    let safe: String = filename
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
        .collect();
    let exact = percent_encoding::utf8_percent_encode(filename, NOT_ATTR_CHAR);
    format!("attachment; filename=\"{safe}\"; filename*=UTF-8''{exact}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn dispositions_carry_the_exact_name_encoded() {
        assert_eq!(
            content_disposition("résumé \"v2\";.pdf"),
            "attachment; filename=\"r_sum___v2__.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22%3B.pdf"
        );
    }
}
