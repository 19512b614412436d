//! Records in the store: every key and every mapping of a record to items lives here,
//! one module per record kind, and nothing outside `repo/` touches the store. Callers
//! keep the rules; these modules keep the items (and the checks that must sit in the
//! same read, such as a record's owner). The key design is documented in
//! docs/data-model.md.

pub mod api_keys;
pub mod attachments;
pub mod audit;
pub mod branches;
pub mod buffer;
pub mod cache;
pub mod deletions;
pub mod exports;
pub mod identities;
pub mod leases;
pub mod mfa;
pub mod oidc_states;
pub mod password_resets;
pub mod quota;
pub mod refresh;
pub mod routing;
pub mod search;
pub mod sessions;
pub mod shares;
pub mod tally;
pub mod throttle;
pub mod turns;
pub mod usage;
pub mod users;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::ports::store::{MAX_PAGE, MAX_TRANSACTION_WRITES};
use crate::ports::{Condition, Item, Page, Query, Write};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::future::Future;
use std::time::Duration;
use time::Date;
use time::macros::format_description;

/// A record's fields as item data.
pub fn to_data<T: Serialize>(record: &T) -> Map<String, Value> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A record from item data; a malformed item is a server fault, never the client's.
pub fn from_item<T: DeserializeOwned>(item: &Item) -> ApiResult<T> {
    serde_json::from_value(Value::Object(item.data.clone()))
        .map_err(|e| ApiError::Internal(format!("malformed item {}/{}: {e}", item.pk, item.sk)))
}

/// How many times [`persist`] tries a write, and its first wait (doubled after each).
const PERSIST_TRIES: u32 = 4;
const PERSIST_FIRST_WAIT: Duration = Duration::from_millis(100);

/// Runs `write` again while the store is unavailable (throttled, timed out), up to
/// [`PERSIST_TRIES`] times in about a second and a half: for the writes no client is
/// there to retry, such as a turn's end and the tokens it settles. Only for writes
/// that a refusal left undone.
pub async fn persist<T, F>(app: &App, mut write: impl FnMut() -> F) -> ApiResult<T>
where
    F: Future<Output = ApiResult<T>>,
{
    let mut wait = PERSIST_FIRST_WAIT;
    for _ in 1..PERSIST_TRIES {
        match write().await {
            Err(ApiError::Unavailable(e)) => tracing::warn!(error = %e, "a write is retried"),
            done => return done,
        }
        app.clock.sleep(wait).await;
        wait *= 2;
    }
    write().await
}

/// Adds `delta` to the count kept in item `pk`/`sk`, which never stays below zero (what
/// existed before the count was kept is not in it); returns the new count.
pub async fn count_floored(app: &App, pk: &str, sk: &str, delta: i64) -> ApiResult<i64> {
    let count = app.store.add(pk, sk, &[("count", delta)], None).await?.int("count").unwrap_or(0);
    if count < 0 {
        app.store.add(pk, sk, &[("count", -count)], None).await?;
    }
    Ok(count.max(0))
}

/// Lowers a [`count_floored`] by `amount` after what it counted is gone or was refused;
/// a failure only leaves the count high, so it is logged, naming `what`.
pub async fn uncount(app: &App, pk: &str, sk: &str, amount: i64, what: &str) {
    if let Err(e) = count_floored(app, pk, sk, -amount).await {
        tracing::warn!(error = %e, "a user's {what} could not be lowered");
    }
}

/// Reads a key that never exists, as cheap as any read: fails when the store cannot
/// be read (health checks).
pub async fn probe(app: &App) -> ApiResult<()> {
    app.store.get("HEALTH", "PROBE").await?;
    Ok(())
}

/// A UTC day as keys name it: `2026-11-22`.
fn day_key(day: Date) -> String {
    day.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

/// A list page as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listing<T: utoipa::ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Reads pages of `query` until `limit` records pass `pick` or the items run out.
/// Each page asks for no more items than are still wanted, so every item read is
/// consumed and the returned cursor is exact: no match is skipped or repeated.
pub async fn collect_filtered<T>(
    app: &App,
    query: Query,
    limit: u32,
    mut cursor: Option<String>,
    mut pick: impl FnMut(&Item) -> ApiResult<Option<T>>,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let mut out = Vec::new();
    loop {
        let want = limit - out.len() as u32;
        let Page { items, cursor: next } = app.store.query(query.clone().limit(want).after(cursor)).await?;
        for item in &items {
            out.extend(pick(item)?);
        }
        cursor = next;
        if out.len() as u32 >= limit || cursor.is_none() {
            return Ok((out, cursor));
        }
    }
}

/// Every item `query` matches, across all pages. For per-user sets of bounded size.
pub async fn all_items(app: &App, query: Query) -> ApiResult<Vec<Item>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = app.store.query(query.clone().limit(MAX_PAGE).after(cursor)).await?;
        out.extend(page.items);
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(out);
        }
    }
}

/// Most items one step of a batched deletion removes (four transactions).
pub const DELETE_BATCH: u32 = 100;

/// How far a batched deletion got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Nothing of the kind is left.
    Done,
    /// More may be left: call again, from this cursor (opaque to the caller).
    More(Option<String>),
}

/// Deletes one page (at most [`DELETE_BATCH`] items) of what `query` finds from
/// `cursor` on, in transactions of [`MAX_TRANSACTION_WRITES`]. Deleting what is
/// already gone is no error, so a rerun after a crash carries on.
pub async fn delete_page(app: &App, query: Query, cursor: Option<String>) -> ApiResult<Progress> {
    let page = app.store.query(query.limit(DELETE_BATCH).after(cursor)).await?;
    delete_items(app, &page.items).await?;
    Ok(page.cursor.map_or(Progress::Done, |c| Progress::More(Some(c))))
}

/// Deletes `items` unconditionally, in transactions of [`MAX_TRANSACTION_WRITES`].
pub async fn delete_items(app: &App, items: &[Item]) -> ApiResult<()> {
    for chunk in items.chunks(MAX_TRANSACTION_WRITES) {
        let writes = chunk
            .iter()
            .map(|i| Write::Delete { pk: i.pk.clone(), sk: i.sk.clone(), condition: Condition::Always })
            .collect();
        app.store.transact(writes).await?;
    }
    Ok(())
}
