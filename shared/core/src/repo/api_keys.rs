//! Personal API keys, by id and listed per user.

use super::{all_items, from_item, to_data};
use crate::app::App;
use crate::domain::{Id, ModelAllowlist, Scope, Scopes};
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

const SK: &str = "APIKEY";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    /// Only the secret's hash is kept (`auth::secret_hash`).
    pub secret_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Keys stored before scopes existed have none: they read as the default.
    #[serde(default)]
    pub scopes: Scopes,
    /// None: every model.
    #[serde(default)]
    pub models: Option<ModelAllowlist>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// To the minute at best: see [`record_use`].
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// An API key as listed: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    #[schema(value_type = String)]
    pub id: Id,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// What the key may do.
    #[schema(value_type = BTreeSet<Scope>)]
    pub scopes: Scopes,
    /// The only models the key may use; null: every model.
    #[schema(value_type = Option<Vec<String>>)]
    pub models: Option<ModelAllowlist>,
    /// When the key stops working; null: never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// When the key was last used, to within a minute; null: never.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiKey {
    pub fn view(&self) -> ApiKeyView {
        ApiKeyView {
            id: self.id,
            name: self.name.clone(),
            created_at: self.created_at,
            scopes: self.scopes.clone(),
            models: self.models.clone(),
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
        }
    }
}

fn pk(id: Id) -> String {
    format!("APIKEY#{id}")
}

fn user_index(user_id: Id) -> String {
    format!("USER#{user_id}#APIKEYS")
}

fn item(key: &ApiKey) -> Item {
    Item::new(pk(key.id), SK, to_data(key)).with_gsi1(user_index(key.user_id), key.id.to_string())
}

pub async fn create(app: &App, key: &ApiKey) -> ApiResult<()> {
    app.store.put(item(key), Condition::NotExists).await?;
    Ok(())
}

/// Saves `key` (read at `version`) with a new `last_used_at`, unless it changed or was
/// deleted since: a use that loses the race is already recorded by the one that won.
pub async fn record_use(app: &App, key: &ApiKey, version: u64, at: OffsetDateTime) -> ApiResult<()> {
    let used = ApiKey { last_used_at: Some(at), ..key.clone() };
    app.store.put(item(&used), Condition::Version(version)).await?;
    Ok(())
}

/// Key `id` and the version to delete it against.
pub async fn get(app: &App, id: Id) -> ApiResult<Option<(ApiKey, u64)>> {
    match app.store.get(&pk(id), SK).await? {
        Some(item) => Ok(Some((from_item(&item)?, item.version))),
        None => Ok(None),
    }
}

pub async fn list(app: &App, user_id: Id) -> ApiResult<Vec<ApiKey>> {
    all_items(app, Query::new(user_index(user_id), SkRange::All).on_gsi1())
        .await?
        .iter()
        .map(from_item)
        .collect()
}

/// Deletes key `id` if it is still at `version`.
pub async fn delete(app: &App, id: Id, version: u64) -> ApiResult<()> {
    app.store.delete(&pk(id), SK, Condition::Version(version)).await?;
    Ok(())
}

/// Deletes every key of `user_id`.
pub async fn delete_all(app: &App, user_id: Id) -> ApiResult<()> {
    for key in list(app, user_id).await? {
        app.store.delete(&pk(key.id), SK, Condition::Always).await?;
    }
    Ok(())
}

/// Key `id` unless it is missing or someone else's: then 404.
pub async fn get_owned(app: &App, user_id: Id, id: Id) -> ApiResult<(ApiKey, u64)> {
    match get(app, id).await? {
        Some((key, version)) if key.user_id == user_id => Ok((key, version)),
        _ => Err(ApiError::NotFound),
    }
}
