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

impl Follow {
    /// The next piece of the stream: new events, or (when the reply stopped without a
    /// saved end) a closing event. Waits while nothing new has been saved.
    async fn step(&mut self) -> Bytes {
        loop {
            let (events, next_sk) = match buffer::read(
                &self.app,
                self.session_id,
                self.message_id,
                self.after,
                self.from_sk.clone(),
            )
            .await
            {
                Ok(read) => read,
                Err(e) => {
                    return self.close("error", json!({ "code": e.code(), "message": e.public_message() }));
                }
            };
            if next_sk.is_some() {
                self.from_sk = next_sk;
            }
            if let Some(last) = events.last() {
                self.after = Some(last.id);
                self.progress_ms = self.app.now_ms();
                self.done = last.event == "message_end";
                return events.iter().map(StreamEvent::encode).collect::<Vec<_>>().concat().into();
            }
            if let Some(end) = self.stalled().await {
                return end;
            }
            self.keep_watching().await;
            self.app.clock.sleep(POLL).await;
        }
    }

    /// A closing event when the reply will never produce more: it is final without a
    /// saved end (its buffer expired, or it was ended past its lease), or its producer
    /// went silent for too long.
    async fn stalled(&mut self) -> Option<Bytes> {
        let status = match lease::check(&self.app, self.session_id, self.message_id).await {
            Ok(m) => m.status,
            Err(e) => {
                return Some(self.close("error", json!({ "code": e.code(), "message": e.public_message() })));
            }
        };
        if status != MessageStatus::Streaming {
            return Some(self.close("message_end", json!({ "status": status })));
        }
        let limit = (self.app.config.idle_timeout_ms as i64) + self.app.config.resume_grace_seconds * 1000;
        (self.app.now_ms() - self.progress_ms > limit).then(|| {
            self.close(
                "error",
                json!({ "code": "stream_stalled", "message": "the reply stopped making progress" }),
            )
        })
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

    fn close(&mut self, event: &str, data: serde_json::Value) -> Bytes {
        self.done = true;
        let id = self.after.map_or(0, |a| a.saturating_add(1));
        StreamEvent { id, event: event.into(), data }.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_EVENT_ID, parse_after};

    #[test]
    fn last_event_ids_are_bounded_numbers() {
        assert_eq!(parse_after(" 17 ").unwrap(), 17);
        assert_eq!(parse_after(&MAX_EVENT_ID.to_string()).unwrap(), MAX_EVENT_ID);
        for bad in ["18446744073709551615", "18446744073709551616", "4294967296", "-1", "x", "", "1e3"] {
            assert!(parse_after(bad).is_err(), "{bad}");
        }
    }
}
