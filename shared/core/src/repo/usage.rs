//! The usage report: requests and tokens per day, user and model.

use super::{Progress, all_items, day_key, delete_items, tally};
use crate::app::App;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Query, SkRange};
use crate::providers::Usage;
use serde::Serialize;
use time::Date;
use time::macros::format_description;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRow {
    pub day: String,
    pub user_id: String,
    pub model: String,
    pub requests: i64,
    /// Requests answered from the response cache: no provider tokens.
    pub cached_requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

fn pk(day: Date) -> String {
    format!("USAGE#{}", day_key(day))
}

/// Adds one request's usage to the user's row for `model` on `day`.
pub async fn add(app: &App, day: Date, user_id: Id, model: &str, usage: Usage) -> ApiResult<()> {
    let deltas = [
        ("requests", 1),
        ("input_tokens", i64::try_from(usage.input_tokens).unwrap_or(i64::MAX)),
        ("output_tokens", i64::try_from(usage.output_tokens).unwrap_or(i64::MAX)),
    ];
    count(app, day, user_id, model, &deltas).await
}

/// Adds one request answered from the response cache to the user's row for `model`.
pub async fn add_cached(app: &App, day: Date, user_id: Id, model: &str) -> ApiResult<()> {
    count(app, day, user_id, model, &[("requests", 1), ("cached_requests", 1)]).await
}

async fn count(
    app: &App,
    day: Date,
    user_id: Id,
    model: &str,
    deltas: &[(&'static str, i64)],
) -> ApiResult<()> {
    let (pk, sk) = (pk(day), format!("{user_id}#{model}"));
    match &app.tally {
        Some(tally) => tally.add(&pk, &sk, deltas, None),
        None => drop(app.store.add(&pk, &sk, deltas, None).await?),
    }
    Ok(())
}

/// Rows for each day from `from` to `to` (inclusive), optionally one user's.
pub async fn report(app: &App, from: Date, to: Date, user_id: Option<Id>) -> ApiResult<Vec<UsageRow>> {
    tally::flush_counts(app).await?;
    let mut rows = Vec::new();
    let mut date = from;
    while date <= to {
        let range = user_id.map_or(SkRange::All, |u| SkRange::Prefix(format!("{u}#")));
        for item in all_items(app, Query::new(pk(date), range)).await? {
            let (user, model) = item.sk.split_once('#').unwrap_or((&item.sk, ""));
            rows.push(UsageRow {
                day: day_key(date),
                user_id: user.to_string(),
                model: model.to_string(),
                requests: item.int("requests").unwrap_or(0),
                cached_requests: item.int("cached_requests").unwrap_or(0),
                input_tokens: item.int("input_tokens").unwrap_or(0),
                output_tokens: item.int("output_tokens").unwrap_or(0),
            });
        }
        let Some(next) = date.next_day() else { break };
        date = next;
    }
    Ok(rows)
}

/// Days of usage rows one step of an account's deletion looks through.
const DELETE_DAYS: u32 = 60;

/// Deletes the user's usage rows (account deletion), [`DELETE_DAYS`] days per call,
/// from `first` (the account's first day) or the day `cursor` names, up to `today`.
pub async fn delete_of_user(
    app: &App,
    user_id: Id,
    first: Date,
    today: Date,
    cursor: Option<String>,
) -> ApiResult<Progress> {
    tally::flush_counts(app).await?;
    let mut day = cursor
        .and_then(|c| Date::parse(&c, format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or(first);
    for _ in 0..DELETE_DAYS {
        if day > today {
            return Ok(Progress::Done);
        }
        let rows = all_items(app, Query::new(pk(day), SkRange::Prefix(format!("{user_id}#")))).await?;
        delete_items(app, &rows).await?;
        let Some(next) = day.next_day() else { return Ok(Progress::Done) };
        day = next;
    }
    Ok(Progress::More(Some(day_key(day))))
}
