//! Store-backed limits that hold across every instance of every function.

use crate::app::App;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::ports::Condition;

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

/// Refuses logins to an account that failed too often; the lock lifts
/// `lockout_seconds` after the last failure.
pub async fn check_lockout(app: &App, email: &Email) -> ApiResult<()> {
    let Some(item) = app.store.get(&failures_pk(email), "FAIL").await? else { return Ok(()) };
    if item.int("count").unwrap_or(0) >= app.config.login_max_failures {
        let retry_after = item.expires_at.unwrap_or(0) - app.clock.now_unix();
        return Err(ApiError::AccountLocked { retry_after: retry_after.max(1) as u64 });
    }
    Ok(())
}

pub async fn record_failure(app: &App, email: &Email) -> ApiResult<()> {
    let until = app.clock.now_unix() + app.config.lockout_seconds;
    app.store.add(&failures_pk(email), "FAIL", &[("count", 1)], Some(until)).await?;
    Ok(())
}

pub async fn clear_failures(app: &App, email: &Email) -> ApiResult<()> {
    app.store.delete(&failures_pk(email), "FAIL", Condition::Always).await?;
    Ok(())
}
