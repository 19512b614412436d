//! Reading Server-Sent Events responses the way a browser's EventSource does.

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use reqwest::Response;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

/// The response's events as they arrive.
pub fn events(resp: Response) -> impl Stream<Item = Event> + Unpin {
    Box::pin(resp.bytes_stream().eventsource().map(|e| {
        let e = e.expect("a well-formed event stream");
        Event {
            id: e.id.parse().ok(),
            event: e.event,
            data: serde_json::from_str(&e.data).unwrap_or(Value::String(e.data)),
        }
    }))
}

/// Every event until the stream ends.
pub async fn all_events(resp: Response) -> Vec<Event> {
    assert_eq!(resp.status(), 200, "an event stream answers 200");
    let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_string());
    assert_eq!(content_type.as_deref(), Some("text/event-stream"));
    events(resp).collect().await
}

/// The concatenated `delta` texts.
pub fn text(events: &[Event]) -> String {
    events.iter().filter(|e| e.event == "delta").map(|e| e.data["text"].as_str().unwrap_or("")).collect()
}

/// Event ids, which must run 0, 1, 2… across a reply.
pub fn ids(events: &[Event]) -> Vec<u64> {
    events.iter().map(|e| e.id.expect("every event has an id")).collect()
}

/// Asserts that the reply's last event is `message_end` with `status`.
pub fn ends_with(events: &[Event], status: &str) {
    let last = events.last().expect("events");
    assert_eq!((last.event.as_str(), &last.data["status"]), ("message_end", &json!(status)), "{events:?}");
}

/// The code of the reply's `error` event, if it has one.
pub fn error_code(events: &[Event]) -> Option<String> {
    events.iter().find(|e| e.event == "error").map(|e| e.data["code"].as_str().unwrap_or("").to_string())
}

/// A turn's `(user_message_id, message_id)`, from its `message_start`.
pub fn turn_ids(events: &[Event]) -> (String, String) {
    let start = &events[0].data;
    let id = |key: &str| start[key].as_str().unwrap_or_else(|| panic!("{key} in {start}")).to_string();
    (id("user_message_id"), id("message_id"))
}
