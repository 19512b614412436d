//! Stream leases: the instance producing a reply holds a lease on it, renewed with its
//! batch saves (and while it waits for the provider), so that a reply whose producer
//! died (a killed process, a failing disk, a Worker whose `waitUntil` ended) does not
//! stay `streaming` forever. Whoever reads such a reply past its lease ends it as
//! `interrupted`, with the text its saved batches hold; [`sweep`] does the same for
//! replies nobody reads.

use super::buffer;
use crate::app::App;
use crate::domain::{Id, MessageStatus};
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange, StoreError, Write};
use crate::repo::sessions::{self, Message, message_sk, pk};
use crate::repo::{from_item, to_data};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The index partition every lease is listed in, by expiry, for [`sweep`].
const LEASES: &str = "LEASES";
/// A lease outlives its reply's longest possible life; the sweep finds it long before.
const LEASE_ITEM_SECONDS: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
struct Lease {
    session_id: Id,
    message_id: Id,
    /// Unix ms.
    until_ms: i64,
}

fn lease_sk(message_id: Id) -> String {
    format!("LEASE#{message_id}")
}

/// How often a producer renews its lease: three times per lease, so one slow write
/// does not lose it.
pub fn renew_every(app: &App) -> Duration {
    Duration::from_millis((app.config.stream_lease_seconds.max(1) as u64).saturating_mul(1000) / 3)
}

/// The write that grants (or renews) the lease on a reply, for `CONFAB_STREAM_LEASE_SECONDS`.
pub fn grant(app: &App, session_id: Id, message_id: Id) -> Write {
    let until_ms = app.now_ms().saturating_add(app.config.stream_lease_seconds.saturating_mul(1000));
    let lease = Lease { session_id, message_id, until_ms };
    let item = Item::new(pk(session_id), lease_sk(message_id), to_data(&lease))
        .with_gsi1(LEASES, format!("{until_ms:013}#{message_id}"))
        .expiring_at(app.clock.now_unix().saturating_add(LEASE_ITEM_SECONDS));
    Write::Put { item, condition: Condition::Always }
}

/// The write that gives the lease up, with the reply's final save.
pub fn release(session_id: Id, message_id: Id) -> Write {
    Write::Delete { pk: pk(session_id), sk: lease_sk(message_id), condition: Condition::Always }
}

/// The reply as it stands: ended as `interrupted` first if it is `streaming` past its
/// lease (or without one).
pub async fn check(app: &App, session_id: Id, message_id: Id) -> ApiResult<Message> {
    let (pk, message_sk, lease_sk) = (pk(session_id), message_sk(message_id), lease_sk(message_id));
    let (item, lease) = futures::join!(app.store.get(&pk, &message_sk), app.store.get(&pk, &lease_sk));
    let item = item?.ok_or(ApiError::NotFound)?;
    let message = sessions::load(app, &item).await?;
    let lease = lease?;
    let live = lease.as_ref().and_then(|l| l.int("until_ms")).is_some_and(|until| until > app.now_ms());
    if message.status != MessageStatus::Streaming || live {
        return Ok(message);
    }
    interrupt(app, session_id, message, item.version, lease.map(|l| l.version)).await
}

/// [`check`] for each `streaming` reply among `messages`.
pub async fn check_all(app: &App, session_id: Id, messages: Vec<Message>) -> ApiResult<Vec<Message>> {
    futures::future::try_join_all(messages.into_iter().map(|m| async move {
        if m.status == MessageStatus::Streaming { check(app, session_id, m.id).await } else { Ok(m) }
    }))
    .await
}

/// Ends the reply as `interrupted` with its saved text, unless it changed since it was
/// read (its producer saved it, or renewed the lease): then it is read again.
async fn interrupt(
    app: &App,
    session_id: Id,
    mut message: Message,
    version: u64,
    lease_version: Option<u64>,
) -> ApiResult<Message> {
    let (events, _) = buffer::read(app, session_id, message.id, None, None).await?;
    message.content =
        events.iter().filter(|e| e.event == "delta").filter_map(|e| e.data["text"].as_str()).collect();
    message.status = MessageStatus::Interrupted;
    let (pk, sk) = (pk(session_id), lease_sk(message.id));
    let lease = match lease_version {
        Some(v) => Write::Delete { pk, sk, condition: Condition::Version(v) },
        None => Write::Check { pk, sk, condition: Condition::NotExists },
    };
    let owner = sessions::owner(app, session_id).await?;
    let write = message.write(app, owner, session_id, Condition::Version(version)).await?;
    match app.store.transact(vec![write, lease]).await {
        Ok(()) => {
            tracing::warn!(message_id = %message.id, "reply past its lease ended as interrupted");
            Ok(message)
        }
        Err(StoreError::ConditionFailed) => sessions::message(app, session_id, message.id).await,
        Err(e) => Err(e.into()),
    }
}

/// Most expired leases one sweep ends; the next sweep takes the rest.
const SWEEP_BATCH: u32 = 200;
/// Leases a sweep ends at once.
const SWEEP_PARALLEL: usize = 8;

/// Ends replies whose lease has run out, as a reader would, and drops leases whose
/// reply is gone (its session was deleted) or already ended. Returns how many expired
/// leases it found. Entry points run it on a timer.
pub async fn sweep(app: &App) -> ApiResult<usize> {
    let now = app.now_ms();
    let expired = SkRange::Between("0".into(), format!("{now:013}~"));
    let page = app.store.query(Query::new(LEASES, expired).on_gsi1().limit(SWEEP_BATCH)).await?;
    let leases = page.items.iter().map(from_item::<Lease>).collect::<ApiResult<Vec<_>>>()?;
    for chunk in leases.chunks(SWEEP_PARALLEL) {
        for (lease, result) in
            chunk.iter().zip(futures::future::join_all(chunk.iter().map(|l| end(app, l))).await)
        {
            if let Err(e) = result {
                tracing::warn!(error = %e, message_id = %lease.message_id, "expired lease could not be ended");
            }
        }
    }
    Ok(leases.len())
}

async fn end(app: &App, lease: &Lease) -> ApiResult<()> {
    match check(app, lease.session_id, lease.message_id).await {
        Ok(message) if message.status == MessageStatus::Streaming => Ok(()),
        Ok(_) | Err(ApiError::NotFound) => {
            let (pk, sk) = (pk(lease.session_id), lease_sk(lease.message_id));
            Ok(app.store.delete(&pk, &sk, Condition::Always).await?)
        }
        Err(e) => Err(e),
    }
}
