//! The response cache's entries (`chat::cache`): a reply (a chat reply's events, an
//! embeddings request's vectors) under the user's partition, expiring after
//! `CONFAB_CACHE_TTL_SECONDS`. A reply too long for one item goes to a blob under the
//! user's prefix, which the account's deletion removes; one too long for that is not kept.

use super::{Progress, delete_page, from_item, to_data};
use crate::app::App;
use crate::chat::cache::CacheKey;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Condition, Item, Query, SkRange};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Replies up to this size (as JSON) stay in the item, well under any store's limit.
const INLINE_BYTES: usize = 64 * 1024;
/// Larger replies are not kept: reading one back would cost more than it saves, and
/// a blob outlives its expired item (until the same request is kept again, or the
/// account goes), so each is bounded.
const MAX_BYTES: usize = 2 * 1024 * 1024;

fn pk(user_id: Id) -> String {
    format!("CACHE#{user_id}")
}

fn blob_key(key: &CacheKey) -> String {
    format!("users/{}/cache/{}.json", key.user_id, key.hash)
}

#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(default)]
    reply: Option<Value>,
    /// Where the reply is when it did not fit the item.
    #[serde(default)]
    blob: Option<String>,
}

/// The reply kept for `key`, if it is there and has not expired. An entry that cannot
/// be read back is a miss (and logged): the caller then asks the provider.
pub async fn get<T: DeserializeOwned>(app: &App, key: &CacheKey) -> ApiResult<Option<T>> {
    let Some(item) = app.store.get(&pk(key.user_id), &key.hash).await? else { return Ok(None) };
    if item.expires_at.is_some_and(|at| at <= app.clock.now_unix()) {
        return Ok(None);
    }
    let entry: Entry = from_item(&item)?;
    let read = match (entry.reply, entry.blob) {
        (Some(reply), _) => serde_json::from_value(reply),
        (None, Some(blob)) => match app.blobs.get(&blob).await? {
            Some(bytes) => serde_json::from_slice(&bytes),
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    Ok(read
        .inspect_err(|e| tracing::warn!(error = %e, key = key.hash, "a cached reply could not be read"))
        .ok())
}

/// Keeps a whole reply for `key`, replacing any older one.
pub async fn put<T: Serialize>(app: &App, key: &CacheKey, reply: &T) -> ApiResult<()> {
    let expires = app.clock.now_unix() + i64::from(app.config.cache_ttl_seconds);
    let json = serde_json::to_vec(reply).unwrap_or_default();
    if json.len() > MAX_BYTES {
        return Ok(());
    }
    let entry = if json.len() <= INLINE_BYTES {
        Entry { reply: serde_json::from_slice(&json).ok(), blob: None }
    } else {
        let blob = blob_key(key);
        app.blobs.put(&blob, "application/json", json.into()).await?;
        Entry { reply: None, blob: Some(blob) }
    };
    let item = Item::new(pk(key.user_id), key.hash.clone(), to_data(&entry)).expiring_at(expires);
    app.store.put(item, Condition::Always).await?;
    Ok(())
}

/// Deletes a batch of the user's entries (their blobs go with the user's prefix).
pub async fn delete_of_user(app: &App, user_id: Id, cursor: Option<String>) -> ApiResult<Progress> {
    delete_page(app, Query::new(pk(user_id), SkRange::All), cursor).await
}
