//! Logins and their refresh tokens. A login is a family of refresh tokens: opaque,
//! stored only as hashes, rotated on every use. Presenting a token that was rotated
//! longer ago than the grace period means it leaked, so the whole family is revoked
//! (OAuth 2.0 Security BCP, RFC 9700 §4.14.2); within the grace period
//! (`CONFAB_REFRESH_GRACE_SECONDS`) it returns the same successor, so two tabs
//! refreshing at once both stay signed in.
//!
//! The family also holds the hash of the login's CSRF token, so a CSRF header is
//! accepted only with the login it was issued to, and access tokens name their family,
//! so a revoked login's access tokens stop working at once.

use super::{keys, secret_hash};
use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange, StoreError, Write};
use crate::repo::{all_items, from_item, to_data};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const TOKEN_SK: &str = "REFRESH";
const FAMILY_SK: &str = "FAMILY";

#[derive(Serialize, Deserialize)]
struct TokenRecord {
    user_id: Id,
    family_id: Id,
    used: bool,
    /// When the token was rotated, and its successor's hash.
    #[serde(default)]
    rotated_at: Option<i64>,
    #[serde(default)]
    successor_hash: Option<String>,
}

/// One login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Family {
    pub user_id: Id,
    pub created_at: i64,
    pub revoked: bool,
    /// Hash of the login's CSRF token. Families from before it existed have none and
    /// pass no CSRF check: their cookie writes need a new login.
    #[serde(default)]
    csrf_hash: String,
}

impl Family {
    /// Whether `presented` is this login's CSRF token.
    pub fn csrf_matches(&self, presented: Option<&str>) -> bool {
        let Some(presented) = presented.filter(|p| !p.is_empty()) else { return false };
        !self.csrf_hash.is_empty()
            && bool::from(self.csrf_hash.as_bytes().ct_eq(secret_hash(presented).as_bytes()))
    }
}

/// A new refresh token and how long its cookie should live.
pub struct Issued {
    pub token: String,
    pub max_age: i64,
}

/// A new login: its first refresh token and its CSRF token.
pub struct Login {
    pub family_id: Id,
    pub refresh: Issued,
    pub csrf: String,
}

pub enum Outcome {
    Rotated {
        user_id: Id,
        family_id: Id,
        /// When the login started (unix seconds).
        started_at: i64,
        issued: Issued,
    },
    /// A token rotated before the grace period came back: its family is now revoked.
    Reused { user_id: Id },
}

fn token_pk(token: &str) -> String {
    format!("REFRESH#{}", secret_hash(token))
}

fn family_pk(id: Id) -> String {
    format!("FAMILY#{id}")
}

fn families_index(user_id: Id) -> String {
    format!("USER#{user_id}#FAMILIES")
}

fn family_item(id: Id, family: &Family, absolute: i64) -> Item {
    Item::new(family_pk(id), FAMILY_SK, to_data(family))
        .with_gsi1(families_index(family.user_id), id.to_string())
        .expiring_at(family.created_at + absolute)
}

/// When a token issued at `issued_at` expires: after the idle period, but never past
/// the family's end.
fn token_expiry(app: &App, family: &Family, issued_at: i64) -> i64 {
    (issued_at + app.config.refresh_idle_seconds).min(family.created_at + app.config.refresh_absolute_seconds)
}

fn token_write(app: &App, token: &str, record: &TokenRecord, family: &Family) -> (Issued, Write) {
    let now = app.clock.now_unix();
    let expires = token_expiry(app, family, now);
    let item = Item::new(token_pk(token), TOKEN_SK, to_data(record)).expiring_at(expires);
    (
        Issued { token: token.to_string(), max_age: expires - now },
        Write::Put { item, condition: Condition::NotExists },
    )
}

/// The token that replaces `token`: derived from it with a key only auth holds, so a
/// second presentation within the grace period yields the same one, and nobody who
/// lacks the key can compute it.
async fn successor(app: &App, token: &str) -> ApiResult<String> {
    let signer = keys::signer(app).await?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&signer.secret)
        .map_err(|e| ApiError::Internal(format!("refresh key: {e}")))?;
    mac.update(token.as_bytes());
    Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// Starts a login and returns its first refresh token and its CSRF token.
pub async fn start_family(app: &App, user_id: Id) -> ApiResult<Login> {
    let family_id = app.new_id();
    let csrf = app.random_token();
    let family =
        Family { user_id, created_at: app.clock.now_unix(), revoked: false, csrf_hash: secret_hash(&csrf) };
    let record = TokenRecord { user_id, family_id, used: false, rotated_at: None, successor_hash: None };
    let (refresh, token_write) = token_write(app, &app.random_token(), &record, &family);
    let family_write = Write::Put {
        item: family_item(family_id, &family, app.config.refresh_absolute_seconds),
        condition: Condition::NotExists,
    };
    app.store.transact(vec![family_write, token_write]).await?;
    Ok(Login { family_id, refresh, csrf })
}

/// The login `id` unless it was revoked or has ended.
pub async fn active_family(app: &App, id: Id) -> ApiResult<Option<Family>> {
    let Some(item) = app.store.get(&family_pk(id), FAMILY_SK).await? else { return Ok(None) };
    let family: Family = from_item(&item)?;
    Ok((!family.revoked).then_some(family))
}

/// Exchanges `token` for its successor, if `csrf` is its login's CSRF token. Unknown,
/// expired or revoked tokens are 401.
pub async fn rotate(app: &App, token: &str, csrf: Option<&str>) -> ApiResult<Outcome> {
    // A lost race means another request rotated this token first; reading it again
    // finds it rotated within the grace period, and returns the same successor.
    for _ in 0..2 {
        let item = app.store.get(&token_pk(token), TOKEN_SK).await?.ok_or(ApiError::Unauthorized)?;
        let record: TokenRecord = from_item(&item)?;
        let family_item_now =
            app.store.get(&family_pk(record.family_id), FAMILY_SK).await?.ok_or(ApiError::Unauthorized)?;
        let family: Family = from_item(&family_item_now)?;
        if family.revoked {
            return Err(ApiError::Unauthorized);
        }
        if !family.csrf_matches(csrf) {
            return Err(ApiError::CsrfFailed);
        }
        if record.used {
            return rotated_again(app, token, &record, &family).await;
        }
        let next = successor(app, token).await?;
        let now = app.clock.now_unix();
        let used = TokenRecord {
            used: true,
            rotated_at: Some(now),
            successor_hash: Some(secret_hash(&next)),
            ..record
        };
        let mut used_item = Item::new(item.pk.clone(), TOKEN_SK, to_data(&used));
        used_item.expires_at = item.expires_at;
        let fresh = TokenRecord { used: false, rotated_at: None, successor_hash: None, ..used };
        let (issued, new_write) = token_write(app, &next, &fresh, &family);
        let writes = vec![
            Write::Put { item: used_item, condition: Condition::Version(item.version) },
            new_write,
            Write::Check {
                pk: family_item_now.pk,
                sk: FAMILY_SK.into(),
                condition: Condition::Version(family_item_now.version),
            },
        ];
        match app.store.transact(writes).await {
            Ok(()) => {
                let (user_id, family_id, started_at) = (used.user_id, used.family_id, family.created_at);
                return Ok(Outcome::Rotated { user_id, family_id, started_at, issued });
            }
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unauthorized)
}

/// A rotated token presented again: its successor within the grace period, else reuse.
async fn rotated_again(app: &App, token: &str, record: &TokenRecord, family: &Family) -> ApiResult<Outcome> {
    let now = app.clock.now_unix();
    let rotated_at = record.rotated_at.filter(|at| now - at < app.config.refresh_grace_seconds);
    if let Some(at) = rotated_at {
        let next = successor(app, token).await?;
        // A signing-key rotation in between changes the derivation: refuse, not revoke.
        if record.successor_hash.as_deref() != Some(secret_hash(&next).as_str()) {
            return Err(ApiError::Unauthorized);
        }
        let issued = Issued { max_age: token_expiry(app, family, at) - now, token: next };
        let (user_id, family_id, started_at) = (record.user_id, record.family_id, family.created_at);
        return Ok(Outcome::Rotated { user_id, family_id, started_at, issued });
    }
    revoke(app, record.family_id).await?;
    Ok(Outcome::Reused { user_id: record.user_id })
}

/// Ends the login `family_id` (logout): its refresh and access tokens stop working.
pub async fn revoke(app: &App, family_id: Id) -> ApiResult<()> {
    let Some(item) = app.store.get(&family_pk(family_id), FAMILY_SK).await? else { return Ok(()) };
    let mut family: Family = from_item(&item)?;
    family.revoked = true;
    let mut revoked = family_item(family_id, &family, app.config.refresh_absolute_seconds);
    revoked.expires_at = item.expires_at;
    app.store.put(revoked, Condition::Always).await?;
    Ok(())
}

/// The login `token` belongs to, if the token is known.
pub async fn family_of(app: &App, token: &str) -> ApiResult<Option<(Id, Family)>> {
    let Some(item) = app.store.get(&token_pk(token), TOKEN_SK).await? else { return Ok(None) };
    let id = from_item::<TokenRecord>(&item)?.family_id;
    Ok(active_family(app, id).await?.map(|family| (id, family)))
}

/// Revokes every family of `user_id` (account disabled).
pub async fn revoke_all(app: &App, user_id: Id) -> ApiResult<()> {
    let query = Query::new(families_index(user_id), SkRange::All).on_gsi1();
    for item in all_items(app, query).await? {
        if let Some(id) = item.pk.strip_prefix("FAMILY#").and_then(Id::parse) {
            revoke(app, id).await?;
        }
    }
    Ok(())
}
