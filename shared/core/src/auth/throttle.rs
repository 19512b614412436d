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

/// Counts a login attempt on the account before the password is checked, so that
/// concurrent guesses cannot outrun the lock: once more than `login_max_failures`
/// attempts have not been cleared by a success, the account is locked until
/// `lockout_seconds` after the latest attempt.
pub async fn begin_attempt(app: &App, email: &Email) -> ApiResult<()> {
    let now = app.clock.now_unix();
    let until = now + app.config.lockout_seconds;
    let item = app.store.add(&failures_pk(email), "FAIL", &[("count", 1)], Some(until)).await?;
    if item.int("count").unwrap_or(0) > app.config.login_max_failures {
        return Err(ApiError::AccountLocked { retry_after: (until - now).max(1) as u64 });
    }
    Ok(())
}

/// A successful login forgives the attempts before it.
pub async fn clear_failures(app: &App, email: &Email) -> ApiResult<()> {
    app.store.delete(&failures_pk(email), "FAIL", Condition::Always).await?;
    Ok(())
}
