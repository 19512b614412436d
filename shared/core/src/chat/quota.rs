//! Per-user quotas (requests per minute, tokens per day), checked before a provider is
//! called, and usage accounting per user, model and day. Tokens are reserved (an
//! estimate) before the call and settled to the real count after, so concurrent
//! requests cannot together go over the day's quota.

use super::context::estimate_prompt;
use crate::app::App;
use crate::auth::throttle::fixed_window;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{QUOTA_REFUSALS, Sample};
use crate::providers::{ChatRequest, Usage};
use crate::repo::users::User;
use crate::repo::{persist, quota, throttle, usage};
use std::future::Future;
use std::sync::Arc;
use time::Date;

/// The reply limit of a `/v1` request that names none and whose model sets none.
pub const DEFAULT_REPLY_TOKENS: u32 = 4096;

/// The tokens a request may use at most, as far as can be known before it is sent: its
/// prompt, plus its reply limit (the client's, else the model's, else a default).
pub fn estimate(req: &ChatRequest) -> u64 {
    estimate_prompt(req).saturating_add(u64::from(req.max_tokens.unwrap_or(DEFAULT_REPLY_TOKENS)))
}

/// Admits a request: counts it against the per-minute limit while `prepare` readies it
/// (concurrently: both are store round trips), then reserves the tokens `prepare`
/// estimated. Refused (429 with `Retry-After`) when either limit is reached; a refused
/// or failed admission holds no tokens.
pub async fn admit<T>(
    app: &Arc<App>,
    user: &User,
    prepare: impl Future<Output = ApiResult<(T, u64)>>,
) -> ApiResult<(T, Reservation)> {
    let reserved = async {
        let (prepared, tokens) = prepare.await?;
        Ok::<_, ApiError>((prepared, reserve(app, user, tokens).await?))
    };
    let rpm = user.quota.requests_per_minute.unwrap_or(app.config.requests_per_minute);
    let key = user.id.to_string();
    let (minute, reserved) = futures::join!(fixed_window(app, throttle::CHAT_SCOPE, &key, rpm, 60), reserved);
    if matches!(minute, Err(ApiError::RateLimited { .. })) {
        refused(app, "requests_per_minute");
    }
    minute?;
    reserved
}

fn refused(app: &App, limit: &str) {
    app.metrics.record(&[Sample::new(&QUOTA_REFUSALS, &[limit], 1.0)]);
}

/// Adds `tokens` to the user's day in one atomic step, and takes them back at once if
/// that goes over the day's quota, so concurrent requests cannot all pass one check.
async fn reserve(app: &Arc<App>, user: &User, tokens: u64) -> ApiResult<Reservation> {
    let per_day = user.quota.tokens_per_day.unwrap_or(app.config.tokens_per_day);
    let now = app.clock.now();
    let mut reservation = Reservation {
        app: app.clone(),
        user_id: user.id,
        day: now.date(),
        tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
        held: false,
    };
    let total = reservation.add(reservation.tokens).await?;
    if total > per_day {
        reservation.add(-reservation.tokens).await?;
        refused(app, "tokens_per_day");
        let midnight = now.date().next_day().map(|d| d.midnight().assume_utc()).unwrap_or(now);
        let retry_after = (midnight - now).whole_seconds().max(1) as u64;
        return Err(ApiError::RateLimited { retry_after });
    }
    reservation.held = true;
    Ok(reservation)
}

/// Tokens counted against a user's day before the provider is called. [`settle`]
/// replaces them with the real count; dropped unsettled (the request failed or was
/// refused before the provider answered), they are given back.
///
/// [`settle`]: Reservation::settle
pub struct Reservation {
    app: Arc<App>,
    user_id: Id,
    /// The day the tokens were counted on, which the settlement corrects.
    day: Date,
    tokens: i64,
    held: bool,
}

impl Reservation {
    /// Adds `tokens` to the day's count; returns the new count.
    async fn add(&self, tokens: i64) -> ApiResult<i64> {
        quota::add_tokens(&self.app, self.user_id, self.day, tokens).await
    }

    /// [`add`](Self::add), retried while the store is unavailable: a correction
    /// nobody would otherwise make.
    async fn correct(&self, tokens: i64) -> ApiResult<i64> {
        persist(&self.app, || self.add(tokens)).await
    }

    /// Counts the request's real usage: corrects the user's day by the difference from
    /// the reservation and adds the usage to the report.
    pub async fn settle(mut self, model: &str, usage: Usage) -> ApiResult<()> {
        self.held = false;
        let used = usage.input_tokens.saturating_add(usage.output_tokens);
        let correction = i64::try_from(used).unwrap_or(i64::MAX).saturating_sub(self.tokens);
        let today = self.app.clock.now().date();
        let report = persist(&self.app, || usage::add(&self.app, today, self.user_id, model, usage));
        let (quota, report) = futures::join!(self.correct(correction), report);
        quota?;
        report
    }
}

/// Counts usage that nothing was reserved for: a small call of bounded size made on
/// the user's behalf at the end of a turn (a title).
pub async fn count(app: &Arc<App>, user_id: Id, model: &str, usage: Usage) -> ApiResult<()> {
    let day = app.clock.now().date();
    Reservation { app: app.clone(), user_id, day, tokens: 0, held: false }.settle(model, usage).await
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !std::mem::replace(&mut self.held, false) {
            return;
        }
        let unheld = Reservation { app: self.app.clone(), ..*self };
        self.app.spawner.spawn(Box::pin(async move {
            if let Err(e) = unheld.correct(-unheld.tokens).await {
                tracing::error!(error = %e, "reserved tokens could not be given back");
            }
        }));
    }
}

#[cfg(test)]
mod tests;
