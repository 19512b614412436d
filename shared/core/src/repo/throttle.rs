//! The counters behind the store-backed limits: fixed rate-limit windows, and failed
//! logins per account and per client of an account.

use super::{Progress, delete_page};
use crate::app::App;
use crate::domain::{Email, Id};
use crate::error::ApiResult;
use crate::http::client_key;
use crate::ports::{Condition, Query, SkRange};
use std::net::IpAddr;

/// The scope of the per-user chat request limit, whose windows are keyed by user id.
pub const CHAT_SCOPE: &str = "chat";

fn window_pk(scope: &str, key: &str) -> String {
    format!("RATE#{scope}#{key}")
}

/// Counts one event for `key` in the window starting at `start` (the count expires at
/// `end`); returns the window's count so far.
pub async fn count_in_window(app: &App, scope: &str, key: &str, start: i64, end: i64) -> ApiResult<i64> {
    let item = app.store.add(&window_pk(scope, key), &start.to_string(), &[("count", 1)], Some(end)).await?;
    Ok(item.int("count").unwrap_or(0))
}

fn failures_pk(email: &Email) -> String {
    format!("LOGINFAIL#{}", email.as_str())
}

const ACCOUNT_SK: &str = "FAIL";

fn client_sk(ip: IpAddr) -> String {
    format!("IP#{}", client_key(ip))
}

/// An account's failed logins from anywhere.
pub struct AccountFailures {
    pub count: i64,
    /// When the count expires: it is kept for the lockout after its latest failure.
    pub expires_at: Option<i64>,
}

/// Counts a login attempt on the account from `ip`, kept until `until`; returns the
/// client's attempts so far.
pub async fn count_attempt(app: &App, email: &Email, ip: IpAddr, until: i64) -> ApiResult<i64> {
    let item = app.store.add(&failures_pk(email), &client_sk(ip), &[("count", 1)], Some(until)).await?;
    Ok(item.int("count").unwrap_or(0))
}

/// Takes back an attempt [`count_attempt`] counted.
pub async fn uncount_attempt(app: &App, email: &Email, ip: IpAddr) -> ApiResult<()> {
    app.store.add(&failures_pk(email), &client_sk(ip), &[("count", -1)], None).await?;
    Ok(())
}

/// Forgets the client's attempts on the account.
pub async fn clear_attempts(app: &App, email: &Email, ip: IpAddr) -> ApiResult<()> {
    app.store.delete(&failures_pk(email), &client_sk(ip), Condition::Always).await?;
    Ok(())
}

pub async fn account_failures(app: &App, email: &Email) -> ApiResult<Option<AccountFailures>> {
    let item = app.store.get(&failures_pk(email), ACCOUNT_SK).await?;
    Ok(item.map(|i| AccountFailures { count: i.int("count").unwrap_or(0), expires_at: i.expires_at }))
}

/// Counts a failure against the account, kept until `until`.
pub async fn count_failure(app: &App, email: &Email, until: i64) -> ApiResult<()> {
    app.store.add(&failures_pk(email), ACCOUNT_SK, &[("count", 1)], Some(until)).await?;
    Ok(())
}

/// Forgets every failed login on the account, from every client (a password reset).
pub async fn clear_account(app: &App, email: &Email) -> ApiResult<()> {
    let mut cursor = None;
    while let Progress::More(next) = delete_failures(app, email, cursor).await? {
        cursor = next;
    }
    Ok(())
}

/// Deletes a batch of the account's failed-login counts.
pub async fn delete_failures(app: &App, email: &Email, cursor: Option<String>) -> ApiResult<Progress> {
    delete_page(app, Query::new(failures_pk(email), SkRange::All), cursor).await
}

/// Deletes a batch of the user's chat request windows (account deletion).
pub async fn delete_user_windows(app: &App, user_id: Id, cursor: Option<String>) -> ApiResult<Progress> {
    delete_page(app, Query::new(window_pk(CHAT_SCOPE, &user_id.to_string()), SkRange::All), cursor).await
}
