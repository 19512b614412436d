//! Stream leases: one per reply being produced, beside its message, and listed by
//! expiry in one index partition so the sweep finds those that ran out.

use super::sessions::pk;
use super::{from_item, to_data};
use crate::app::App;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Condition, Item, Query, SkRange, Write};
use serde::{Deserialize, Serialize};

/// The index partition every lease is listed in, by expiry.
const LEASES: &str = "LEASES";
/// A lease item outlives its reply's longest possible life; the sweep finds it long
/// before.
const LEASE_ITEM_SECONDS: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
pub struct Lease {
    pub session_id: Id,
    pub message_id: Id,
    /// Unix ms.
    pub until_ms: i64,
}

fn sk(message_id: Id) -> String {
    format!("LEASE#{message_id}")
}

/// The write that grants (or renews) the lease on a reply, for `CONFAB_STREAM_LEASE_SECONDS`.
pub(super) fn grant(app: &App, session_id: Id, message_id: Id) -> Write {
    let until_ms = app.now_ms().saturating_add(app.config.stream_lease_seconds.saturating_mul(1000));
    let lease = Lease { session_id, message_id, until_ms };
    let item = Item::new(pk(session_id), sk(message_id), to_data(&lease))
        .with_gsi1(LEASES, format!("{until_ms:013}#{message_id}"))
        .expiring_at(app.clock.now_unix().saturating_add(LEASE_ITEM_SECONDS));
    Write::Put { item, condition: Condition::Always }
}

pub async fn renew(app: &App, session_id: Id, message_id: Id) -> ApiResult<()> {
    app.store.transact(vec![grant(app, session_id, message_id)]).await?;
    Ok(())
}

/// The write that gives the lease up.
pub(super) fn release(session_id: Id, message_id: Id) -> Write {
    Write::Delete { pk: pk(session_id), sk: sk(message_id), condition: Condition::Always }
}

/// The write that gives the lease up if it is still at `version`, or, with no
/// version, checks that there still is none.
pub(super) fn release_unchanged(session_id: Id, message_id: Id, version: Option<u64>) -> Write {
    let (pk, sk) = (pk(session_id), sk(message_id));
    match version {
        Some(v) => Write::Delete { pk, sk, condition: Condition::Version(v) },
        None => Write::Check { pk, sk, condition: Condition::NotExists },
    }
}

/// The lease on a reply and its version.
pub async fn get(app: &App, session_id: Id, message_id: Id) -> ApiResult<Option<(Lease, u64)>> {
    match app.store.get(&pk(session_id), &sk(message_id)).await? {
        Some(item) => Ok(Some((from_item(&item)?, item.version))),
        None => Ok(None),
    }
}

/// Up to `limit` leases that ran out by `now_ms`, soonest first.
pub async fn expired(app: &App, now_ms: i64, limit: u32) -> ApiResult<Vec<Lease>> {
    let range = SkRange::Between("0".into(), format!("{now_ms:013}~"));
    let page = app.store.query(Query::new(LEASES, range).on_gsi1().limit(limit)).await?;
    page.items.iter().map(from_item).collect()
}

pub async fn delete(app: &App, session_id: Id, message_id: Id) -> ApiResult<()> {
    app.store.delete(&pk(session_id), &sk(message_id), Condition::Always).await?;
    Ok(())
}
