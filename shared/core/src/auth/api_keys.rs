//! Personal API keys: `cfk_<user id>_<key id>_<secret>`. The ids let authentication
//! read the key and its user at once (one round trip); only the secret's hash is
//! stored, and the key is shown once, at creation.

use super::secret_hash;
use crate::app::App;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::repo::api_keys::{self, ApiKey};
use subtle::ConstantTimeEq;

pub const PREFIX: &str = "cfk_";

/// Creates a key; returns it with the only copy of the full key string.
pub async fn create(app: &App, user_id: Id, name: String) -> ApiResult<(ApiKey, String)> {
    let id = app.new_id();
    let secret = app.random_token();
    let key = ApiKey { id, user_id, name, secret_hash: secret_hash(&secret), created_at: app.now() };
    api_keys::create(app, &key).await?;
    Ok((key, format!("{PREFIX}{user_id}_{id}_{secret}")))
}

/// Deletes the user's key `id`; anyone else's key is 404.
pub async fn revoke(app: &App, user_id: Id, id: Id) -> ApiResult<()> {
    let (_, version) = api_keys::get_owned(app, user_id, id).await?;
    api_keys::delete(app, id, version).await
}

/// The parts of a presented key: user id, key id and secret.
pub fn parse(presented: &str) -> Option<(Id, Id, &str)> {
    let mut parts = presented.strip_prefix(PREFIX)?.splitn(3, '_');
    let (user, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
    Some((Id::parse(user)?, Id::parse(id)?, secret))
}

/// Key `id` if it exists, belongs to `user_id` and has this secret.
pub async fn verify(app: &App, user_id: Id, id: Id, secret: &str) -> ApiResult<Option<ApiKey>> {
    let Some((key, _)) = api_keys::get(app, id).await? else { return Ok(None) };
    let matches: bool = key.secret_hash.as_bytes().ct_eq(secret_hash(secret).as_bytes()).into();
    Ok((matches && key.user_id == user_id).then_some(key))
}
