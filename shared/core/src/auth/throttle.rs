//! Store-backed limits that hold across every instance of every function.

use crate::app::App;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item};
use std::net::IpAddr;

/// Counts one event for `key` in the current fixed window of `window` seconds and
/// refuses it once more than `limit` fell in that window.
pub async fn fixed_window(app: &App, scope: &str, key: &str, limit: i64, window: i64) -> ApiResult<()> {
    let now = app.clock.now_unix();
    let start = now - now.rem_euclid(window);
    let end = start + window;
    let item =
        app.store.add(&format!("RATE#{scope}#{key}"), &start.to_string(), &[("count", 1)], Some(end)).await?;
    if item.int("count").unwrap_or(0) > limit {
        return Err(ApiError::RateLimited { retry_after: (end - now).max(1) as u64 });
    }
    Ok(())
}

fn failures_pk(email: &Email) -> String {
    format!("LOGINFAIL#{}", email.as_str())
}

const ACCOUNT_SK: &str = "FAIL";

fn client_sk(ip: IpAddr) -> String {
    format!("IP#{ip}")
}

/// Counts a login attempt before the password is checked, so that concurrent guesses
/// cannot outrun the limits (OWASP's authentication guidance):
/// - per account and client address: once more than `login_max_failures` attempts
///   from this client have not been cleared by a success, the client is locked out of
///   the account until `lockout_seconds` after its latest attempt;
/// - per account: past `login_max_failures` failures from anywhere, a client that has
///   itself failed on the account waits twice as long after each further failure (up
///   to `lockout_seconds`). A client that has not been failing goes through, so nobody
///   can lock a person out of their own account.
pub async fn begin_attempt(app: &App, email: &Email, ip: IpAddr) -> ApiResult<()> {
    let now = app.clock.now_unix();
    let (pk, sk) = (failures_pk(email), client_sk(ip));
    let until = now + app.config.lockout_seconds;
    let (client, account) = futures::join!(
        app.store.add(&pk, &sk, &[("count", 1)], Some(until)),
        app.store.get(&pk, ACCOUNT_SK),
    );
    let attempts = client?.int("count").unwrap_or(0);
    if attempts > app.config.login_max_failures {
        return Err(ApiError::AccountLocked { retry_after: app.config.lockout_seconds.max(1) as u64 });
    }
    match account?.and_then(|item| backoff_left(app, &item, now)) {
        Some(wait) if attempts > 1 => Err(ApiError::AccountLocked { retry_after: wait }),
        _ => Ok(()),
    }
}

/// Seconds until the account's backoff ends, if it is in one. The item expires
/// `lockout_seconds` after its latest failure, which dates that failure.
fn backoff_left(app: &App, account: &Item, now: i64) -> Option<u64> {
    let over = account.int("count").unwrap_or(0) - app.config.login_max_failures;
    let last_failure = account.expires_at? - app.config.lockout_seconds;
    let wait = 1i64.checked_shl(over.clamp(0, 62) as u32).unwrap_or(i64::MAX).min(app.config.lockout_seconds);
    let left = last_failure.saturating_add(wait) - now;
    (over > 0 && left > 0).then_some(left as u64)
}

/// A wrong password: counts toward the account's backoff.
pub async fn record_failure(app: &App, email: &Email) -> ApiResult<()> {
    let until = app.clock.now_unix() + app.config.lockout_seconds;
    app.store.add(&failures_pk(email), ACCOUNT_SK, &[("count", 1)], Some(until)).await?;
    Ok(())
}

/// A successful login forgives the client's attempts before it.
pub async fn clear_failures(app: &App, email: &Email, ip: IpAddr) -> ApiResult<()> {
    app.store.delete(&failures_pk(email), &client_sk(ip), Condition::Always).await?;
    Ok(())
}
