//! The turn producer on the kit: saved batches, cancel, a client that leaves, and a
//! provider failing mid-stream.

use super::{Turn, pieces, start};
use crate::chat::fixtures::{self, OPENAI_STREAM, openai, openai_delta, request, route, user};
use crate::chat::quota::admit;
use crate::config::Config;
use crate::domain::{Id, MessageStatus};
use crate::http::ByteStream;
use crate::ports::{Clock, HttpError};
use crate::repo::sessions::{self, Message};
use crate::repo::{buffer, quota};
use crate::testing::{self, Reply, TestApp};
use futures::StreamExt;
use std::time::Duration;

/// A started turn, as the send handler starts one.
struct Started {
    session_id: Id,
    reply_id: Id,
    client: ByteStream,
}

async fn start_turn(t: &TestApp) -> Started {
    let app = &t.app;
    let ada = user(t, 1_000_000);
    let (owned, asked, reply) = fixtures::streaming_turn(t, &ada).await;
    let ((), reservation) = admit(app, &ada, async { Ok(((), 1_000)) }).await.unwrap();
    let (session_id, reply_id) = (owned.session.id, reply.id);
    let turn = Turn {
        user_id: ada.id,
        session_id,
        user_message_id: asked.id,
        reply,
        route: route(vec![openai()]),
        request: request(),
        reservation,
        name_session: false,
        research: None,
    };
    Started { session_id, reply_id, client: start(app.clone(), turn) }
}

/// A reply whose first chunks are "Bonjour" (the stream's first two events), and the
/// rest of the stream, for the test to send when it likes.
fn bonjour() -> (Reply, impl Iterator<Item = String>) {
    let mut events = fixtures::events(OPENAI_STREAM);
    let first_two: Vec<String> = events.by_ref().take(2).collect();
    (Reply::new(200).chunks(first_two), events)
}

/// The client's stream, taken out of `started` to be read whole.
fn take_client(started: &mut Started) -> ByteStream {
    std::mem::replace(&mut started.client, Box::pin(futures::stream::empty()))
}

/// The event names in a stretch of the client's stream.
fn names(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines().filter_map(|l| l.strip_prefix("event: ")).map(String::from).collect()
}

/// Reads the client's stream to its end.
async fn read_all(client: ByteStream) -> Vec<String> {
    let chunks: Vec<_> = client.collect().await;
    names(&chunks.concat())
}

/// Reads the client's stream up to and including the first `delta`, and keeps it open.
async fn read_to_first_delta(client: &mut ByteStream) {
    while let Some(chunk) = client.next().await {
        if names(&chunk).iter().any(|n| n == "delta") {
            return;
        }
    }
    panic!("no delta");
}

/// The saved reply.
async fn saved(t: &TestApp, started: &Started) -> Message {
    sessions::message(&t.app, started.session_id, started.reply_id).await.unwrap().0
}

/// The id of each saved batch's first event.
fn batch_starts(t: &TestApp, started: &Started) -> Vec<u64> {
    let prefix = format!("STREAM#{}#", started.reply_id);
    t.store.items().iter().filter_map(|i| i.sk.strip_prefix(&prefix)?.parse().ok()).collect()
}

fn app(config: Config) -> TestApp {
    fixtures::app(testing::app().with_config(config))
}

fn config() -> Config {
    Config { stream_flush_ms: 200, stream_flush_bytes: 2048, idle_timeout_ms: 120_000, ..Config::default() }
}

#[test]
fn a_reply_is_saved_in_batches_by_time_then_whole_and_its_usage_counted() {
    let t = app(config());
    let (bonjour, rest) = bonjour();
    t.http.reply(bonjour.pause(Duration::from_secs(1)).chunks(rest));
    let (started, names) = t.run(async {
        let mut started = start_turn(&t).await;
        let client = take_client(&mut started);
        (started, read_all(client).await)
    });
    assert_eq!(names, ["message_start", "delta", "delta", "delta", "usage", "message_end"]);
    assert_eq!(batch_starts(&t, &started), [0, 2], "start and Bonjour after 200 ms; the rest at the end");
    let (events, _) = t.run(buffer::read(&t.app, started.session_id, started.reply_id, None, None)).unwrap();
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    assert_eq!(events[5].data["status"], "complete");
    assert_eq!(events[5].data["finish_reason"], "stop");

    let reply = t.run(saved(&t, &started));
    assert_eq!((reply.status, reply.content.as_str()), (MessageStatus::Complete, "Bonjour à tous 👋"));
    assert_eq!(reply.usage.map(|u| (u.input_tokens, u.output_tokens)), Some((19, 6)));
    let today = t.clock.now().date();
    let user_id = sessions_owner(&t, &started);
    assert_eq!(t.run(quota::add_tokens(&t.app, user_id, today, 0)).unwrap(), 25, "the reservation settled");
}

fn sessions_owner(t: &TestApp, started: &Started) -> Id {
    t.run(sessions::owner(&t.app, started.session_id)).unwrap()
}

#[test]
fn a_batch_is_saved_whenever_enough_text_has_gathered() {
    let t = app(Config { stream_flush_bytes: 8, ..config() });
    t.http.reply(fixtures::openai_reply());
    let started = t.run(async {
        let mut started = start_turn(&t).await;
        (&mut started.client).for_each(|_| async {}).await;
        started
    });
    // "Bonjour" (7 bytes) waits; " à" makes 10; " tous 👋" is 9 alone.
    assert_eq!(batch_starts(&t, &started), [0, 3, 4]);
}

#[test]
fn a_cancel_request_ends_the_reply_at_the_next_save() {
    let t = app(config());
    let (bonjour, rest) = bonjour();
    t.http.reply(bonjour.pause(Duration::from_secs(5)).chunks(rest));
    let (started, names) = t.run(async {
        let mut started = start_turn(&t).await;
        read_to_first_delta(&mut started.client).await;
        buffer::request_cancel(&t.app, started.session_id, started.reply_id).await.unwrap();
        let client = take_client(&mut started);
        (started, read_all(client).await)
    });
    assert_eq!(names, ["usage", "message_end"]);
    let reply = t.run(saved(&t, &started));
    assert_eq!((reply.status, reply.content.as_str()), (MessageStatus::Cancelled, "Bonjour"));
}

/// "Bonjour", then one more word every 5 s for a minute.
fn slow_reply() -> Reply {
    let (bonjour, rest) = bonjour();
    let words =
        (0..12).fold(bonjour, |reply, _| reply.pause(Duration::from_secs(5)).body(openai_delta(" encore")));
    words.chunks(rest)
}

/// The saved reply of a slow turn whose client left after the first delta, a resuming
/// reader present or not.
fn leave_after_first_delta(reader: bool) -> Message {
    let t = app(Config { resume_grace_seconds: 15, ..config() });
    t.http.reply(slow_reply());
    let started = t.run(async {
        let mut started = start_turn(&t).await;
        read_to_first_delta(&mut started.client).await;
        started.client = Box::pin(futures::stream::empty());
        if reader {
            buffer::mark_reader(&t.app, started.session_id, started.reply_id, 3600).await.unwrap();
        }
        started
    });
    t.run(saved(&t, &started))
}

#[test]
fn a_reply_whose_client_left_stops_after_the_grace_period() {
    let reply = leave_after_first_delta(false);
    assert_eq!(reply.status, MessageStatus::Interrupted);
    // Noticed gone at the first word after it left (5 s), stopped 15 s later.
    assert_eq!(reply.content, format!("Bonjour{}", " encore".repeat(4)));
}

#[test]
fn a_resuming_reader_keeps_a_reply_going_after_its_client_left() {
    let reply = leave_after_first_delta(true);
    assert_eq!(reply.status, MessageStatus::Complete);
    assert_eq!(reply.content, format!("Bonjour{} à tous 👋", " encore".repeat(12)));
}

#[test]
fn a_connection_lost_mid_stream_fails_the_reply_and_keeps_its_text() {
    let t = app(config());
    t.http.reply(bonjour().0.error(HttpError::Transport("connection reset".into())));
    let (started, chunks) = t.run(async {
        let mut started = start_turn(&t).await;
        let client = take_client(&mut started);
        (started, client.collect::<Vec<_>>().await.concat())
    });
    assert_eq!(names(&chunks), ["message_start", "delta", "error", "usage", "message_end"]);
    let text = String::from_utf8_lossy(&chunks);
    assert!(text.contains(r#""code":"upstream_error""#), "{text}");
    assert!(text.contains(r#"{"status":"failed"}"#), "{text}");
    let reply = t.run(saved(&t, &started));
    assert_eq!((reply.status, reply.content.as_str()), (MessageStatus::Failed, "Bonjour"));
    let usage = reply.usage.expect("an estimate");
    assert!(usage.input_tokens > 0 && usage.output_tokens > 0, "{usage:?}");
    assert_eq!(t.http.sent().len(), 1, "after the first token there is no retry");
}

#[test]
fn an_error_the_provider_sends_in_the_stream_fails_the_reply() {
    let t = app(config());
    let body = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/providers/openai/openrouter_error.sse"
    ));
    t.http.reply(Reply::new(200).chunks(fixtures::events(body)));
    let started = t.run(async {
        let mut started = start_turn(&t).await;
        (&mut started.client).for_each(|_| async {}).await;
        started
    });
    let reply = t.run(saved(&t, &started));
    assert_eq!((reply.status, reply.content.as_str()), (MessageStatus::Failed, "Bon"));
}

#[test]
fn long_texts_split_at_character_boundaries() {
    let text = "ab😀cd😀".repeat(3);
    let parts: Vec<&str> = pieces(&text, 5).collect();
    assert_eq!(parts.concat(), text);
    assert!(parts.iter().all(|p| p.len() <= 5 && !p.is_empty()), "{parts:?}");
    assert_eq!(pieces("😀", 1).collect::<Vec<_>>(), ["😀"], "one character even over the limit");
    assert_eq!(pieces("", 5).count(), 0);
}
