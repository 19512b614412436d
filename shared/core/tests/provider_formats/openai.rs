//! OpenAI chat completions.

use crate::common::*;
use confab_core::providers::openai::OpenAi;

/// The reply in `openai/stream.sse`, and the same after a byte-order mark (allowed, and
/// skipped).
fn replies() -> Vec<Reply> {
    let bytes = fixture("openai/stream.sse");
    let events =
        vec![text("Bonjour"), text(" à"), text(" tous 👋"), usage(19, 6), finish(FinishReason::Stop)];
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), &bytes].concat();
    let tools = vec![
        text("Checking."),
        call(0, Some("call_abc"), Some("get_weather"), ""),
        call(0, None, None, "{\"city\":"),
        call(0, None, None, "\"Paris\"}"),
        call(1, Some("call_def"), Some("get_time"), "{}"),
        usage(80, 30),
        finish(FinishReason::ToolCalls),
    ];
    vec![
        Reply::new(bytes, events.clone()),
        Reply::new(with_bom, events),
        Reply::new(fixture("openai/tools.sse"), tools),
    ]
}

wire_format_tests! {
    format: OpenAi,
    kind: ProviderKind::Openai,
    credentials: key("sk-test"),
    replies: replies(),
}

#[test]
fn request_to_openai() {
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
fn request_to_a_compatible_server_without_key() {
    let t = target(ProviderKind::Openai, "http://localhost:11434/v1", "llama3.2");
    let req = ChatRequest { max_tokens: Some(64), ..minimal_request() };
    let request = OpenAi.request(&t, &Credentials::default(), &req, NOW).unwrap();
    assert_eq!(request.uri(), "http://localhost:11434/v1/chat/completions");
    assert_eq!(header_lines(&request), ["content-type: application/json"]);
    assert_eq!(body_json(&request), fixture_json("openai/request_compatible.json"));
}

#[test]
fn error_in_stream() {
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
fn finish_reasons_and_usage_variants() {
    let reply = |reason: &str| {
        let mut bytes =
            sse(&[json!({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": reason}]})]);
        bytes.extend_from_slice(b"data: [DONE]\n\n");
        run(&OpenAi, vec![&bytes])
    };
    assert_eq!(reply("stop"), [text("x"), finish(FinishReason::Stop)]);
    assert_eq!(reply("length"), [text("x"), finish(FinishReason::Length)]);
    assert_eq!(reply("content_filter"), [text("x"), finish(FinishReason::ContentFilter)]);
    assert_eq!(reply("tool_calls"), [text("x"), finish(FinishReason::ToolCalls)]);
    assert_eq!(reply("function_call"), [text("x"), finish(FinishReason::ToolCalls)]);

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
fn error_response() {
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

/// A call index far beyond the calls so far is refused: the whole reply would make room
/// for that many calls (regression: `index: 4294967295` exhausted memory).
#[test]
fn tool_call_indexes_come_in_order() {
    let chunk = |index: u32| json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}}]});
    let out = run(&OpenAi, vec![&sse(&[chunk(0), chunk(0), chunk(1), chunk(u32::MAX)])]);
    let (last, calls) = out.split_last().unwrap();
    assert_eq!(
        calls,
        [
            call(0, Some("c"), Some("f"), "{}"),
            call(0, Some("c"), Some("f"), "{}"),
            call(1, Some("c"), Some("f"), "{}")
        ]
    );
    assert!(matches!(last, Err(ProviderError::Protocol(m)) if m.contains("4294967295")), "{last:?}");
    assert!(matches!(run(&OpenAi, vec![&sse(&[chunk(1)])]).as_slice(), [Err(ProviderError::Protocol(_))]));
}
