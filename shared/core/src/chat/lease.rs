//! Stream leases: the instance producing a reply holds a lease on it, renewed with its
//! batch saves (and while it waits for the provider), so that a reply whose producer
//! died (a killed process, a failing disk, a Worker whose `waitUntil` ended) does not
//! stay `streaming` forever. Whoever reads such a reply past its lease ends it as
//! `interrupted`, with the text its saved batches hold; [`sweep`] does the same for
//! replies nobody reads.

use crate::app::App;
use crate::domain::{Id, MessageStatus};
use crate::error::{ApiError, ApiResult};
use crate::repo::leases::{self, Lease};
use crate::repo::sessions::{self, Message};
use crate::repo::{buffer, turns};
use std::time::Duration;

/// How often a producer renews its lease: three times per lease, so one slow write
/// does not lose it.
pub fn renew_every(app: &App) -> Duration {
    Duration::from_millis((app.config.stream_lease_seconds.max(1) as u64).saturating_mul(1000) / 3)
}

/// The reply as it stands: ended as `interrupted` first if it is `streaming` past its
/// lease (or without one).
pub async fn check(app: &App, session_id: Id, message_id: Id) -> ApiResult<Message> {
    let (message, lease) = futures::join!(
        sessions::message(app, session_id, message_id),
        leases::get(app, session_id, message_id)
    );
    let (message, version) = message?;
    let lease = lease?;
    let live = lease.as_ref().is_some_and(|(l, _)| l.until_ms > app.now_ms());
    if message.status != MessageStatus::Streaming || live {
        return Ok(message);
    }
    interrupt(app, session_id, message, version, lease.map(|(_, v)| v)).await
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
    let owner = sessions::owner(app, session_id).await?;
    if turns::end_abandoned(app, owner, session_id, &message, version, lease_version).await? {
        tracing::warn!(message_id = %message.id, "reply past its lease ended as interrupted");
        return Ok(message);
    }
    Ok(sessions::message(app, session_id, message.id).await?.0)
}

/// Most expired leases one sweep ends; the next sweep takes the rest.
const SWEEP_BATCH: u32 = 200;
/// Leases a sweep ends at once.
const SWEEP_PARALLEL: usize = 8;

/// Ends replies whose lease has run out, as a reader would, and drops leases whose
/// reply is gone (its session was deleted) or already ended. Returns how many expired
/// leases it found; an error once it has tried them all if any could not be ended, so
/// that a sweep which keeps failing shows (on Lambda, in the function's errors).
/// Entry points run it on a timer.
pub async fn sweep(app: &App) -> ApiResult<usize> {
    let leases = leases::expired(app, app.now_ms(), SWEEP_BATCH).await?;
    let mut failed = 0;
    for chunk in leases.chunks(SWEEP_PARALLEL) {
        for (lease, result) in
            chunk.iter().zip(futures::future::join_all(chunk.iter().map(|l| end(app, l))).await)
        {
            if let Err(e) = result {
                tracing::warn!(error = %e, message_id = %lease.message_id, "expired lease could not be ended");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        let problem = format!("{failed} of {} expired leases could not be ended", leases.len());
        return Err(ApiError::Unavailable(problem));
    }
    Ok(leases.len())
}

async fn end(app: &App, lease: &Lease) -> ApiResult<()> {
    match check(app, lease.session_id, lease.message_id).await {
        Ok(message) if message.status == MessageStatus::Streaming => Ok(()),
        Ok(_) | Err(ApiError::NotFound) => leases::delete(app, lease.session_id, lease.message_id).await,
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::sweep;
    use crate::error::ApiError;
    use crate::ports::{Condition, Item, Store};
    use crate::repo::{leases, sessions};
    use crate::testing;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn a_sweep_that_cannot_end_a_lease_tries_the_rest_then_fails() {
        let t = testing::app().build();
        let (session, broken, gone) = (t.app.new_id(), t.app.new_id(), t.app.new_id());
        let data = json!({"status": 7}).as_object().cloned().unwrap();
        let unreadable = Item::new(sessions::pk(session), sessions::message_sk(broken), data);
        t.run(async {
            t.store.put(unreadable, Condition::Always).await.unwrap();
            leases::renew(&t.app, session, broken).await.unwrap();
            leases::renew(&t.app, session, gone).await.unwrap();
        });
        t.clock.advance(Duration::from_secs(t.app.config.stream_lease_seconds as u64 + 1));

        let result = t.run(sweep(&t.app));
        assert!(
            matches!(&result, Err(ApiError::Unavailable(m)) if m == "1 of 2 expired leases could not be ended"),
            "{result:?}"
        );
        // The lease of the reply that is gone was still dropped; the unreadable one stays.
        assert!(t.run(leases::get(&t.app, session, gone)).unwrap().is_none());
        assert!(t.run(leases::get(&t.app, session, broken)).unwrap().is_some());
    }
}
