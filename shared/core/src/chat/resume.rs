//! Resuming a reply: replay the saved events after the client's last one, then follow
//! the buffer until the reply ends. Works from any instance, since everything it
//! reads is in the store; while it follows, it tells the producer someone is watching.

use super::lease;
use super::sse::StreamEvent;
use crate::app::App;
use crate::domain::{Id, MessageStatus};
use crate::error::{ApiError, ApiResult};
use crate::http::ByteStream;
use crate::repo::buffer;
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(250);
/// Far more events than any reply has, and what the OpenAPI document can state; a
/// larger last event id is a client's mistake (and would overflow the closing event's).
const MAX_EVENT_ID: u64 = i32::MAX as u64;

/// A client's last event id (`Last-Event-ID` or `?after=`): a number up to [`MAX_EVENT_ID`].
pub fn parse_after(raw: &str) -> ApiResult<u64> {
    match raw.trim().parse::<u64>() {
        Ok(id) if id <= MAX_EVENT_ID => Ok(id),
        _ => Err(ApiError::InvalidRequest(format!(
            "the last event id must be a whole number from 0 to {MAX_EVENT_ID}"
        ))),
    }
}

struct Follow {
    app: Arc<App>,
    session_id: Id,
    message_id: Id,
    after: Option<u64>,
    from_sk: Option<String>,
    /// Unix ms of the last new event (or of the start).
    progress_ms: i64,
    last_mark_ms: i64,
    done: bool,
}

pub fn stream(app: Arc<App>, session_id: Id, message_id: Id, after: Option<u64>) -> ByteStream {
    let now = app.now_ms();
    let follow = Follow {
        app,
        session_id,
        message_id,
        after,
        from_sk: None,
        progress_ms: now,
        last_mark_ms: 0,
        done: false,
    };
    Box::pin(futures::stream::unfold(follow, |mut f| async move {
        if f.done {
            return None;
        }
        let bytes = f.step().await;
        Some((bytes, f))
    }))
}

/// Why a follower found nothing new.
enum Quiet {
    /// The producer is still at work.
    Waiting,
    /// The reply is final: whatever it saved before it said so can now be read.
    Ended(MessageStatus),
    /// The stream must close with this event.
    Close(Bytes),
}

impl Follow {
    /// The next piece of the stream: new events, or (when the reply stopped without a
    /// saved end) a closing event. Waits while nothing new has been saved.
    async fn step(&mut self) -> Bytes {
        loop {
            if let Some(bytes) = self.read_new().await {
                return bytes;
            }
            match self.quiet().await {
                Quiet::Waiting => {}
                Quiet::Close(end) => return end,
                // A producer saves its last events before it marks the reply final, so
                // they may have landed since the read above.
                Quiet::Ended(status) => {
                    return match self.read_new().await {
                        Some(bytes) => bytes,
                        None => self.close("message_end", json!({ "status": status })),
                    };
                }
            }
            self.keep_watching().await;
            self.app.clock.sleep(POLL).await;
        }
    }

    /// The events saved since the last read, encoded (or a closing error event).
    async fn read_new(&mut self) -> Option<Bytes> {
        let read =
            buffer::read(&self.app, self.session_id, self.message_id, self.after, self.from_sk.clone()).await;
        let (events, next_sk) = match read {
            Ok(read) => read,
            Err(e) => return Some(self.close_with(&e)),
        };
        if next_sk.is_some() {
            self.from_sk = next_sk;
        }
        let last = events.last()?;
        self.after = Some(last.id);
        self.progress_ms = self.app.now_ms();
        self.done = last.event == "message_end";
        Some(events.iter().map(StreamEvent::encode).collect::<Vec<_>>().concat().into())
    }

    /// Whether the reply will never produce more: it is final (perhaps ended past its
    /// lease), or its producer went silent for too long.
    async fn quiet(&mut self) -> Quiet {
        let status = match lease::check(&self.app, self.session_id, self.message_id).await {
            Ok(m) => m.status,
            Err(e) => return Quiet::Close(self.close_with(&e)),
        };
        if status != MessageStatus::Streaming {
            return Quiet::Ended(status);
        }
        let limit = (self.app.config.idle_timeout_ms as i64) + self.app.config.resume_grace_seconds * 1000;
        if self.app.now_ms() - self.progress_ms <= limit {
            return Quiet::Waiting;
        }
        Quiet::Close(self.close(
            "error",
            json!({ "code": "stream_stalled", "message": "the reply stopped making progress" }),
        ))
    }

    /// Refreshes the reader marker a few times per grace period.
    async fn keep_watching(&mut self) {
        let grace = self.app.config.resume_grace_seconds;
        if self.app.now_ms() - self.last_mark_ms >= grace * 1000 / 3 {
            self.last_mark_ms = self.app.now_ms();
            if let Err(e) = buffer::mark_reader(&self.app, self.session_id, self.message_id, grace).await {
                tracing::warn!(error = %e, "reader marker could not be saved");
            }
        }
    }

    fn close_with(&mut self, e: &ApiError) -> Bytes {
        self.close("error", json!({ "code": e.code(), "message": e.public_message() }))
    }

    fn close(&mut self, event: &str, data: serde_json::Value) -> Bytes {
        self.done = true;
        let id = self.after.map_or(0, |a| a.saturating_add(1));
        StreamEvent { id, event: event.into(), data }.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_EVENT_ID, parse_after, stream};
    use crate::chat::fixtures::{self, user};
    use crate::chat::sse::StreamEvent;
    use crate::domain::MessageStatus;
    use crate::repo::{buffer, sessions, turns};
    use crate::testing;
    use buffer::Check;
    use futures::StreamExt;
    use serde_json::json;

    fn event(id: u64, event: &str, data: serde_json::Value) -> StreamEvent {
        StreamEvent { id, event: event.into(), data }
    }

    #[test]
    fn a_reader_gets_the_last_events_of_a_reply_that_ends_between_its_reads() {
        let t = fixtures::app(testing::app());
        let ada = user(&t, 1_000_000);
        let (owned, _, mut reply) = t.run(fixtures::streaming_turn(&t, &ada));
        let (session, reply_id, app) = (owned.session.id, reply.id, t.app.clone());
        let first = [event(0, "message_start", json!({})), event(1, "delta", json!({ "text": "Bon" }))];
        t.run(buffer::save(&app, session, reply.id, &first, Check::Nothing)).unwrap();
        // The reader finds nothing after event 1; before it looks at the reply's status,
        // the producer saves its last word and end, then marks the reply complete.
        t.store.before_get(&sessions::pk(session), &sessions::message_sk(reply_id), move || {
            let last = [event(2, "delta", json!({ "text": "jour" })), event(3, "message_end", json!({}))];
            reply.status = MessageStatus::Complete;
            futures::executor::block_on(async {
                buffer::save(&app, session, reply.id, &last, Check::Nothing).await.unwrap();
                turns::finish(&app, ada.id, session, &reply).await.unwrap();
            });
        });
        let chunks: Vec<_> = t.run(stream(t.app.clone(), session, reply_id, Some(1)).collect());
        let text = String::from_utf8(chunks.concat().to_vec()).unwrap();
        assert!(text.contains("id: 2\nevent: delta") && text.contains("jour"), "{text}");
        assert!(text.contains("id: 3\nevent: message_end"), "{text}");
    }

    #[test]
    fn last_event_ids_are_bounded_numbers() {
        assert_eq!(parse_after(" 17 ").unwrap(), 17);
        assert_eq!(parse_after(&MAX_EVENT_ID.to_string()).unwrap(), MAX_EVENT_ID);
        for bad in ["18446744073709551615", "18446744073709551616", "4294967296", "-1", "x", "", "1e3"] {
            assert!(parse_after(bad).is_err(), "{bad}");
        }
    }
}
