//! Anthropic Messages.

use crate::common::*;
use confab_core::providers::anthropic::{self, Anthropic};

fn replies() -> Vec<Reply> {
    let events =
        vec![usage(25, 1), text("Bonjour"), text(" à tous 👋"), usage(25, 15), finish(FinishReason::Stop)];
    let tools = vec![
        usage(80, 1),
        text("Checking."),
        call(0, Some("toolu_01"), Some("get_weather"), ""),
        call(0, None, None, "{\"city\":"),
        call(0, None, None, "\"Paris\"}"),
        call(1, Some("toolu_02"), Some("get_time"), ""),
        call(1, None, None, "{\"zone\": \"Europe/"),
        call(1, None, None, "Paris\"}"),
        usage(80, 30),
        finish(FinishReason::ToolCalls),
    ];
    // A call of a tool without parameters: its input is an empty `partial_json` alone,
    // read as `{}` (regression: OpenAI clients got arguments `""`, which is not JSON).
    let bare_bytes = sse(&[
        json!({"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_9", "name": "now", "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
        json!({"type": "message_stop"}),
    ]);
    let bare = vec![
        usage(9, 1),
        call(0, Some("toolu_9"), Some("now"), ""),
        call(0, None, None, "{}"),
        usage(9, 5),
        finish(FinishReason::ToolCalls),
    ];
    vec![
        Reply::new(fixture("anthropic/stream.sse"), events),
        Reply::new(fixture("anthropic/tools.sse"), tools),
        Reply::new(bare_bytes, bare),
    ]
}

wire_format_tests! {
    format: Anthropic,
    kind: ProviderKind::Anthropic,
    credentials: key("sk-ant-test"),
    replies: replies(),
}

#[test]
fn request() {
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
fn request_defaults_max_tokens() {
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
fn error_event_in_stream() {
    let bytes = fixture("anthropic/overloaded.sse");
    let expected =
        vec![usage(25, 1), text("Bon"), Err(ProviderError::Upstream("overloaded_error: Overloaded".into()))];
    check_every_split(&Anthropic, &bytes, &expected);
}

#[test]
fn stop_reasons_cached_usage_and_other_blocks() {
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
    assert_eq!(reply("tool_use"), expect(FinishReason::ToolCalls));
    assert_eq!(reply("max_tokens"), expect(FinishReason::Length));
    assert_eq!(reply("refusal"), expect(FinishReason::ContentFilter));
}

#[test]
fn error_response() {
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
