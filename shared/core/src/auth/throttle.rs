//! Store-backed limits that hold across every instance of every function.

use crate::app::App;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::repo::throttle::{self, AccountFailures};
use std::net::IpAddr;

/// Counts one event for `key` in the current fixed window of `window` seconds and
/// refuses it once more than `limit` fell in that window: in the store, so that the
/// limit holds across instances, or in memory where this process counts alone.
pub async fn fixed_window(app: &App, scope: &str, key: &str, limit: i64, window: i64) -> ApiResult<()> {
    let now = app.clock.now_unix();
    let start = now - now.rem_euclid(window);
    let end = start + window;
    let count = match &app.windows {
        Some(windows) => windows.count(format!("{scope}#{key}"), start, end, now),
        None => throttle::count_in_window(app, scope, key, start, end).await?,
    };
    if count > limit {
        return Err(ApiError::RateLimited { retry_after: (end - now).max(1) as u64 });
    }
    Ok(())
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
    let until = now + app.config.lockout_seconds;
    let (attempts, account) = futures::join!(
        throttle::count_attempt(app, email, ip, until),
        throttle::account_failures(app, email),
    );
    let attempts = attempts?;
    let refusal = if attempts > app.config.login_max_failures {
        Some(app.config.lockout_seconds.max(1) as u64)
    } else {
        account?.and_then(|failures| backoff_left(app, &failures, now)).filter(|_| attempts > 1)
    };
    let Some(retry_after) = refusal else { return Ok(()) };
    // A refused attempt checks no password, so it does not count against the client.
    throttle::uncount_attempt(app, email, ip).await?;
    Err(ApiError::AccountLocked { retry_after })
}

/// Seconds until the account's backoff ends, if it is in one. The failures expire
/// `lockout_seconds` after the latest, which dates it.
fn backoff_left(app: &App, account: &AccountFailures, now: i64) -> Option<u64> {
    let over = account.count - app.config.login_max_failures;
    let last_failure = account.expires_at? - app.config.lockout_seconds;
    let wait = 1i64.checked_shl(over.clamp(0, 62) as u32).unwrap_or(i64::MAX).min(app.config.lockout_seconds);
    let left = last_failure.saturating_add(wait) - now;
    (over > 0 && left > 0).then_some(left as u64)
}

/// A wrong password: counts toward the account's backoff.
pub async fn record_failure(app: &App, email: &Email) -> ApiResult<()> {
    throttle::count_failure(app, email, app.clock.now_unix() + app.config.lockout_seconds).await
}

/// A successful login forgives the client's attempts before it.
pub async fn clear_failures(app: &App, email: &Email, ip: IpAddr) -> ApiResult<()> {
    throttle::clear_attempts(app, email, ip).await
}

#[cfg(test)]
mod tests {
    use super::fixed_window;
    use crate::error::ApiError;
    use crate::testing;
    use futures::executor::block_on;
    use std::time::Duration;

    #[test]
    fn windows_in_memory_limit_without_writing_to_the_store() {
        let t = testing::app().counting_alone().build();
        for _ in 0..3 {
            block_on(fixed_window(&t.app, "ip", "k", 3, 60)).expect("under the limit");
        }
        let refused = block_on(fixed_window(&t.app, "ip", "k", 3, 60));
        assert!(matches!(refused, Err(ApiError::RateLimited { .. })), "{refused:?}");
        assert!(t.store.items().is_empty(), "nothing is written to the store");
        t.clock.advance(Duration::from_secs(60));
        block_on(fixed_window(&t.app, "ip", "k", 3, 60)).expect("a new window");
    }
}
