//! What the format tests share: canned wire bytes, the events they stand for, the
//! checks every format must pass, and [`wire_format_tests!`] to run them.

pub use bytes::Bytes;
use confab_core::ports::HttpError;
pub use confab_core::providers::{
    BodyStream, ChatMessage, ChatRequest, ChatRole, Credentials, FinishReason, Part, ProviderError,
    ProviderEvent, ProviderKind, Target, ToolCall, ToolCallDelta, ToolResult, Usage, WireFormat,
};
use futures::StreamExt;
pub use http::{HeaderMap, HeaderValue, StatusCode};
pub use serde_json::{Value, json};
pub use std::time::Duration;
use time::OffsetDateTime;
use time::macros::datetime;

pub type Events = Vec<Result<ProviderEvent, ProviderError>>;

pub const NOW: OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);

pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn fixture_json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap()
}

pub fn text(t: &str) -> Result<ProviderEvent, ProviderError> {
    Ok(ProviderEvent::Text(t.into()))
}

pub fn usage(input_tokens: u64, output_tokens: u64) -> Result<ProviderEvent, ProviderError> {
    Ok(ProviderEvent::Usage(Usage { input_tokens, output_tokens }))
}

/// A piece of a streamed tool call (`id` and `name` come with the first).
pub fn call(
    index: u32,
    id: Option<&str>,
    name: Option<&str>,
    arguments: &str,
) -> Result<ProviderEvent, ProviderError> {
    Ok(ProviderEvent::ToolCall(ToolCallDelta {
        index,
        id: id.map(Into::into),
        name: name.map(Into::into),
        arguments: arguments.into(),
    }))
}

pub fn finish(reason: FinishReason) -> Result<ProviderEvent, ProviderError> {
    Ok(ProviderEvent::Finish(reason))
}

pub fn ended_early() -> ProviderError {
    ProviderError::Transport("stream ended early".into())
}

fn body_of(items: Vec<Result<Bytes, HttpError>>) -> BodyStream {
    Box::pin(futures::stream::iter(items))
}

/// The events `format` reads from a body arriving as `chunks`.
pub fn run(format: &dyn WireFormat, chunks: Vec<&[u8]>) -> Events {
    let body = body_of(chunks.into_iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect());
    futures::executor::block_on(format.events(body).collect())
}

/// A small deterministic generator for chunk sizes.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `bytes` reads as `expected` whole, byte by byte, split in two at every position,
/// and in random-size chunks.
pub fn check_every_split(format: &dyn WireFormat, bytes: &[u8], expected: &Events) {
    assert_eq!(&run(format, vec![bytes]), expected, "whole");
    assert_eq!(&run(format, bytes.chunks(1).collect()), expected, "1-byte chunks");
    for at in 0..=bytes.len() {
        assert_eq!(&run(format, vec![&bytes[..at], &bytes[at..]]), expected, "split at {at}");
    }
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..100 {
        let max = 1 + round % 64;
        let mut chunks = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at((1 + rng.below(max)).min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        // An empty chunk now and then, as some clients deliver.
        if round % 3 == 0 {
            chunks.insert(chunks.len() / 2, &[]);
        }
        assert_eq!(&run(format, chunks), expected, "random chunks, round {round}");
    }
}

/// Every strict prefix of `bytes` (but those in `complete_at`) ends with
/// [`ended_early`] after a prefix of `expected`'s events.
pub fn check_early_ends(format: &dyn WireFormat, bytes: &[u8], expected: &Events, complete_at: &[usize]) {
    for at in (0..bytes.len()).filter(|at| !complete_at.contains(at)) {
        let out = run(format, vec![&bytes[..at]]);
        let (last, events) = out.split_last().unwrap();
        assert_eq!(last, &Err(ended_early()), "cut at {at}");
        assert!(expected.starts_with(events), "cut at {at}: {events:?}");
    }
}

/// A connection that breaks halfway is reported as the transport error it is.
pub fn check_transport_error(format: &dyn WireFormat, bytes: &[u8]) {
    let cut = ProviderError::Transport("connection reset by peer".into());
    let body = body_of(vec![
        Ok(Bytes::copy_from_slice(&bytes[..bytes.len() / 2])),
        Err(HttpError::Transport("connection reset by peer".into())),
        Ok(Bytes::copy_from_slice(&bytes[bytes.len() / 2..])),
    ]);
    let out: Events = futures::executor::block_on(format.events(body).collect());
    assert_eq!(out.last(), Some(&Err(cut)), "{out:?}");
    assert_eq!(out.iter().filter(|e| e.is_err()).count(), 1);
}

pub fn target(provider: ProviderKind, base_url: &str, model: &str) -> Target {
    Target { provider, base_url: base_url.into(), model: model.into(), api_key_secret: None, region: None }
}

pub fn key(k: &str) -> Credentials {
    Credentials { api_key: Some(k.into()), ..Default::default() }
}

/// A conversation using every option.
pub fn full_request() -> ChatRequest {
    let message = |role, content: &str| ChatMessage::text(role, content);
    ChatRequest {
        system: Some("You are terse.".into()),
        messages: vec![
            message(ChatRole::User, "Hello"),
            message(ChatRole::Assistant, "Hi! How can I help?"),
            message(ChatRole::User, "Say hello in French."),
        ],
        max_tokens: Some(256),
        temperature: Some(0.7),
        top_p: Some(0.9),
        stop: vec!["\n\n".into(), "END".into()],
        ..Default::default()
    }
}

pub fn minimal_request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::text(ChatRole::User, "Say hello in French.")],
        ..Default::default()
    }
}

/// The request's headers as sorted `name: value` lines.
pub fn header_lines(request: &http::Request<Bytes>) -> Vec<String> {
    let mut lines: Vec<String> =
        request.headers().iter().map(|(n, v)| format!("{n}: {}", v.to_str().unwrap())).collect();
    lines.sort();
    lines
}

pub fn body_json(request: &http::Request<Bytes>) -> Value {
    serde_json::from_slice(request.body()).unwrap()
}

pub fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    pairs.iter().map(|(n, v)| (http::HeaderName::from_static(n), HeaderValue::from_str(v).unwrap())).collect()
}

/// An SSE body of `data:` events.
pub fn sse(datas: &[Value]) -> Vec<u8> {
    datas.iter().map(|d| format!("data: {d}\n\n")).collect::<String>().into_bytes()
}

/// A well-formed streamed reply in one format and the events it stands for.
pub struct Reply {
    pub bytes: Vec<u8>,
    pub events: Events,
    /// Where a cut leaves the reply complete all the same (not an early end).
    pub complete_at: Vec<usize>,
}

impl Reply {
    pub fn new(bytes: Vec<u8>, events: Events) -> Self {
        Reply { bytes, events, complete_at: Vec::new() }
    }
}

/// Expands to a module `wire_format` with the tests every wire format passes: each of
/// `replies` (a `Vec<Reply>`) reads the same however its bytes are chunked, reports
/// every cut as an early end and a broken connection as a transport error; an empty
/// body ended early; a base URL that is not one is a configuration error (asked with
/// `credentials`).
macro_rules! wire_format_tests {
    (format: $format:expr, kind: $kind:expr, credentials: $credentials:expr, replies: $replies:expr $(,)?) => {
        mod wire_format {
            use super::*;

            #[test]
            fn reads_a_reply_however_it_is_chunked() {
                for reply in $replies {
                    check_every_split(&$format, &reply.bytes, &reply.events);
                }
            }

            #[test]
            fn reports_a_reply_cut_short() {
                for reply in $replies {
                    check_early_ends(&$format, &reply.bytes, &reply.events, &reply.complete_at);
                }
            }

            #[test]
            fn reports_a_broken_connection() {
                for reply in $replies {
                    check_transport_error(&$format, &reply.bytes);
                }
            }

            proptest::proptest! {
                /// A true reply cut anywhere and followed by any bytes, in chunks of any
                /// size: events or an error, never a panic, never more events than bytes.
                #[test]
                fn any_bytes_end_in_events_or_an_error(
                    pick in 0usize..64,
                    cut in 0usize..8192,
                    noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
                    chunk in 1usize..64,
                ) {
                    let replies = $replies;
                    let reply = &replies[pick % replies.len()];
                    let mut bytes = reply.bytes[..cut.min(reply.bytes.len())].to_vec();
                    bytes.extend(noise);
                    let events = run(&$format, bytes.chunks(chunk).collect());
                    proptest::prop_assert!(events.len() <= bytes.len() + 2, "{} events", events.len());
                }
            }

            #[test]
            fn an_empty_body_ended_early() {
                assert_eq!(run(&$format, vec![]), [Err(ended_early())]);
            }

            #[test]
            fn a_bad_base_url_is_a_config_error() {
                let t = Target { region: Some("us-east-1".into()), ..target($kind, "api.example.com", "m") };
                let e = $format.request(&t, &$credentials, &minimal_request(), NOW).unwrap_err();
                assert!(matches!(e, ProviderError::Config(_)), "{e:?}");
            }
        }
    };
}
