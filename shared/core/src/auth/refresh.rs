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
use crate::http::{Request, client_ip, header_str};
use crate::repo::refresh::{self, Family, NewToken, Stored, TokenRecord};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Most characters of a user agent a login keeps.
const USER_AGENT_CHARS: usize = 200;

/// Where a login is used from, as its owner sees it in their list of logins.
pub struct Client {
    pub ip: String,
    pub user_agent: Option<String>,
}

impl Client {
    /// The request's client address and its `User-Agent`, cut short and stripped of
    /// control characters (it is the caller's text, shown back in a list).
    pub fn of(req: &Request) -> Client {
        let user_agent = header_str(req, http::header::USER_AGENT)
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(USER_AGENT_CHARS).collect::<String>());
        Client { ip: client_ip(req).to_string(), user_agent: user_agent.filter(|ua| !ua.is_empty()) }
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

/// When a token issued at `issued_at` expires: after the idle period, but never past
/// the family's end.
fn token_expiry(app: &App, family: &Family, issued_at: i64) -> i64 {
    (issued_at + app.config.refresh_idle_seconds).min(family.created_at + app.config.refresh_absolute_seconds)
}

/// `token` with `record`, issued now, and how long its cookie lives.
fn new_token<'a>(app: &App, token: &'a str, record: TokenRecord, family: &Family) -> (NewToken<'a>, i64) {
    let now = app.clock.now_unix();
    let expires_at = token_expiry(app, family, now);
    (NewToken { token, record, expires_at }, expires_at - now)
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

/// Starts a login from `client` and returns its first refresh token and its CSRF token.
pub async fn start_family(app: &App, user_id: Id, client: Client) -> ApiResult<Login> {
    let family_id = app.new_id();
    let csrf = app.random_token();
    let now = app.clock.now_unix();
    let family = Family {
        user_id,
        created_at: now,
        revoked: false,
        csrf_hash: secret_hash(&csrf),
        last_used_at: Some(now),
        ip: Some(client.ip),
        user_agent: client.user_agent,
    };
    let record = TokenRecord { user_id, family_id, used: false, rotated_at: None, successor_hash: None };
    let token = app.random_token();
    let (first, max_age) = new_token(app, &token, record, &family);
    let family_ends = family.created_at + app.config.refresh_absolute_seconds;
    refresh::create(app, family_id, &family, family_ends, &first).await?;
    end_oldest_logins(app, user_id).await?;
    Ok(Login { family_id, refresh: Issued { token, max_age }, csrf })
}

/// Logins a user may have at once. Past it, starting one ends the oldest, so ending
/// every login (a password change) is bounded work that no pile of logins outlasts.
pub const MAX_LOGINS: usize = 50;

async fn end_oldest_logins(app: &App, user_id: Id) -> ApiResult<()> {
    let active = active_families(app, user_id).await?;
    let excess = active.len().saturating_sub(MAX_LOGINS);
    let ends: Vec<_> = active.iter().take(excess).map(|(id, _)| revoke(app, *id)).collect();
    futures::future::try_join_all(ends).await?;
    Ok(())
}

/// The login `id` unless it was revoked or has ended.
pub async fn active_family(app: &App, id: Id) -> ApiResult<Option<Family>> {
    let Some(family) = refresh::family(app, id).await? else { return Ok(None) };
    Ok((!family.record.revoked).then_some(family.record))
}

/// Exchanges `token` for its successor, if `csrf` is its login's CSRF token, and notes
/// the login's use by `client`. Unknown, expired or revoked tokens are 401.
pub async fn rotate(app: &App, token: &str, csrf: Option<&str>, client: &Client) -> ApiResult<Outcome> {
    // A lost race means another request rotated this token first; reading it again
    // finds it rotated within the grace period, and returns the same successor.
    for _ in 0..2 {
        let stored = refresh::token(app, token).await?.ok_or(ApiError::Unauthorized)?;
        let family = refresh::family(app, stored.record.family_id).await?.ok_or(ApiError::Unauthorized)?;
        if family.record.revoked {
            return Err(ApiError::Unauthorized);
        }
        if !family.record.csrf_matches(csrf) {
            return Err(ApiError::CsrfFailed);
        }
        if stored.record.used {
            return rotated_again(app, token, &stored.record, &family.record).await;
        }
        let next = successor(app, token).await?;
        let now = app.clock.now_unix();
        let used = TokenRecord {
            used: true,
            rotated_at: Some(now),
            successor_hash: Some(secret_hash(&next)),
            ..stored.record
        };
        let (user_id, family_id, started_at) = (used.user_id, used.family_id, family.record.created_at);
        let fresh = TokenRecord { user_id, family_id, used: false, rotated_at: None, successor_hash: None };
        let (successor, max_age) = new_token(app, &next, fresh, &family.record);
        let used = Stored { record: used, ..stored };
        let family = Stored {
            record: Family {
                last_used_at: Some(now),
                ip: Some(client.ip.clone()),
                user_agent: client.user_agent.clone(),
                ..family.record
            },
            ..family
        };
        if refresh::rotate(app, token, &used, &successor, &family).await? {
            let issued = Issued { token: next, max_age };
            return Ok(Outcome::Rotated { user_id, family_id, started_at, issued });
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
    let Some(mut family) = refresh::family(app, family_id).await? else { return Ok(()) };
    family.record.revoked = true;
    refresh::save_family(app, family_id, &family).await
}

/// The login `token` belongs to, if the token is known.
pub async fn family_of(app: &App, token: &str) -> ApiResult<Option<(Id, Family)>> {
    let Some(stored) = refresh::token(app, token).await? else { return Ok(None) };
    let id = stored.record.family_id;
    Ok(active_family(app, id).await?.map(|family| (id, family)))
}

/// Revokes every family of `user_id` (account disabled, password reset).
pub async fn revoke_all(app: &App, user_id: Id) -> ApiResult<()> {
    revoke_all_but(app, user_id, None).await
}

/// Revokes every family of `user_id` but `keep` (password changed on that login).
pub async fn revoke_all_but(app: &App, user_id: Id, keep: Option<Id>) -> ApiResult<()> {
    let families = refresh::families(app, user_id).await?;
    let ends: Vec<_> = families
        .iter()
        .filter(|(id, family)| !family.revoked && Some(*id) != keep)
        .map(|(id, _)| revoke(app, *id))
        .collect();
    futures::future::try_join_all(ends).await?;
    Ok(())
}

/// The logins of `user_id` still in use, oldest first.
pub async fn active_families(app: &App, user_id: Id) -> ApiResult<Vec<(Id, Family)>> {
    let mut families = refresh::families(app, user_id).await?;
    families.retain(|(_, family)| !family.revoked);
    Ok(families)
}

#[cfg(test)]
mod tests {
    use super::{Client, MAX_LOGINS, active_families, start_family};
    use crate::auth::keys::initial_secrets;
    use crate::testing;

    #[test]
    fn a_new_login_past_the_limit_ends_the_oldest() {
        let t = testing::app().build();
        for (name, value) in initial_secrets(&*t.app.random, &*t.app.clock) {
            t.secrets.set(&name, &value);
        }
        let user_id = t.app.new_id();
        let client = || Client { ip: "192.0.2.1".into(), user_agent: None };
        let (first, active) = t.run(async {
            let first = start_family(&t.app, user_id, client()).await.unwrap();
            for _ in 0..MAX_LOGINS + 1 {
                start_family(&t.app, user_id, client()).await.unwrap();
            }
            (first, active_families(&t.app, user_id).await.unwrap())
        });
        assert_eq!(active.len(), MAX_LOGINS);
        assert!(active.iter().all(|(id, _)| *id != first.family_id), "the oldest ended");
    }
}
