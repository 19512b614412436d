//! The four provider wire formats against canned wire bytes: the requests they build,
//! the events they read from streamed replies (however the bytes are chunked), and the
//! errors they map. No network.

use bytes::Bytes;
use confab_core::ports::HttpError;
use confab_core::providers::anthropic::{self, Anthropic};
use confab_core::providers::bedrock::Bedrock;
use confab_core::providers::gemini::Gemini;
use confab_core::providers::openai::OpenAi;
use confab_core::providers::{
    AwsCredentials, BodyStream, ChatMessage, ChatRequest, ChatRole, Credentials, FinishReason, ProviderError,
    ProviderEvent, ProviderKind, Target, Usage, WireFormat,
};
use futures::StreamExt;
use hmac::Mac;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;
use time::OffsetDateTime;
use time::macros::datetime;

type Events = Vec<Result<ProviderEvent, ProviderError>>;

const NOW: OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/providers/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn fixture_json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap()
}

fn text(t: &str) -> Result<ProviderEvent, ProviderError> {
    Ok(ProviderEvent::Text(t.into()))
}

fn usage(input_tokens: u64, output_tokens: u64) -> Result<ProviderEvent, ProviderError> {
    Ok(ProviderEvent::Usage(Usage { input_tokens, output_tokens }))
}

fn finish(reason: FinishReason) -> Result<ProviderEvent, ProviderError> {
    Ok(ProviderEvent::Finish(reason))
}

fn ended_early() -> ProviderError {
    ProviderError::Transport("stream ended early".into())
}

fn body_of(items: Vec<Result<Bytes, HttpError>>) -> BodyStream {
    Box::pin(futures::stream::iter(items))
}

/// The events `format` reads from a body arriving as `chunks`.
fn run(format: &dyn WireFormat, chunks: Vec<&[u8]>) -> Events {
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
fn check_every_split(format: &dyn WireFormat, bytes: &[u8], expected: &Events) {
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
fn check_early_ends(format: &dyn WireFormat, bytes: &[u8], expected: &Events, complete_at: &[usize]) {
    for at in (0..bytes.len()).filter(|at| !complete_at.contains(at)) {
        let out = run(format, vec![&bytes[..at]]);
        let (last, events) = out.split_last().unwrap();
        assert_eq!(last, &Err(ended_early()), "cut at {at}");
        assert!(expected.starts_with(events), "cut at {at}: {events:?}");
    }
}

/// A connection that breaks halfway is reported as the transport error it is.
fn check_transport_error(format: &dyn WireFormat, bytes: &[u8]) {
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

fn target(provider: ProviderKind, base_url: &str, model: &str) -> Target {
    Target { provider, base_url: base_url.into(), model: model.into(), api_key_secret: None, region: None }
}

fn key(k: &str) -> Credentials {
    Credentials { api_key: Some(k.into()), ..Default::default() }
}

/// A conversation using every option.
fn full_request() -> ChatRequest {
    let message = |role, content: &str| ChatMessage { role, content: content.into() };
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
    }
}

fn minimal_request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage { role: ChatRole::User, content: "Say hello in French.".into() }],
        ..Default::default()
    }
}

/// The request's headers as sorted `name: value` lines.
fn header_lines(request: &http::Request<Bytes>) -> Vec<String> {
    let mut lines: Vec<String> =
        request.headers().iter().map(|(n, v)| format!("{n}: {}", v.to_str().unwrap())).collect();
    lines.sort();
    lines
}

fn body_json(request: &http::Request<Bytes>) -> Value {
    serde_json::from_slice(request.body()).unwrap()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    pairs.iter().map(|(n, v)| (http::HeaderName::from_static(n), HeaderValue::from_str(v).unwrap())).collect()
}

/// An SSE body of `data:` events.
fn sse(datas: &[Value]) -> Vec<u8> {
    datas.iter().map(|d| format!("data: {d}\n\n")).collect::<String>().into_bytes()
}

// ---------------------------------------------------------------------------------
// OpenAI

#[test]
fn openai_request_to_openai() {
    let t = target(ProviderKind::Openai, "https://api.openai.com/v1/", "gpt-4o-mini");
    let request = OpenAi.request(&t, &key("sk-test"), &full_request(), NOW).unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), "https://api.openai.com/v1/chat/completions");
    assert_eq!(header_lines(&request), ["authorization: Bearer sk-test", "content-type: application/json"]);
    assert!(request.headers()["authorization"].is_sensitive());
    assert_eq!(body_json(&request), fixture_json("openai/request.json"));
    // f32 options go out as written, not widened to f64 noise.
    let raw = std::str::from_utf8(request.body()).unwrap();
    assert!(raw.contains(r#""temperature":0.7,"#) && raw.contains(r#""top_p":0.9,"#), "{raw}");
}

#[test]
fn openai_request_to_a_compatible_server_without_key() {
    let t = target(ProviderKind::Openai, "http://localhost:11434/v1", "llama3.2");
    let req = ChatRequest { max_tokens: Some(64), ..minimal_request() };
    let request = OpenAi.request(&t, &Credentials::default(), &req, NOW).unwrap();
    assert_eq!(request.uri(), "http://localhost:11434/v1/chat/completions");
    assert_eq!(header_lines(&request), ["content-type: application/json"]);
    assert_eq!(body_json(&request), fixture_json("openai/request_compatible.json"));
}

#[test]
fn openai_stream() {
    let bytes = fixture("openai/stream.sse");
    let expected =
        vec![text("Bonjour"), text(" à"), text(" tous 👋"), usage(19, 6), finish(FinishReason::Stop)];
    check_every_split(&OpenAi, &bytes, &expected);
    check_early_ends(&OpenAi, &bytes, &expected, &[]);
    check_transport_error(&OpenAi, &bytes);
    // A byte-order mark before the stream is allowed, and skipped.
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), &bytes].concat();
    check_every_split(&OpenAi, &with_bom, &expected);
}

#[test]
fn openai_stream_error_in_stream() {
    let out = run(&OpenAi, vec![&fixture("openai/openrouter_error.sse")]);
    assert_eq!(out, [text("Bon"), Err(ProviderError::Upstream("Provider returned error".into()))]);

    let openai = sse(&[json!({"error": {"message": "The server had an error", "type": "server_error"}})]);
    assert_eq!(
        run(&OpenAi, vec![&openai]),
        [Err(ProviderError::Upstream("server_error: The server had an error".into()))]
    );

    let vllm = sse(&[json!({"object": "error", "message": "maximum context length exceeded", "code": 400})]);
    assert_eq!(
        run(&OpenAi, vec![&vllm]),
        [Err(ProviderError::Upstream("maximum context length exceeded".into()))]
    );

    let proxy = b"event: error\ndata: upstream timed out\n\n";
    assert_eq!(run(&OpenAi, vec![proxy]), [Err(ProviderError::Upstream("upstream timed out".into()))]);

    let invalid_utf8 = b"data: {\"choices\": [{\"delta\": {\"content\": \"\xff\"}}]}\n\ndata: [DONE]\n\n";
    assert!(matches!(run(&OpenAi, vec![invalid_utf8]).as_slice(), [Err(ProviderError::Protocol(_))]));

    let garbage = b"data: {not json\n\n";
    assert!(matches!(run(&OpenAi, vec![garbage]).as_slice(), [Err(ProviderError::Protocol(_))]));
}

#[test]
fn openai_finish_reasons_and_usage_variants() {
    let reply = |reason: &str| {
        let mut bytes =
            sse(&[json!({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": reason}]})]);
        bytes.extend_from_slice(b"data: [DONE]\n\n");
        run(&OpenAi, vec![&bytes])
    };
    assert_eq!(reply("stop"), [text("x"), finish(FinishReason::Stop)]);
    assert_eq!(reply("length"), [text("x"), finish(FinishReason::Length)]);
    assert_eq!(reply("content_filter"), [text("x"), finish(FinishReason::ContentFilter)]);
    assert_eq!(reply("tool_calls"), [text("x"), finish(FinishReason::Stop)]);
    assert_eq!(reply("function_call"), [text("x"), finish(FinishReason::Stop)]);

    // Groq's usage rides in `x_groq`; a [DONE] with no finish reason is a plain stop.
    let mut groq =
        sse(&[json!({"choices": [], "x_groq": {"usage": {"prompt_tokens": 3, "completion_tokens": 2}}})]);
    groq.extend_from_slice(b"data: [DONE]\n\n");
    assert_eq!(run(&OpenAi, vec![&groq]), [usage(3, 2), finish(FinishReason::Stop)]);

    // Only the first choice is the reply.
    let mut two = sse(&[
        json!({"choices": [{"index": 1, "delta": {"content": "no"}}, {"index": 0, "delta": {"content": "yes"}}]}),
    ]);
    two.extend_from_slice(b"data: [DONE]\n\n");
    assert_eq!(run(&OpenAi, vec![&two]), [text("yes"), finish(FinishReason::Stop)]);
}

#[test]
fn openai_error_response() {
    let h = headers(&[("retry-after", "20"), ("content-type", "application/json")]);
    let e = OpenAi.error(StatusCode::TOO_MANY_REQUESTS, &h, &fixture("openai/error_429.json"));
    let ProviderError::Status { status: 429, retry_after: Some(wait), message } = &e else { panic!("{e:?}") };
    assert_eq!(*wait, Duration::from_secs(20));
    assert!(message.starts_with("rate_limit_exceeded: Rate limit reached for gpt-4o-mini"), "{message}");
    assert!(e.retryable());

    let e =
        OpenAi.error(StatusCode::NOT_FOUND, &HeaderMap::new(), br#"{"error":"model \"llama9\" not found"}"#);
    assert_eq!(
        e,
        ProviderError::Status {
            status: 404,
            retry_after: None,
            message: "model \"llama9\" not found".into()
        }
    );
    assert!(!e.retryable());

    let e = OpenAi.error(
        StatusCode::BAD_GATEWAY,
        &HeaderMap::new(),
        b"<html><body>502 Bad Gateway</body></html>",
    );
    assert_eq!(
        e,
        ProviderError::Status {
            status: 502,
            retry_after: None,
            message: "<html><body>502 Bad Gateway</body></html>".into()
        }
    );
}

// ---------------------------------------------------------------------------------
// Anthropic

#[test]
fn anthropic_request() {
    let t = target(ProviderKind::Anthropic, "https://api.anthropic.com", "claude-sonnet-4-5");
    let request = Anthropic.request(&t, &key("sk-ant-test"), &full_request(), NOW).unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), "https://api.anthropic.com/v1/messages");
    assert_eq!(
        header_lines(&request),
        ["anthropic-version: 2023-06-01", "content-type: application/json", "x-api-key: sk-ant-test"]
    );
    assert!(request.headers()["x-api-key"].is_sensitive());
    assert_eq!(body_json(&request), fixture_json("anthropic/request.json"));
}

#[test]
fn anthropic_request_defaults_max_tokens() {
    let t = target(ProviderKind::Anthropic, "", "claude-haiku-4-5");
    let request = Anthropic.request(&t, &key("k"), &minimal_request(), NOW).unwrap();
    assert_eq!(request.uri(), "https://api.anthropic.com/v1/messages");
    assert_eq!(
        body_json(&request),
        json!({
            "model": "claude-haiku-4-5",
            "messages": [{"role": "user", "content": "Say hello in French."}],
            "max_tokens": anthropic::DEFAULT_MAX_TOKENS,
            "stream": true,
        })
    );
}

#[test]
fn anthropic_stream() {
    let bytes = fixture("anthropic/stream.sse");
    let expected =
        vec![usage(25, 1), text("Bonjour"), text(" à tous 👋"), usage(25, 15), finish(FinishReason::Stop)];
    check_every_split(&Anthropic, &bytes, &expected);
    check_early_ends(&Anthropic, &bytes, &expected, &[]);
    check_transport_error(&Anthropic, &bytes);
}

#[test]
fn anthropic_error_event_in_stream() {
    let bytes = fixture("anthropic/overloaded.sse");
    let expected =
        vec![usage(25, 1), text("Bon"), Err(ProviderError::Upstream("overloaded_error: Overloaded".into()))];
    check_every_split(&Anthropic, &bytes, &expected);
}

#[test]
fn anthropic_stop_reasons_cached_usage_and_other_blocks() {
    let reply = |reason: &str| {
        let events = [
            (
                "message_start",
                json!({"type": "message_start", "message": {"usage": {"input_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "abc"}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": "Hi"}}),
            ),
            ("some_future_event", json!({"type": "some_future_event"})),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": null}, "usage": {"output_tokens": 7}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ];
        let bytes: String =
            events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect();
        run(&Anthropic, vec![bytes.as_bytes()])
    };
    let expect = |reason| vec![usage(125, 1), text("Hi"), usage(125, 7), finish(reason)];
    assert_eq!(reply("end_turn"), expect(FinishReason::Stop));
    assert_eq!(reply("stop_sequence"), expect(FinishReason::Stop));
    assert_eq!(reply("tool_use"), expect(FinishReason::Stop));
    assert_eq!(reply("max_tokens"), expect(FinishReason::Length));
    assert_eq!(reply("refusal"), expect(FinishReason::ContentFilter));
}

#[test]
fn anthropic_error_response() {
    let h = headers(&[("retry-after", "7")]);
    let e = Anthropic.error(StatusCode::from_u16(529).unwrap(), &h, &fixture("anthropic/error_529.json"));
    assert_eq!(
        e,
        ProviderError::Status {
            status: 529,
            retry_after: Some(Duration::from_secs(7)),
            message: "overloaded_error: Overloaded".into()
        }
    );
    assert!(e.retryable());
    let body = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
    let e = Anthropic.error(StatusCode::UNAUTHORIZED, &HeaderMap::new(), body);
    assert_eq!(
        e,
        ProviderError::Status {
            status: 401,
            retry_after: None,
            message: "authentication_error: invalid x-api-key".into()
        }
    );
    assert!(!e.retryable());
}

// ---------------------------------------------------------------------------------
// Gemini

#[test]
fn gemini_request() {
    let t = target(ProviderKind::Gemini, "https://generativelanguage.googleapis.com", "gemini-2.5-flash");
    let request = Gemini.request(&t, &key("AIza-test"), &full_request(), NOW).unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(
        request.uri(),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(header_lines(&request), ["content-type: application/json", "x-goog-api-key: AIza-test"]);
    assert!(request.headers()["x-goog-api-key"].is_sensitive());
    assert_eq!(body_json(&request), fixture_json("gemini/request.json"));
}

#[test]
fn gemini_minimal_request_and_model_names() {
    let t = target(ProviderKind::Gemini, "", "tunedModels/my-model-1");
    let request = Gemini.request(&t, &key("k"), &minimal_request(), NOW).unwrap();
    assert_eq!(
        request.uri(),
        "https://generativelanguage.googleapis.com/v1beta/tunedModels/my-model-1:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        body_json(&request),
        json!({"contents": [{"role": "user", "parts": [{"text": "Say hello in French."}]}]})
    );
}

#[test]
fn gemini_stream() {
    let lf = fixture("gemini/stream.sse");
    let expected = vec![
        text("Bonjour"),
        usage(11, 0),
        text(" à tous 👋"),
        usage(11, 0),
        text("!"),
        usage(11, 29),
        finish(FinishReason::Stop),
    ];
    // Gemini ends its lines with CRLF; both must read the same.
    let crlf = String::from_utf8(lf.clone()).unwrap().replace('\n', "\r\n").into_bytes();
    for bytes in [lf, crlf] {
        check_every_split(&Gemini, &bytes, &expected);
        check_early_ends(&Gemini, &bytes, &expected, &[]);
        check_transport_error(&Gemini, &bytes);
    }
}

#[test]
fn gemini_blocked_prompt_and_finish_reasons() {
    let out = run(&Gemini, vec![&fixture("gemini/blocked.sse")]);
    assert_eq!(out, [usage(9, 0), finish(FinishReason::ContentFilter)]);

    let reply = |reason: &str| {
        let parts = json!([{"text": "thinking…", "thought": true}, {"text": "Hi"}]);
        let chunk = json!({"candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": reason, "index": 0}]});
        run(&Gemini, vec![&sse(&[chunk])])
    };
    assert_eq!(reply("STOP"), [text("Hi"), finish(FinishReason::Stop)]);
    assert_eq!(reply("MAX_TOKENS"), [text("Hi"), finish(FinishReason::Length)]);
    for filtered in ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"] {
        assert_eq!(reply(filtered), [text("Hi"), finish(FinishReason::ContentFilter)], "{filtered}");
    }
    assert_eq!(reply("OTHER"), [text("Hi"), finish(FinishReason::Stop)]);
}

#[test]
fn gemini_error_in_stream() {
    let mut bytes =
        sse(&[json!({"candidates": [{"content": {"parts": [{"text": "Bon"}], "role": "model"}}]})]);
    bytes.extend(sse(&[
        json!({"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}),
    ]));
    let expected =
        vec![text("Bon"), Err(ProviderError::Upstream("INTERNAL: An internal error has occurred.".into()))];
    check_every_split(&Gemini, &bytes, &expected);
}

#[test]
fn gemini_error_response() {
    let body = fixture("gemini/error_429.json");
    let e = Gemini.error(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), &body);
    let ProviderError::Status { status: 429, retry_after, message } = &e else { panic!("{e:?}") };
    assert_eq!(*retry_after, Some(Duration::from_secs(37)), "from RetryInfo");
    assert!(message.starts_with("RESOURCE_EXHAUSTED: You exceeded your current quota"), "{message}");
    // A Retry-After header wins; an error wrapped in an array (as non-SSE streams send) reads the same.
    let wrapped = format!("[{}]", String::from_utf8(body).unwrap());
    let e =
        Gemini.error(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "3")]), wrapped.as_bytes());
    let ProviderError::Status { retry_after, message, .. } = &e else { panic!("{e:?}") };
    assert_eq!(*retry_after, Some(Duration::from_secs(3)));
    assert!(message.starts_with("RESOURCE_EXHAUSTED: "), "{message}");
    let body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#;
    assert_eq!(
        Gemini.error(StatusCode::BAD_REQUEST, &HeaderMap::new(), body),
        ProviderError::Status {
            status: 400,
            retry_after: None,
            message: "INVALID_ARGUMENT: API key not valid. Please pass a valid API key.".into()
        }
    );
}

// ---------------------------------------------------------------------------------
// Bedrock

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";

fn aws(session_token: Option<&str>) -> Credentials {
    Credentials {
        aws: Some(AwsCredentials {
            access_key_id: AKID.into(),
            secret_access_key: SECRET.into(),
            session_token: session_token.map(Into::into),
        }),
        ..Default::default()
    }
}

fn bedrock_target(base_url: &str) -> Target {
    Target { region: Some("us-east-1".into()), ..target(ProviderKind::Bedrock, base_url, MODEL) }
}

/// One event-stream message, encoded here independently of the crate under test.
fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7); // string
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = (12 + h.len() + payload.len() + 4) as u32;
    let mut m = Vec::new();
    m.extend_from_slice(&total.to_be_bytes());
    m.extend_from_slice(&(h.len() as u32).to_be_bytes());
    m.extend_from_slice(&crc32(&m).to_be_bytes());
    m.extend_from_slice(&h);
    m.extend_from_slice(payload);
    m.extend_from_slice(&crc32(&m).to_be_bytes());
    m
}

/// CRC-32 (IEEE), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The frames a fixture describes, and where each ends.
fn bedrock_frames(path: &str) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for item in fixture_json(path).as_array().unwrap() {
        let payload = serde_json::to_vec(&item["payload"]).unwrap();
        let headers = match (item["event"].as_str(), item["exception"].as_str()) {
            (Some(event), _) => {
                [(":event-type", event), (":content-type", "application/json"), (":message-type", "event")]
            }
            (_, Some(exception)) => [
                (":exception-type", exception),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            _ => panic!("bad fixture item {item}"),
        };
        bytes.extend(frame(&headers, &payload));
        ends.push(bytes.len());
    }
    (bytes, ends)
}

#[test]
fn bedrock_request() {
    let request = Bedrock.request(&bedrock_target(""), &aws(None), &full_request(), NOW).unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(
        request.uri(),
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    );
    assert_eq!(body_json(&request), fixture_json("bedrock/request.json"));
    let names: Vec<_> = request.headers().keys().map(|n| n.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in ["content-type", "x-amz-date", "authorization"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(request.headers()["x-amz-date"], "20240501T120000Z");

    let minimal = Bedrock.request(&bedrock_target(""), &aws(None), &minimal_request(), NOW).unwrap();
    assert_eq!(
        body_json(&minimal),
        json!({"messages": [{"role": "user", "content": [{"text": "Say hello in French."}]}]})
    );
}

#[test]
fn bedrock_request_needs_region_and_credentials() {
    let no_region = Target { region: None, ..bedrock_target("") };
    let e = Bedrock.request(&no_region, &aws(None), &minimal_request(), NOW).unwrap_err();
    assert!(matches!(e, ProviderError::Config(_)), "{e:?}");
    let e =
        Bedrock.request(&bedrock_target(""), &Credentials::default(), &minimal_request(), NOW).unwrap_err();
    assert!(matches!(e, ProviderError::Config(_)), "{e:?}");
    assert!(!e.retryable());
}

type HmacSha256 = hmac::Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SigV4's string to sign and signature for a canonical request, computed here from
/// the algorithm's definition.
fn sigv4(canonical_request: &str, amz_date: &str, region: &str, service: &str) -> (String, String) {
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{SECRET}").as_bytes(), date);
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(&hmac(&key, &string_to_sign));
    (string_to_sign, signature)
}

#[test]
fn the_independent_sigv4_matches_the_aws_test_suite() {
    let dir = "bedrock/sigv4-post-x-www-form-urlencoded";
    let canonical = String::from_utf8(fixture(&format!("{dir}/header-canonical-request.txt"))).unwrap();
    let (string_to_sign, signature) = sigv4(&canonical, "20150830T123600Z", "us-east-1", "service");
    assert_eq!(string_to_sign.as_bytes(), fixture(&format!("{dir}/header-string-to-sign.txt")));
    assert_eq!(signature.as_bytes(), fixture(&format!("{dir}/header-signature.txt")));
}

/// Checks `request`'s signature against one computed here from its canonical form:
/// the path double-encoded as SigV4 requires for every service but S3.
fn check_bedrock_signature(request: &http::Request<Bytes>, host: &str, session_token: Option<&str>) {
    let h = request.headers();
    let mut canonical_headers =
        format!("content-type:application/json\nhost:{host}\nx-amz-date:20240501T120000Z\n");
    let mut signed = "content-type;host;x-amz-date".to_owned();
    if let Some(token) = session_token {
        assert_eq!(h["x-amz-security-token"], token);
        canonical_headers.push_str(&format!("x-amz-security-token:{token}\n"));
        signed.push_str(";x-amz-security-token");
    }
    let canonical = format!(
        "POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse-stream\n\n{canonical_headers}\n{signed}\n{}",
        hex(&Sha256::digest(request.body()))
    );
    let (_, signature) = sigv4(&canonical, "20240501T120000Z", "us-east-1", "bedrock");
    let expected = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20240501/us-east-1/bedrock/aws4_request, SignedHeaders={signed}, Signature={signature}"
    );
    assert_eq!(h["authorization"].to_str().unwrap(), expected);
    assert!(h["authorization"].is_sensitive());
}

#[test]
fn bedrock_signature_matches_an_independent_sigv4() {
    let request = Bedrock.request(&bedrock_target(""), &aws(None), &full_request(), NOW).unwrap();
    check_bedrock_signature(&request, "bedrock-runtime.us-east-1.amazonaws.com", None);

    let token = "IQoJb3JpZ2luX2VjEXAMPLE+/=";
    let request = Bedrock.request(&bedrock_target(""), &aws(Some(token)), &full_request(), NOW).unwrap();
    check_bedrock_signature(&request, "bedrock-runtime.us-east-1.amazonaws.com", Some(token));

    // A local endpoint (a mock, a proxy) signs its port into the host.
    let local = bedrock_target("http://127.0.0.1:4010");
    let request = Bedrock.request(&local, &aws(None), &minimal_request(), NOW).unwrap();
    assert_eq!(
        request.uri(),
        "http://127.0.0.1:4010/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    );
    check_bedrock_signature(&request, "127.0.0.1:4010", None);
}

#[test]
fn bedrock_stream() {
    let (bytes, ends) = bedrock_frames("bedrock/stream.json");
    let expected = vec![text("Bonjour"), text(" à tous 👋"), usage(19, 6), finish(FinishReason::Stop)];
    check_every_split(&Bedrock, &bytes, &expected);
    // Cut between messageStop and metadata, the reply is whole but for its usage.
    let after_stop = ends[4];
    check_early_ends(&Bedrock, &bytes, &expected, &[after_stop]);
    assert_eq!(
        run(&Bedrock, vec![&bytes[..after_stop]]),
        [text("Bonjour"), text(" à tous 👋"), finish(FinishReason::Stop)]
    );
    check_transport_error(&Bedrock, &bytes);
}

#[test]
fn bedrock_exception_in_stream() {
    let (bytes, _) = bedrock_frames("bedrock/throttled.json");
    let expected = vec![
        text("Bon"),
        Err(ProviderError::Upstream(
            "throttlingException: Too many tokens, please wait before trying again.".into(),
        )),
    ];
    check_every_split(&Bedrock, &bytes, &expected);
}

#[test]
fn bedrock_stop_reasons() {
    let reply = |reason: &str| {
        let event = |name, payload: Value| {
            frame(
                &[(":event-type", name), (":content-type", "application/json"), (":message-type", "event")],
                &serde_json::to_vec(&payload).unwrap(),
            )
        };
        let mut bytes = event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}));
        bytes.extend(event("messageStop", json!({"stopReason": reason})));
        let usage = json!({"inputTokens": 4, "outputTokens": 1, "cacheReadInputTokens": 10, "cacheWriteInputTokens": 2});
        bytes.extend(event("metadata", json!({"usage": usage, "metrics": {"latencyMs": 100}})));
        run(&Bedrock, vec![&bytes])
    };
    let expect = |reason| vec![text("Hi"), usage(16, 1), finish(reason)];
    assert_eq!(reply("end_turn"), expect(FinishReason::Stop));
    assert_eq!(reply("stop_sequence"), expect(FinishReason::Stop));
    assert_eq!(reply("tool_use"), expect(FinishReason::Stop));
    assert_eq!(reply("max_tokens"), expect(FinishReason::Length));
    assert_eq!(reply("content_filtered"), expect(FinishReason::ContentFilter));
    assert_eq!(reply("guardrail_intervened"), expect(FinishReason::ContentFilter));
}

#[test]
fn bedrock_corruption_is_a_protocol_error() {
    let (bytes, ends) = bedrock_frames("bedrock/stream.json");
    // In the second frame: its prelude (length, CRC), a header, the payload, the message CRC.
    let start = ends[0];
    for at in [start + 2, start + 9, start + 20, ends[1] - 10, ends[1] - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        for chunks in [vec![&bad[..]], bad.chunks(7).collect()] {
            let out = run(&Bedrock, chunks);
            assert!(matches!(out.as_slice(), [Err(ProviderError::Protocol(_))]), "flip at {at}: {out:?}");
        }
    }
    // A frame without a message type is not Bedrock's.
    let stray = frame(&[(":event-type", "messageStop")], b"{}");
    assert!(matches!(run(&Bedrock, vec![&stray]).as_slice(), [Err(ProviderError::Protocol(_))]));
}

#[test]
fn bedrock_error_response() {
    let h = headers(&[
        ("x-amzn-errortype", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        ("retry-after", "2"),
    ]);
    let e = Bedrock.error(StatusCode::TOO_MANY_REQUESTS, &h, &fixture("bedrock/error_throttling.json"));
    assert_eq!(
        e,
        ProviderError::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
            message: "ThrottlingException: Too many requests, please wait before trying again.".into()
        }
    );
    let h = headers(&[("x-amzn-errortype", "AccessDeniedException")]);
    let body = br#"{"Message":"User is not authorized to perform: bedrock:InvokeModelWithResponseStream"}"#;
    let e = Bedrock.error(StatusCode::FORBIDDEN, &h, body);
    assert_eq!(
        e,
        ProviderError::Status {
            status: 403,
            retry_after: None,
            message: "AccessDeniedException: User is not authorized to perform: bedrock:InvokeModelWithResponseStream"
                .into()
        }
    );
}

// ---------------------------------------------------------------------------------
// All formats

#[test]
fn a_bad_base_url_is_a_config_error() {
    let formats: [(&dyn WireFormat, ProviderKind); 4] = [
        (&OpenAi, ProviderKind::Openai),
        (&Anthropic, ProviderKind::Anthropic),
        (&Gemini, ProviderKind::Gemini),
        (&Bedrock, ProviderKind::Bedrock),
    ];
    for (format, kind) in formats {
        let t = Target { region: Some("us-east-1".into()), ..target(kind, "api.example.com", "m") };
        let e = format.request(&t, &aws(None), &minimal_request(), NOW).unwrap_err();
        assert!(matches!(e, ProviderError::Config(_)), "{kind:?}: {e:?}");
    }
}

#[test]
fn an_empty_body_ended_early() {
    for format in [&OpenAi as &dyn WireFormat, &Anthropic, &Gemini, &Bedrock] {
        assert_eq!(run(format, vec![]), [Err(ended_early())]);
    }
}
