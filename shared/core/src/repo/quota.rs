//! Tokens counted against each user's day: reserved before a provider is called,
//! corrected to the real count after.

use super::{Progress, day_key, delete_page, tally};
use crate::app::App;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Query, SkRange};
use time::Date;

/// A day's count is kept past any correction of it.
const KEEP_SECONDS: i64 = 2 * 86_400;

fn pk(user_id: Id) -> String {
    format!("QUOTA#{user_id}")
}

/// Adds `tokens` (negative to give some back) to the user's count for `day`, in one
/// atomic step; returns the new count.
pub async fn add_tokens(app: &App, user_id: Id, day: Date, tokens: i64) -> ApiResult<i64> {
    let expires = Some(app.clock.now_unix() + KEEP_SECONDS);
    let (pk, sk) = (pk(user_id), day_key(day));
    if let Some(tally) = &app.tally {
        return Ok(tally.add_and_count(&*app.store, &pk, &sk, ("tokens", tokens), expires).await?);
    }
    let item = app.store.add(&pk, &sk, &[("tokens", tokens)], expires).await?;
    Ok(item.int("tokens").unwrap_or(0))
}

/// Deletes a batch of the user's daily counts (account deletion).
pub async fn delete_of_user(app: &App, user_id: Id, cursor: Option<String>) -> ApiResult<Progress> {
    tally::flush_counts(app).await?;
    delete_page(app, Query::new(pk(user_id), SkRange::All), cursor).await
}
