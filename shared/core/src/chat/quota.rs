//! Per-user quotas (requests per minute, tokens per day), checked before a provider is
//! called, and usage accounting per user, model and day.

use crate::app::App;
use crate::auth::throttle::fixed_window;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::providers::Usage;
use crate::repo::users::User;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::format_description;
use utoipa::ToSchema;

/// A user's own limits; absent fields fall back to the deployment's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    #[serde(default, deserialize_with = "crate::http::whole_number")]
    #[schema(minimum = 1)]
    pub requests_per_minute: Option<i64>,
    #[serde(default, deserialize_with = "crate::http::whole_number")]
    #[schema(minimum = 1)]
    pub tokens_per_day: Option<i64>,
}

pub fn day(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

fn tokens_pk(user_id: Id) -> String {
    format!("QUOTA#{user_id}")
}

/// Refuses the request (429 with `Retry-After`) when the user is over either limit.
/// Counts the request against the per-minute limit.
pub async fn check(app: &App, user: &User) -> ApiResult<()> {
    let rpm = user.quota.requests_per_minute.unwrap_or(app.config.requests_per_minute);
    let per_day = user.quota.tokens_per_day.unwrap_or(app.config.tokens_per_day);
    let now = app.clock.now();
    let today = day(now);
    let pk = tokens_pk(user.id);
    let user_key = user.id.to_string();
    let (minute, used) =
        futures::join!(fixed_window(app, "chat", &user_key, rpm, 60), app.store.get(&pk, &today));
    minute?;
    if used?.and_then(|i| i.int("tokens")).unwrap_or(0) >= per_day {
        let midnight = now.date().next_day().map(|d| d.midnight().assume_utc()).unwrap_or(now);
        let retry_after = (midnight - now).whole_seconds().max(1) as u64;
        return Err(ApiError::RateLimited { retry_after });
    }
    Ok(())
}

/// Adds one request's usage to the user's daily tokens and the usage report.
pub async fn record(app: &App, user_id: Id, model: &str, usage: Usage) -> ApiResult<()> {
    let now = app.clock.now();
    let today = day(now);
    let total = (usage.input_tokens + usage.output_tokens) as i64;
    let expires = now.unix_timestamp() + 2 * 86_400;
    let report_sk = format!("{user_id}#{model}");
    let deltas = [
        ("requests", 1),
        ("input_tokens", usage.input_tokens as i64),
        ("output_tokens", usage.output_tokens as i64),
    ];
    let (quota_pk, report_pk, tokens) = (tokens_pk(user_id), format!("USAGE#{today}"), [("tokens", total)]);
    let (quota, report) = futures::join!(
        app.store.add(&quota_pk, &today, &tokens, Some(expires)),
        app.store.add(&report_pk, &report_sk, &deltas, None),
    );
    quota?;
    report?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRow {
    pub day: String,
    pub user_id: String,
    pub model: String,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// Usage rows for each day from `from` to `to` (inclusive), optionally one user's.
pub async fn report(
    app: &App,
    from: time::Date,
    to: time::Date,
    user_id: Option<Id>,
) -> ApiResult<Vec<UsageRow>> {
    use crate::ports::{Query, SkRange};
    let mut rows = Vec::new();
    let mut date = from;
    while date <= to {
        let today = day(date.midnight().assume_utc());
        let range = user_id.map_or(SkRange::All, |u| SkRange::Prefix(format!("{u}#")));
        for item in crate::repo::all_items(app, Query::new(format!("USAGE#{today}"), range)).await? {
            let (user, model) = item.sk.split_once('#').unwrap_or((&item.sk, ""));
            rows.push(UsageRow {
                day: today.clone(),
                user_id: user.to_string(),
                model: model.to_string(),
                requests: item.int("requests").unwrap_or(0),
                input_tokens: item.int("input_tokens").unwrap_or(0),
                output_tokens: item.int("output_tokens").unwrap_or(0),
            });
        }
        let Some(next) = date.next_day() else { break };
        date = next;
    }
    Ok(rows)
}
