//! Server-Sent Events framing.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event of a chat reply, as sent and as stored for resuming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEvent {
    pub id: u64,
    pub event: String,
    pub data: Value,
}

impl StreamEvent {
    pub fn encode(&self) -> Bytes {
        Bytes::from(format!("id: {}\nevent: {}\ndata: {}\n\n", self.id, self.event, self.data))
    }
}

/// A `data:`-only event (the OpenAI streaming format).
pub fn data_only(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// Headers for an event-stream response; `no-transform` and `X-Accel-Buffering` keep
/// proxies and CDNs from buffering it.
pub fn response(body: crate::http::ByteStream) -> crate::http::Response {
    use http::{HeaderValue, header};
    let mut resp = crate::http::Response::new(crate::http::Body::Stream(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let e = StreamEvent { id: 3, event: "delta".into(), data: serde_json::json!({"text": "a\nb"}) };
        assert_eq!(e.encode(), "id: 3\nevent: delta\ndata: {\"text\":\"a\\nb\"}\n\n");
        assert_eq!(data_only("[DONE]"), "data: [DONE]\n\n");
    }
}
