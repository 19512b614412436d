//! Google Gemini (`streamGenerateContent`).

use crate::common::*;
use confab_core::providers::gemini::Gemini;

/// The reply in `gemini/stream.sse`, with the CRLF line ends Gemini sends and with LF:
/// both read the same.
fn replies() -> Vec<Reply> {
    let lf = fixture("gemini/stream.sse");
    let events = vec![
        text("Bonjour"),
        usage(11, 0),
        text(" à tous 👋"),
        usage(11, 0),
        text("!"),
        usage(11, 29),
        finish(FinishReason::Stop),
    ];
    let crlf = String::from_utf8(lf.clone()).unwrap().replace('\n', "\r\n").into_bytes();
    let tools = vec![
        text("Checking."),
        usage(80, 3),
        call(0, Some(SIGNED_ID), Some("get_weather"), "{\"city\":\"Paris\"}"),
        call(1, Some("call_1"), Some("get_time"), "{}"),
        usage(80, 30),
        finish(FinishReason::ToolCalls),
    ];
    vec![
        Reply::new(lf, events.clone()),
        Reply::new(crlf, events),
        Reply::new(fixture("gemini/tools.sse"), tools),
    ]
}

/// The first call's id: Gemini gives none, so one is made up, and the thought signature
/// (`CiQBjz1rX+q/8ZQmLkN3j0Xw==`) travels in it, base64url.
const SIGNED_ID: &str = "call_0__ts_Q2lRQmp6MXJYK3EvOFpRbUxrTjNqMFh3PT0";

wire_format_tests! {
    format: Gemini,
    kind: ProviderKind::Gemini,
    credentials: key("AIza-test"),
    replies: replies(),
}

#[test]
fn request() {
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
fn minimal_request_and_model_names() {
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
fn blocked_prompt_and_finish_reasons() {
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
fn error_in_stream() {
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
fn error_response() {
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

/// Gemini 3 refuses a function call sent back without its thought signature: the one that
/// came with the call (in its id) goes back on the call's part, and a call without one
/// (the second of parallel calls) goes back without.
#[test]
fn thought_signatures_go_back_with_their_calls() {
    let mut calls: Vec<(String, String)> = Vec::new();
    for event in run(&Gemini, vec![&fixture("gemini/tools.sse")]) {
        if let Ok(ProviderEvent::ToolCall(c)) = event {
            calls.push((c.id.unwrap(), c.name.unwrap()));
        }
    }
    let call = |(id, name): &(String, String)| {
        Part::ToolCall(ToolCall { id: id.clone(), name: name.clone(), arguments: json!({}) })
    };
    let result = |(id, name): &(String, String)| {
        Part::ToolResult(ToolResult { call_id: id.clone(), name: name.clone(), content: "ok".into() })
    };
    let req = ChatRequest {
        messages: vec![
            ChatMessage::text(ChatRole::User, "Weather and time?"),
            ChatMessage {
                role: ChatRole::Assistant,
                content: "Checking.".into(),
                parts: calls.iter().map(call).collect(),
            },
            ChatMessage {
                role: ChatRole::User,
                content: String::new(),
                parts: calls.iter().map(result).collect(),
            },
        ],
        ..Default::default()
    };
    let t = target(ProviderKind::Gemini, "", "gemini-3-flash-preview");
    let body = body_json(&Gemini.request(&t, &key("k"), &req, NOW).unwrap());
    assert_eq!(
        body["contents"][1]["parts"],
        json!([
            {"text": "Checking."},
            {"functionCall": {"name": "get_weather", "args": {}}, "thoughtSignature": "CiQBjz1rX+q/8ZQmLkN3j0Xw=="},
            {"functionCall": {"name": "get_time", "args": {}}},
        ])
    );
    assert_eq!(body["contents"][2]["parts"][0]["functionResponse"]["name"], "get_weather");
    // An id that only looks marked carries nothing.
    let forged = ChatRequest {
        messages: vec![
            ChatMessage {
                role: ChatRole::Assistant,
                content: String::new(),
                parts: vec![call(&("x__ts_!!".into(), "f".into()))],
            },
            ChatMessage::text(ChatRole::User, "go"),
        ],
        ..Default::default()
    };
    let body = body_json(&Gemini.request(&t, &key("k"), &forged, NOW).unwrap());
    assert_eq!(body["contents"][0]["parts"][0], json!({"functionCall": {"name": "f", "args": {}}}));
}
