//! The port's operations that take more than one request: query pages refilled past
//! expired items, `add`'s rounds, transactions retried after conflicts. The adapters
//! supply the single requests (and the clock), so both behave alike request by request.

use crate::errors::{TransactionFailure, add_gave_up, add_refused, start_key_error};
use crate::{Attrs, build, decode_cursor, decode_optional, decode_scan_cursor, encode_cursor, is_expired};
use crate::{Expressions, MAX_ADD_ROUNDS, MAX_PAGE_REQUESTS, MAX_TRANSACTION_ATTEMPTS};
use confab_core::ports::store::{Item, MAX_PAGE, Page, Query, StoreError, Write};
use confab_core::ports::store::{check_deltas, check_key, check_transaction};
use serde_json::Value;
use std::time::Duration;

/// One `Query` request's answer: its items and `LastEvaluatedKey`, in DynamoDB JSON.
pub type QueryAnswer = (Vec<Value>, Option<Attrs>);

/// `query`: requests of at most the page's remaining room (`send(expressions, limit,
/// start)`), from the cursor on, until the page is full or the query ends. DynamoDB
/// applies `Limit` before the expiry filter, so a page may take a few requests.
pub async fn query<R>(
    query: &Query,
    now: impl Fn() -> i64,
    send: impl FnMut(Expressions, usize, Option<Attrs>) -> R,
) -> Result<Page, StoreError>
where
    R: Future<Output = Result<QueryAnswer, StoreError>>,
{
    if query.pk.is_empty() {
        return Err(StoreError::Invalid("query with an empty partition key".into()));
    }
    let start = query
        .cursor
        .as_deref()
        .map(|c| decode_cursor(c, query.index, &query.pk, &query.range))
        .transpose()?;
    let build = |now| build::query(query, now);
    fill_page(query.limit, start, query.cursor.is_some(), now, build, send).await
}

/// `scan`: `Scan` requests (`send`) filling a page as [`query`] does.
pub async fn scan<R>(
    cursor: Option<&str>,
    limit: u32,
    now: impl Fn() -> i64,
    send: impl FnMut(Expressions, usize, Option<Attrs>) -> R,
) -> Result<Page, StoreError>
where
    R: Future<Output = Result<QueryAnswer, StoreError>>,
{
    let start = cursor.map(decode_scan_cursor).transpose()?;
    fill_page(limit, start, cursor.is_some(), now, |now| Some(build::scan(now)), send).await
}

/// Requests of at most the page's remaining room, from `start` on, until the page is
/// full or the table (or query) ends; `None` from `build` means an empty answer.
async fn fill_page<R>(
    limit: u32,
    mut start: Option<Attrs>,
    had_cursor: bool,
    now: impl Fn() -> i64,
    build: impl Fn(i64) -> Option<Expressions>,
    mut send: impl FnMut(Expressions, usize, Option<Attrs>) -> R,
) -> Result<Page, StoreError>
where
    R: Future<Output = Result<QueryAnswer, StoreError>>,
{
    let limit = limit.clamp(1, MAX_PAGE) as usize;
    let mut items = Vec::new();
    for _ in 0..MAX_PAGE_REQUESTS {
        let now = now();
        let Some(expressions) = build(now) else { return Ok(Page::default()) };
        let answer = send(expressions, limit - items.len(), start.take()).await;
        let (found, last_key) = answer.map_err(|e| start_key_error(e, had_cursor))?;
        for found in &found {
            items.extend(decode_optional(Some(found))?.filter(|item| !is_expired(item, now)));
        }
        start = last_key.filter(|key| !key.is_empty());
        if start.is_none() || items.len() >= limit {
            break;
        }
    }
    let cursor = start.as_ref().map(encode_cursor).transpose()?;
    Ok(Page { items, cursor })
}

/// A restore's answer: written, or skipped because a live item has the key.
pub fn restored(written: Result<(), StoreError>) -> Result<bool, StoreError> {
    match written {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(other) => Err(other),
    }
}

/// What one of `add`'s `UpdateItem`s (`ReturnValues ALL_NEW`,
/// `ReturnValuesOnConditionCheckFailure ALL_OLD`) came to.
pub enum Updated {
    /// The condition held: the item after the update.
    New(Option<Item>),
    /// The condition failed: the item before it, if any.
    Refused(Option<Item>),
}

/// `add`: rounds of "add to the live item", else "start it afresh" (both sent with
/// `update`); a round is lost only to a concurrent create or expiry of the same item.
pub async fn add<U>(
    pk: &str,
    sk: &str,
    deltas: &[(&str, i64)],
    expires_at: Option<i64>,
    now: impl Fn() -> i64,
    mut update: impl FnMut(Expressions) -> U,
) -> Result<Item, StoreError>
where
    U: Future<Output = Result<Updated, StoreError>>,
{
    check_key(pk, sk)?;
    check_deltas(deltas)?;
    for _ in 0..MAX_ADD_ROUNDS {
        let live_now = now();
        let to_live = match update(build::add_to_live(deltas, expires_at, live_now)).await? {
            Updated::New(item) => item,
            Updated::Refused(old) => add_refused(old, live_now, pk, sk)?,
        };
        if let Some(item) = to_live {
            return Ok(item);
        }
        if let Updated::New(Some(item)) = update(build::add_fresh(deltas, expires_at, now())).await? {
            return Ok(item);
        }
    }
    Err(add_gave_up(pk, sk))
}

/// `transact`: the writes checked, then `send` (which builds the entries at its own
/// "now") until DynamoDB doesn't cancel it for a conflict, with a growing pause.
pub async fn transact<S, Z>(
    writes: &[Write],
    mut send: impl FnMut() -> S,
    mut sleep: impl FnMut(Duration) -> Z,
) -> Result<(), StoreError>
where
    S: Future<Output = Result<(), TransactionFailure>>,
    Z: Future<Output = ()>,
{
    check_transaction(writes)?;
    let mut attempt = 0;
    loop {
        let Err(failure) = send().await else { return Ok(()) };
        attempt += 1;
        match failure {
            TransactionFailure::Conflict(_) if attempt < MAX_TRANSACTION_ATTEMPTS => {
                sleep(Duration::from_millis(20 << attempt)).await;
            }
            TransactionFailure::Conflict(e) | TransactionFailure::Other(e) => return Err(e),
        }
    }
}
