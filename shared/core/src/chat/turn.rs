//! One chat turn: the reply is produced by a task of its own, so it survives the
//! client. The task streams events to the client while it is connected, saves them in
//! batches (by time and size) for resuming, obeys cancel requests, and finally saves
//! the whole reply and counts its usage.

use super::context::{estimate_prompt, estimate_tokens};
use super::lease;
use super::models::ModelRoute;
use super::quota::Reservation;
use super::router::{self, timeout};
use super::sse::StreamEvent;
use super::title;
use crate::app::App;
use crate::domain::{Id, MessageStatus};
use crate::http::ByteStream;
use crate::providers::{ChatRequest, FinishReason, ProviderError, ProviderEvent, Usage};
use crate::repo::buffer::{self, Check, Saved};
use crate::repo::search;
use crate::repo::sessions::Message;
use crate::repo::turns;
use crate::repo::{leases, persist};
use crate::research::{Produced, ProducedStream};
use bytes::Bytes;
use futures::StreamExt;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub struct Turn {
    pub user_id: Id,
    pub session_id: Id,
    pub user_message_id: Id,
    /// The assistant message, saved as `streaming` before the turn starts.
    pub reply: Message,
    pub route: ModelRoute,
    pub request: ChatRequest,
    /// The tokens held for this turn, settled when it ends.
    pub reservation: Reservation,
    /// The session's title was derived from this turn's question: once the reply is
    /// complete, the model is asked for a better one.
    pub name_session: bool,
    /// A research run writes the reply instead of one model call on `request`.
    pub research: Option<ProducedStream>,
}

/// Starts producing the reply and returns the client's event stream.
pub fn start(app: Arc<App>, turn: Turn) -> ByteStream {
    let (tx, rx) = unbounded();
    app.spawner.spawn(Box::pin(Producer::new(app.clone(), turn, tx).run()));
    Box::pin(rx)
}

/// How a reply ended, as stored in the message's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Complete,
    Failed,
    Cancelled,
    Interrupted,
}

impl Ending {
    fn status(self) -> MessageStatus {
        match self {
            Ending::Complete => MessageStatus::Complete,
            Ending::Failed => MessageStatus::Failed,
            Ending::Cancelled => MessageStatus::Cancelled,
            Ending::Interrupted => MessageStatus::Interrupted,
        }
    }
}

/// Longest text one `delta` event carries. A provider's huge chunk (or echo's one long
/// word) goes out as several, so each saved batch stays far below a store item's limit.
const MAX_DELTA_BYTES: usize = 16 * 1024;

fn split_texts(events: ProducedStream) -> ProducedStream {
    Box::pin(events.flat_map(|event| {
        let events = match event {
            Ok(Produced::Provider(ProviderEvent::Text(text))) if text.len() > MAX_DELTA_BYTES => {
                let piece = |p: &str| Ok(Produced::Provider(ProviderEvent::Text(p.to_string())));
                pieces(&text, MAX_DELTA_BYTES).map(piece).collect()
            }
            other => vec![other],
        };
        futures::stream::iter(events)
    }))
}

/// `text` in pieces of at most `max` bytes (at least one character each), cut at
/// character boundaries.
fn pieces(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let mut end = max.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            end = rest.chars().next()?.len_utf8();
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

struct Producer {
    app: Arc<App>,
    turn: Turn,
    client: Option<UnboundedSender<Bytes>>,
    next_id: u64,
    unsaved: Vec<StreamEvent>,
    unsaved_bytes: usize,
    last_save_ms: i64,
    detached_at_ms: Option<i64>,
    /// When the lease on the reply was last renewed (the turn granted it).
    lease_renewed_ms: i64,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
}

impl Producer {
    fn new(app: Arc<App>, turn: Turn, client: UnboundedSender<Bytes>) -> Producer {
        let now = app.now_ms();
        Producer {
            app,
            turn,
            client: Some(client),
            next_id: 0,
            unsaved: Vec::new(),
            unsaved_bytes: 0,
            last_save_ms: now,
            detached_at_ms: None,
            lease_renewed_ms: now,
            usage: None,
            finish: None,
        }
    }

    async fn run(mut self) {
        let start = json!({ "user_message_id": self.turn.user_message_id, "message_id": self.turn.reply.id });
        self.emit("message_start", start);
        let ending = match self.turn.research.take() {
            Some(research) => self.relay(split_texts(research)).await,
            None => match self.open().await {
                Ok(opened) => {
                    let first = futures::stream::iter(opened.first.into_iter().map(Ok));
                    let events = first.chain(opened.rest).map(|e| e.map(Produced::Provider));
                    self.relay(split_texts(Box::pin(events))).await
                }
                Err(e) => self.fail(&e),
            },
        };
        self.finish(ending).await;
    }

    /// Asks the provider for the reply, renewing the lease while it waits (retries and
    /// fallbacks can take longer than a lease).
    async fn open(&mut self) -> Result<router::Opened, ProviderError> {
        let (app, session, message) = (self.app.clone(), self.turn.session_id, self.turn.reply.id);
        let mut opening = std::pin::pin!(router::open(&app, &self.turn.route, &self.turn.request));
        let mut renewed = None;
        let opened = loop {
            match timeout(&*app.clock, lease::renew_every(&app), opening.as_mut()).await {
                Some(opened) => break opened,
                None => renewed = renew(&app, session, message).await.or(renewed),
            }
        };
        self.lease_renewed_ms = renewed.unwrap_or(self.lease_renewed_ms);
        opened
    }

    /// Relays provider (or research) events until the reply ends one way or another.
    async fn relay(&mut self, mut events: ProducedStream) -> Ending {
        loop {
            if self.finish.is_some() {
                return Ending::Complete;
            }
            let until_save = self.save_due_in();
            let next = match timeout(&*self.app.clock, until_save, events.next()).await {
                Some(next) => next,
                None => {
                    if let Some(ending) = self.save().await {
                        return ending;
                    }
                    continue;
                }
            };
            match next {
                Some(Ok(event)) => self.apply(event),
                Some(Err(e)) => return self.fail(&e),
                None => return Ending::Complete,
            }
            if self.unsaved_bytes >= self.app.config.stream_flush_bytes
                && let Some(ending) = self.save().await
            {
                return ending;
            }
        }
    }

    fn apply(&mut self, produced: Produced) {
        let event = match produced {
            Produced::Provider(event) => event,
            Produced::Event(name, data) => return self.emit(name, data),
            Produced::Sources(sources) => {
                self.turn.reply.sources = Some(sources);
                return;
            }
        };
        match event {
            ProviderEvent::Text(text) if !text.is_empty() => {
                self.turn.reply.content.push_str(&text);
                self.unsaved_bytes += text.len();
                self.emit("delta", json!({ "text": text }));
            }
            // The session chat asks for no tools.
            ProviderEvent::Text(_) | ProviderEvent::ToolCall(_) => {}
            ProviderEvent::Usage(u) => self.usage = Some(u),
            ProviderEvent::Finish(reason) => self.finish = Some(reason),
        }
    }

    fn fail(&mut self, e: &ProviderError) -> Ending {
        tracing::warn!(error = %e, message_id = %self.turn.reply.id, "reply failed");
        self.emit("error", json!({ "code": e.code(), "message": e.public_message() }));
        Ending::Failed
    }

    fn emit(&mut self, event: &str, data: Value) {
        let event = StreamEvent { id: self.next_id, event: event.into(), data };
        self.next_id += 1;
        let sent = self.client.as_ref().is_some_and(|c| c.unbounded_send(event.encode()).is_ok());
        if !sent && self.detached_at_ms.is_none() {
            self.client = None;
            self.detached_at_ms = Some(self.app.now_ms());
        }
        self.unsaved.push(event);
    }

    fn save_due_in(&self) -> Duration {
        let due = self.last_save_ms + self.app.config.stream_flush_ms as i64;
        Duration::from_millis((due - self.app.now_ms()).max(0) as u64)
    }

    /// Saves the unsaved events. Returns how the reply must end, if it must: it was
    /// cancelled, or its client left and nobody resumed within the grace period.
    /// A batch save renews the lease; with nothing to save, it is renewed on its own
    /// when due.
    async fn save(&mut self) -> Option<Ending> {
        let now = self.app.now_ms();
        self.last_save_ms = now;
        self.unsaved_bytes = 0;
        let (session, message) = (self.turn.session_id, self.turn.reply.id);
        if self.unsaved.is_empty() {
            if now - self.lease_renewed_ms >= lease::renew_every(&self.app).as_millis() as i64 {
                self.lease_renewed_ms =
                    renew(&self.app, session, message).await.unwrap_or(self.lease_renewed_ms);
            }
        } else {
            match buffer::save(&self.app, session, message, &self.unsaved, Check::Cancel).await {
                // The batch stays unsaved, to go out with the last one.
                Ok(Saved::Cancelled) => return Some(Ending::Cancelled),
                Ok(Saved::Yes) => {
                    self.unsaved.clear();
                    self.lease_renewed_ms = now;
                }
                Err(e) => {
                    tracing::error!(error = %e, "stream batch could not be saved");
                    self.unsaved.clear();
                }
            }
        }
        let grace_ms = self.app.config.resume_grace_seconds * 1000;
        match self.detached_at_ms {
            Some(at) if self.app.now_ms() - at > grace_ms => {
                let watched = buffer::reader_present(&self.app, session, message).await.unwrap_or(false);
                (!watched).then_some(Ending::Interrupted)
            }
            _ => None,
        }
    }

    /// Ends the stream, then saves the reply and counts its usage (and names the
    /// session when asked to): the client's stream has ended by then, and on runtimes
    /// that freeze work once the response is sent, this still runs within the turn.
    async fn finish(mut self, ending: Ending) {
        let usage = self.usage.unwrap_or_else(|| self.estimated_usage());
        self.emit(
            "usage",
            json!({ "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens }),
        );
        let mut end = json!({ "status": ending.status() });
        if let Some(reason) = self.finish.filter(|_| ending == Ending::Complete) {
            end["finish_reason"] = json!(reason);
        }
        self.emit("message_end", end);
        let app = self.app.clone();
        let session_id = self.turn.session_id;
        let events = std::mem::take(&mut self.unsaved);
        let reply_id = self.turn.reply.id;
        let saved = persist(&app, || buffer::save(&app, session_id, reply_id, &events, Check::Nothing)).await;
        if let Err(e) = saved {
            tracing::error!(error = %e, "final stream batch could not be saved");
        }
        let Turn { mut reply, route, reservation, user_id, user_message_id, request, name_session, .. } =
            self.turn;
        reply.status = ending.status();
        reply.usage = Some(usage);
        let asked = request.messages.last().map(|m| m.content.as_str()).unwrap_or_default();
        let named = async {
            if name_session && ending == Ending::Complete {
                title::name(&app, user_id, session_id, &route, asked, &reply.content).await;
            }
        };
        let (saved, counted, ()) = futures::join!(
            persist(&app, || turns::finish(&app, user_id, session_id, &reply)),
            reservation.settle(&route.name, usage),
            named,
        );
        if let Err(e) = counted {
            tracing::error!(error = %e, "usage could not be recorded");
        }
        if let Err(e) = saved {
            tracing::error!(error = %e, message_id = %reply.id, "reply could not be saved");
            return;
        }
        // Only a saved turn is indexed, so a session deleted meanwhile gains no entries.
        let indexed = futures::future::try_join(
            search::index(&app, user_id, session_id, Some(user_message_id), asked),
            search::index(&app, user_id, session_id, Some(reply.id), &reply.content),
        )
        .await;
        if let Err(e) = indexed {
            tracing::warn!(error = %e, "the turn could not be indexed for search");
        }
    }

    fn estimated_usage(&self) -> Usage {
        Usage {
            input_tokens: estimate_prompt(&self.turn.request),
            output_tokens: estimate_tokens(&self.turn.reply.content),
        }
    }
}

/// Renews the lease on a reply; returns when, or `None` if the write failed (the lease
/// then runs out unless a later renewal succeeds).
async fn renew(app: &App, session_id: Id, message_id: Id) -> Option<i64> {
    let now = app.now_ms();
    match leases::renew(app, session_id, message_id).await {
        Ok(()) => Some(now),
        Err(e) => {
            tracing::error!(error = %e, "stream lease could not be renewed");
            None
        }
    }
}

#[cfg(test)]
mod tests;
