//! The response cache's entries (`chat::cache`): a reply's events under the user's
//! partition, expiring after `CONFAB_CACHE_TTL_SECONDS`. A reply too long for one item
//! goes to a blob under the user's prefix, which the account's deletion removes.

use super::{Progress, delete_page, from_item, to_data};
use crate::app::App;
use crate::chat::cache::CacheKey;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Condition, Item, Query, SkRange};
use crate::providers::ProviderEvent;
use serde::{Deserialize, Serialize};

/// Events up to this size (as JSON) stay in the item, well under any store's limit.
const INLINE_BYTES: usize = 64 * 1024;

fn pk(user_id: Id) -> String {
    format!("CACHE#{user_id}")
}

fn blob_key(key: &CacheKey) -> String {
    format!("users/{}/cache/{}.json", key.user_id, key.hash)
}

#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(default)]
    events: Vec<ProviderEvent>,
    /// Where the events are when they did not fit the item.
    #[serde(default)]
    blob: Option<String>,
}

/// The reply kept for `key`, if it is there and has not expired. An entry that cannot
/// be read back is a miss (and logged): the caller then asks the provider.
pub async fn get(app: &App, key: &CacheKey) -> ApiResult<Option<Vec<ProviderEvent>>> {
    let Some(item) = app.store.get(&pk(key.user_id), &key.hash).await? else { return Ok(None) };
    if item.expires_at.is_some_and(|at| at <= app.clock.now_unix()) {
        return Ok(None);
    }
    let entry: Entry = from_item(&item)?;
    let Some(blob) = entry.blob else { return Ok(Some(entry.events)) };
    let Some(bytes) = app.blobs.get(&blob).await? else { return Ok(None) };
    match serde_json::from_slice(&bytes) {
        Ok(events) => Ok(Some(events)),
        Err(e) => {
            tracing::warn!(error = %e, blob, "a cached reply could not be read");
            Ok(None)
        }
    }
}

/// Keeps a whole reply for `key`, replacing any older one.
pub async fn put(app: &App, key: &CacheKey, events: &[ProviderEvent]) -> ApiResult<()> {
    let expires = app.clock.now_unix() + i64::from(app.config.cache_ttl_seconds);
    let json = serde_json::to_vec(events).unwrap_or_default();
    let entry = if json.len() <= INLINE_BYTES {
        Entry { events: events.to_vec(), blob: None }
    } else {
        let blob = blob_key(key);
        app.blobs.put(&blob, "application/json", json.into()).await?;
        Entry { events: Vec::new(), blob: Some(blob) }
    };
    let item = Item::new(pk(key.user_id), key.hash.clone(), to_data(&entry)).expiring_at(expires);
    app.store.put(item, Condition::Always).await?;
    Ok(())
}

/// Deletes a batch of the user's entries (their blobs go with the user's prefix).
pub async fn delete_of_user(app: &App, user_id: Id, cursor: Option<String>) -> ApiResult<Progress> {
    delete_page(app, Query::new(pk(user_id), SkRange::All), cursor).await
}
