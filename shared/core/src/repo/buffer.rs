//! The stream buffer: a reply's events, saved in batches as they stream, so a client
//! that reconnects can resume; plus the markers through which a cancel request and a
//! resuming reader reach the instance producing the reply. All of it expires.

use super::sessions::pk;
use super::{all_items, from_item, leases, to_data};
use crate::app::App;
use crate::chat::sse::StreamEvent;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Condition, Item, Query, SkRange, StoreError, Write};
use serde::{Deserialize, Serialize};

/// Buffers outlive any reasonable reconnect.
const BUFFER_SECONDS: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
struct Batch {
    events: Vec<StreamEvent>,
}

fn batch_sk(message_id: Id, first_event: u64) -> String {
    format!("STREAM#{message_id}#{first_event:010}")
}

fn cancel_sk(message_id: Id) -> String {
    format!("CANCEL#{message_id}")
}

fn reader_sk(message_id: Id) -> String {
    format!("READER#{message_id}")
}

pub enum Saved {
    Yes,
    /// Someone asked to cancel the reply.
    Cancelled,
}

/// Whether a save also checks for a cancel request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A save while the reply streams: it also renews the producer's lease.
    Cancel,
    /// The reply's last batch is saved whatever happened, so resuming readers see its end.
    Nothing,
}

/// Saves a batch, unless asked to check for a cancel request and there is one: one
/// transaction both writes and checks, so cancelling costs the producer no extra read.
/// A cancelled save writes nothing; its events belong in the last batch.
pub async fn save(
    app: &App,
    session_id: Id,
    message_id: Id,
    events: &[StreamEvent],
    check: Check,
) -> ApiResult<Saved> {
    let Some(first) = events.first() else { return Ok(Saved::Yes) };
    let expires = app.clock.now_unix() + BUFFER_SECONDS;
    let data = to_data(&Batch { events: events.to_vec() });
    let batch = Item::new(pk(session_id), batch_sk(message_id, first.id), data).expiring_at(expires);
    let mut writes = vec![Write::Put { item: batch, condition: Condition::NotExists }];
    if check == Check::Cancel {
        writes.push(Write::Check {
            pk: pk(session_id),
            sk: cancel_sk(message_id),
            condition: Condition::NotExists,
        });
        writes.push(leases::grant(app, session_id, message_id));
    }
    match app.store.transact(writes).await {
        Ok(()) => Ok(Saved::Yes),
        Err(StoreError::ConditionFailed) => Ok(Saved::Cancelled),
        Err(e) => Err(e.into()),
    }
}

/// Saved events with ids above `after`, reading batches from `from_sk` on. Returns them
/// with the sort key to continue from.
pub async fn read(
    app: &App,
    session_id: Id,
    message_id: Id,
    after: Option<u64>,
    from_sk: Option<String>,
) -> ApiResult<(Vec<StreamEvent>, Option<String>)> {
    let low = from_sk.unwrap_or_else(|| batch_sk(message_id, 0));
    let high = format!("STREAM#{message_id}#~");
    let items = all_items(app, Query::new(pk(session_id), SkRange::Between(low, high))).await?;
    let next = items.last().map(|i| format!("{}~", i.sk));
    let mut events = Vec::new();
    for item in &items {
        let batch: Batch = from_item(item)?;
        events.extend(batch.events.into_iter().filter(|e| after.is_none_or(|a| e.id > a)));
    }
    Ok((events, next))
}

pub async fn request_cancel(app: &App, session_id: Id, message_id: Id) -> ApiResult<()> {
    let expires = app.clock.now_unix() + BUFFER_SECONDS;
    let marker = Item::new(pk(session_id), cancel_sk(message_id), Default::default()).expiring_at(expires);
    app.store.put(marker, Condition::Always).await?;
    Ok(())
}

/// Says a resuming reader is watching, for `seconds`.
pub async fn mark_reader(app: &App, session_id: Id, message_id: Id, seconds: i64) -> ApiResult<()> {
    let expires = app.clock.now_unix() + seconds;
    let marker = Item::new(pk(session_id), reader_sk(message_id), Default::default()).expiring_at(expires);
    app.store.put(marker, Condition::Always).await?;
    Ok(())
}

pub async fn reader_present(app: &App, session_id: Id, message_id: Id) -> ApiResult<bool> {
    Ok(app.store.get(&pk(session_id), &reader_sk(message_id)).await?.is_some())
}
