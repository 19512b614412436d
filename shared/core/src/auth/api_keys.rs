//! Personal API keys: `cfk_<user id>_<key id>_<secret>`. The ids let authentication
//! read the key and its user at once (one round trip); only the secret's hash is
//! stored, and the key is shown once, at creation. A key reaches only what its scopes
//! name ([`reach`]), only its models, and nothing after its expiry.

use super::secret_hash;
use crate::app::App;
use crate::domain::{Id, ModelAllowlist, Scope, Scopes};
use crate::error::{ApiError, ApiResult};
use crate::repo::api_keys::{self, ApiKey};
use crate::routes::Function;
use http::Method;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

pub const PREFIX: &str = "cfk_";

/// `last_used_at` is rewritten at most this often, so most uses write nothing.
const USE_RECORDED_EVERY: Duration = Duration::minutes(1);

/// What a new key may do, already checked.
pub struct Grant {
    pub scopes: Scopes,
    pub models: Option<ModelAllowlist>,
    pub expires_at: Option<OffsetDateTime>,
}

/// Creates a key; returns it with the only copy of the full key string.
pub async fn create(app: &App, user_id: Id, name: String, grant: Grant) -> ApiResult<(ApiKey, String)> {
    let id = app.new_id();
    let secret = app.random_token();
    let key = ApiKey {
        id,
        user_id,
        name,
        secret_hash: secret_hash(&secret),
        created_at: app.now(),
        scopes: grant.scopes,
        models: grant.models,
        expires_at: grant.expires_at,
        last_used_at: None,
    };
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

/// Key `id` and its version if it exists, belongs to `user_id` and has this secret.
pub async fn verify(app: &App, user_id: Id, id: Id, secret: &str) -> ApiResult<Option<(ApiKey, u64)>> {
    let Some((key, version)) = api_keys::get(app, id).await? else { return Ok(None) };
    let matches: bool = key.secret_hash.as_bytes().ct_eq(secret_hash(secret).as_bytes()).into();
    Ok((matches && key.user_id == user_id).then_some((key, version)))
}

/// 401 `api_key_expired` once the key's expiry has passed, by the clock port; else
/// 403 `insufficient_scope` unless its scopes reach `method path`.
pub fn admit(app: &App, key: &ApiKey, method: &Method, path: &str) -> ApiResult<()> {
    if key.expires_at.is_some_and(|at| at <= app.now()) {
        return Err(ApiError::ApiKeyExpired);
    }
    match reach(method, path) {
        Reach::Any => Ok(()),
        Reach::Scope(scope) if key.scopes.contains(scope) => Ok(()),
        Reach::Scope(scope) => Err(ApiError::InsufficientScope(missing(scope))),
        Reach::Never => {
            Err(ApiError::InsufficientScope("API keys cannot manage the account; sign in to do this"))
        }
    }
}

/// What an API key needs to reach a path.
#[derive(Debug, PartialEq, Eq)]
pub enum Reach {
    Any,
    Scope(Scope),
    /// People only, whatever the key's scopes.
    Never,
}

/// The one rule for every function, by path, so that a route is covered the day it is
/// added. Under `/auth` a key reaches only who it is (`GET /auth/me`) and the public
/// documents: everything else there signs in or manages the account (keys, password,
/// MFA, logins, identity providers, deletion), which a leaked key must never do.
pub fn reach(method: &Method, path: &str) -> Reach {
    let read = matches!(*method, Method::GET | Method::HEAD);
    match Function::for_path(path) {
        Some(Function::Chat) => Reach::Scope(Scope::Chat),
        Some(Function::Session) if read => Reach::Scope(Scope::SessionsRead),
        Some(Function::Session) => Reach::Scope(Scope::SessionsWrite),
        Some(Function::Admin) => Reach::Scope(Scope::Admin),
        Some(Function::Auth) => {
            let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
            let public =
                matches!(segments.as_slice(), ["auth", "me" | "health" | "jwks.json"] | ["openapi.json"]);
            if read && public { Reach::Any } else { Reach::Never }
        }
        None => Reach::Never,
    }
}

fn missing(scope: Scope) -> &'static str {
    match scope {
        Scope::Chat => "this API key lacks the chat scope",
        Scope::SessionsRead => "this API key lacks the sessions:read scope",
        Scope::SessionsWrite => "this API key lacks the sessions:write scope",
        Scope::Admin => "this API key lacks the admin scope",
    }
}

/// Records that the key was used now, when what is stored is a minute old or more.
/// Failure only costs the record, never the request.
pub async fn note_use(app: &App, key: &ApiKey, version: u64) {
    let now = app.now();
    if key.last_used_at.is_some_and(|at| now - at < USE_RECORDED_EVERY) {
        return;
    }
    match api_keys::record_use(app, key, version, now).await {
        // Another use recorded it first, or the key was revoked meanwhile.
        Ok(()) | Err(ApiError::Conflict(_)) => {}
        Err(e) => tracing::warn!(key_id = %key.id, error = %e, "an API key's last use was not recorded"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Reach, reach};
    use crate::domain::Scope;
    use http::Method;

    #[test]
    fn every_function_needs_its_scope() {
        let table = [
            (Method::POST, "/chat/sessions/x/messages", Reach::Scope(Scope::Chat)),
            (Method::GET, "/chat/sessions/x/messages/y/stream", Reach::Scope(Scope::Chat)),
            (Method::POST, "/v1/chat/completions", Reach::Scope(Scope::Chat)),
            (Method::GET, "/v1/models", Reach::Scope(Scope::Chat)),
            (Method::GET, "/sessions", Reach::Scope(Scope::SessionsRead)),
            (Method::HEAD, "/sessions/x/messages", Reach::Scope(Scope::SessionsRead)),
            (Method::POST, "/sessions", Reach::Scope(Scope::SessionsWrite)),
            (Method::PATCH, "/sessions/x", Reach::Scope(Scope::SessionsWrite)),
            (Method::DELETE, "/sessions/x", Reach::Scope(Scope::SessionsWrite)),
            (Method::POST, "/sessions/x/export", Reach::Scope(Scope::SessionsWrite)),
            (Method::GET, "/admin/users", Reach::Scope(Scope::Admin)),
            (Method::PUT, "/admin/models", Reach::Scope(Scope::Admin)),
        ];
        for (method, path, needed) in table {
            assert_eq!(reach(&method, path), needed, "{method} {path}");
        }
    }

    #[test]
    fn under_auth_a_key_reaches_only_who_it_is_and_public_documents() {
        for path in ["/auth/me", "/auth/jwks.json", "/auth/health", "/openapi.json", "/auth/me/"] {
            assert_eq!(reach(&Method::GET, path), Reach::Any, "{path}");
        }
        let account = [
            (Method::DELETE, "/auth/me"),
            (Method::GET, "/auth/api-keys"),
            (Method::POST, "/auth/api-keys"),
            (Method::DELETE, "/auth/api-keys/x"),
            (Method::POST, "/auth/mfa/totp/setup"),
            (Method::POST, "/auth/password"),
            (Method::POST, "/auth/password/reset"),
            (Method::GET, "/auth/logins"),
            (Method::DELETE, "/auth/logins/x"),
            (Method::GET, "/auth/oidc/providers"),
            (Method::GET, "/auth/oidc/corp/start"),
            (Method::POST, "/auth/login"),
            (Method::POST, "/auth/register"),
            (Method::POST, "/auth/refresh"),
            (Method::POST, "/auth/logout"),
            (Method::GET, "/auth/anything-added-later"),
            (Method::GET, "/auth"),
            (Method::GET, "/elsewhere"),
        ];
        for (method, path) in account {
            assert_eq!(reach(&method, path), Reach::Never, "{method} {path}");
        }
    }
}
