//! Personal API keys: `cfk_<user id>_<key id>_<secret>`. The ids let authentication
//! read the key and its user at once (one round trip); only the secret's hash is
//! stored, and the key is shown once, at creation.

use super::secret_hash;
use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange};
use crate::repo::{all_items, from_item, to_data};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use utoipa::ToSchema;

pub const PREFIX: &str = "cfk_";
const SK: &str = "APIKEY";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    secret_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
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
}

impl ApiKey {
    pub fn view(&self) -> ApiKeyView {
        ApiKeyView { id: self.id, name: self.name.clone(), created_at: self.created_at }
    }
}

fn pk(id: Id) -> String {
    format!("APIKEY#{id}")
}

fn user_index(user_id: Id) -> String {
    format!("USER#{user_id}#APIKEYS")
}

/// Creates a key; returns it with the only copy of the full key string.
pub async fn create(app: &App, user_id: Id, name: String) -> ApiResult<(ApiKey, String)> {
    let id = app.new_id();
    let secret = app.random_token();
    let key = ApiKey { id, user_id, name, secret_hash: secret_hash(&secret), created_at: app.now() };
    let item = Item::new(pk(id), SK, to_data(&key)).with_gsi1(user_index(user_id), id.to_string());
    app.store.put(item, Condition::NotExists).await?;
    Ok((key, format!("{PREFIX}{user_id}_{id}_{secret}")))
}

pub async fn list(app: &App, user_id: Id) -> ApiResult<Vec<ApiKey>> {
    all_items(app, Query::new(user_index(user_id), SkRange::All).on_gsi1())
        .await?
        .iter()
        .map(from_item)
        .collect()
}

/// Deletes the user's key `id`; anyone else's key is 404.
pub async fn revoke(app: &App, user_id: Id, id: Id) -> ApiResult<()> {
    let item = app.store.get(&pk(id), SK).await?.ok_or(ApiError::NotFound)?;
    if from_item::<ApiKey>(&item)?.user_id != user_id {
        return Err(ApiError::NotFound);
    }
    app.store.delete(&pk(id), SK, Condition::Version(item.version)).await?;
    Ok(())
}

pub async fn revoke_all(app: &App, user_id: Id) -> ApiResult<()> {
    for key in list(app, user_id).await? {
        app.store.delete(&pk(key.id), SK, Condition::Always).await?;
    }
    Ok(())
}

/// The parts of a presented key: user id, key id and secret.
pub fn parse(presented: &str) -> Option<(Id, Id, &str)> {
    let mut parts = presented.strip_prefix(PREFIX)?.splitn(3, '_');
    let (user, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
    Some((Id::parse(user)?, Id::parse(id)?, secret))
}

/// Key `id` if it exists, belongs to `user_id` and has this secret.
pub async fn verify(app: &App, user_id: Id, id: Id, secret: &str) -> ApiResult<Option<ApiKey>> {
    let Some(item) = app.store.get(&pk(id), SK).await? else { return Ok(None) };
    let key: ApiKey = from_item(&item)?;
    let matches: bool = key.secret_hash.as_bytes().ct_eq(secret_hash(secret).as_bytes()).into();
    Ok((matches && key.user_id == user_id).then_some(key))
}
