//! The `/v1` request read into the provider-neutral request: every field, and the bounds.

use super::*;
use crate::chat::fixtures;
use http::StatusCode;
use serde_json::json;

const PNG: &str = "iVBORw0KGgo=";

fn body(json: serde_json::Value) -> CompletionRequest {
    serde_json::from_value(json).expect("a request the wire types read")
}

fn read(json: serde_json::Value) -> ApiResult<ChatRequest> {
    to_request(&body(json), &fixtures::route(Vec::new()))
}

/// A request with one user message and `extra` fields.
fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut request = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
    request.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    request
}

/// The 400 `json` gets; its message must name `field`.
fn refused(json: serde_json::Value, field: &str) {
    let e = read(json.clone()).expect_err(&format!("{json} must be refused"));
    assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{e:?}");
    let ApiError::InvalidRequest(message) = &e else { panic!("{e:?}") };
    assert!(message.contains(field), "{message:?} should name {field}");
}

fn weather() -> serde_json::Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}})
}

#[test]
fn every_field_is_translated() {
    let request = read(json!({
        "model": "chat",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather "}, {"type": "text", "text": "here?"},
                {"type": "image_url", "image_url": {"url": format!("data:image/PNG;base64,{PNG}")}},
                {"type": "image_url", "image_url": {"url": "https://example.com/sky.jpg", "detail": "low"}},
                {"type": "text", "text": "And there?"},
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"},
            {"role": "user", "content": "Thanks, so?"},
        ],
        "max_completion_tokens": 100, "max_tokens": 50, "temperature": 0.5, "top_p": 0.25,
        "stop": ["END", "STOP"], "seed": 42, "tools": [weather()],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": false,
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true,
            "schema": {"type": "object"}}},
        "user": "u-1", "store": false,
    }))
    .unwrap();
    assert_eq!(request.system.as_deref(), Some("Be terse.\n\nUse tools."));
    assert_eq!(request.max_tokens, Some(100), "max_completion_tokens wins");
    assert_eq!((request.temperature, request.top_p, request.seed), (Some(0.5), Some(0.25), Some(42)));
    assert_eq!(request.stop, ["END", "STOP"]);
    assert_eq!(
        request.tools,
        [Tool {
            name: "get_weather".into(),
            description: Some("Weather now".into()),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            strict: Some(true),
        }]
    );
    assert_eq!(request.tool_choice, Some(ToolChoice::Function("get_weather".into())));
    assert_eq!(request.parallel_tool_calls, Some(false));
    assert_eq!(
        request.response_format,
        Some(ResponseFormat::JsonSchema(JsonSchema {
            name: "answer".into(),
            description: None,
            schema: json!({"type": "object"}),
            strict: Some(true),
        }))
    );
    let [user, assistant, results] = &request.messages[..] else { panic!("{:?}", request.messages) };
    assert_eq!(user.role, ChatRole::User);
    assert_eq!(user.content, "Weather here?");
    assert_eq!(
        user.parts,
        [
            Part::Image(Image {
                url: None,
                data: Some(ImageData { media_type: "image/png".into(), base64: PNG.into() })
            }),
            Part::Image(Image { url: Some("https://example.com/sky.jpg".into()), data: None }),
            Part::Text("And there?".into()),
        ]
    );
    assert_eq!((assistant.role, assistant.content.as_str()), (ChatRole::Assistant, ""));
    assert_eq!(
        assistant.parts,
        [Part::ToolCall(ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: json!({"city": "Oslo"}),
        })]
    );
    // The tool result and the user's next words are one user message.
    assert_eq!(results.role, ChatRole::User);
    assert_eq!(
        results.parts,
        [
            Part::ToolResult(ToolResult {
                call_id: "call_1".into(),
                name: "get_weather".into(),
                content: "-3 C".into()
            }),
            Part::Text("Thanks, so?".into()),
        ]
    );
}

#[test]
fn defaults_and_simple_forms() {
    let request =
        read(with(json!({"stop": "END", "tool_choice": "none", "response_format": {"type": "json_object"}})))
            .unwrap();
    assert_eq!(request.max_tokens, Some(256), "the model's output limit");
    assert_eq!(request.stop, ["END"]);
    assert_eq!(request.tool_choice, Some(ToolChoice::None));
    assert_eq!(request.response_format, Some(ResponseFormat::JsonObject));
    assert_eq!((request.temperature, request.seed, request.system.as_ref()), (None, None, None));
    let route = ModelRoute { max_output_tokens: None, ..fixtures::route(Vec::new()) };
    let request = to_request(&body(with(json!({}))), &route).unwrap();
    assert_eq!(request.max_tokens, Some(DEFAULT_REPLY_TOKENS));
    let modes = [("auto", ToolChoice::Auto), ("required", ToolChoice::Required)];
    for (mode, choice) in modes {
        let request = read(with(json!({"tools": [weather()], "tool_choice": mode}))).unwrap();
        assert_eq!(request.tool_choice, Some(choice));
    }
    // Neutral values of unknown fields ask for nothing.
    read(with(json!({"logprobs": false, "frequency_penalty": 0, "logit_bias": {}, "modalities": null})))
        .unwrap();
}

#[test]
fn reply_limits_are_bounded_by_the_model() {
    refused(with(json!({"max_tokens": 0})), "max_tokens");
    refused(with(json!({"max_tokens": 257})), "max_tokens must be between 1 and 256");
    refused(with(json!({"max_completion_tokens": u32::MAX})), "max_completion_tokens");
    let route = ModelRoute { max_output_tokens: None, ..fixtures::route(Vec::new()) };
    let huge = to_request(&body(with(json!({"max_tokens": 1_000_000}))), &route).unwrap_err();
    assert_eq!(huge.status(), StatusCode::BAD_REQUEST, "beyond the window");
    assert_eq!(
        to_request(&body(with(json!({"max_tokens": 128_000}))), &route).unwrap().max_tokens,
        Some(128_000)
    );
}

#[test]
fn sampling_options_are_bounded() {
    refused(with(json!({"temperature": 2.5})), "temperature");
    refused(with(json!({"temperature": -0.1})), "temperature");
    refused(with(json!({"top_p": 1.5})), "top_p");
    refused(with(json!({"n": 2})), "n:");
    read(with(json!({"n": 1, "temperature": 2, "top_p": 0}))).unwrap();
    let many: Vec<String> = (0..=MAX_STOP_SEQUENCES).map(|i| format!("s{i}")).collect();
    refused(with(json!({"stop": many})), "stop");
    refused(with(json!({"stop": ""})), "stop");
    refused(with(json!({"stop": "x".repeat(MAX_STOP_CHARS + 1)})), "stop");
    refused(with(json!({"logprobs": true})), "logprobs");
    refused(with(json!({"presence_penalty": 1})), "presence_penalty");
}

#[test]
fn tools_are_bounded() {
    let tool = |name: String| json!({"type": "function", "function": {"name": name}});
    let many: Vec<_> = (0..=MAX_TOOLS).map(|i| tool(format!("t{i}"))).collect();
    refused(with(json!({"tools": many})), "at most 128 tools");
    refused(with(json!({"tools": [tool("a".into()), tool("a".into())]})), "used twice");
    refused(with(json!({"tools": [tool("has space".into())]})), "tools[].function.name");
    refused(with(json!({"tools": [tool("x".repeat(65))]})), "tools[].function.name");
    let schema = |parameters| json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": parameters}}]});
    refused(with(schema(json!([1]))), "parameters must be a JSON schema object");
    refused(with(schema(json!({"description": "x".repeat(MAX_SCHEMA_BYTES)}))), "larger than");
    let long =
        json!({"tools": [{"type": "function", "function": {"name": "f", "description": "x".repeat(4097)}}]});
    refused(with(long), "description");
    refused(with(json!({"tool_choice": "auto"})), "defines no tools");
    refused(with(json!({"tools": [weather()], "tool_choice": "sometimes"})), "unknown mode");
    refused(
        with(
            json!({"tools": [weather()], "tool_choice": {"type": "function", "function": {"name": "other"}}}),
        ),
        "no tool is named",
    );
    let format = json!({"response_format": {"type": "json_schema", "json_schema": {"name": "bad name"}}});
    refused(with(format), "response_format.json_schema.name");
}

#[test]
fn messages_are_checked() {
    let messages = |m: serde_json::Value| json!({"model": "chat", "messages": m});
    refused(messages(json!([])), "must end with a user or tool message");
    refused(
        messages(json!([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])),
        "must end",
    );
    refused(
        messages(json!([{"role": "function", "content": "x"}])),
        "messages[0].role: unknown role \"function\"",
    );
    refused(messages(json!([{"role": "robot", "content": "x"}])), "unknown role");
    // Tool messages must answer an earlier call.
    refused(
        messages(json!([{"role": "user", "content": "a"}, {"role": "tool", "content": "r"}])),
        "messages[1].tool_call_id",
    );
    let call = json!({"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}});
    let answered = |result: serde_json::Value| {
        messages(
            json!([{"role": "user", "content": "a"}, {"role": "assistant", "tool_calls": [call]}, result]),
        )
    };
    read(answered(json!({"role": "tool", "tool_call_id": "c1", "content": "ok"}))).unwrap();
    refused(answered(json!({"role": "tool", "tool_call_id": "c2", "content": "ok"})), "\"c2\"");
    let image = json!([{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]);
    refused(
        answered(json!({"role": "tool", "tool_call_id": "c1", "content": image})),
        "only user messages may hold images",
    );
    refused(
        messages(json!([{"role": "user", "content": "a", "tool_calls": [call]}])),
        "only assistant messages make tool calls",
    );
    let bad_call = |call: serde_json::Value| {
        messages(json!([{"role": "assistant", "tool_calls": [call]}, {"role": "user", "content": "a"}]))
    };
    refused(
        bad_call(json!({"id": "c", "function": {"name": "f", "arguments": "[1]"}})),
        "arguments must be a JSON object",
    );
    refused(
        bad_call(json!({"id": "c", "function": {"name": "f", "arguments": "{oops"}})),
        "arguments must be a JSON object",
    );
    refused(bad_call(json!({"id": "", "function": {"name": "f", "arguments": "{}"}})), "id must be 1 to");
    refused(bad_call(json!({"id": "c", "function": {"name": "no way", "arguments": "{}"}})), "function.name");
}

#[test]
fn images_are_checked() {
    let image = |url: String| json!({"model": "chat", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]});
    refused(image("ftp://example.com/a.png".into()), "https://, http:// or data:");
    refused(image("file:///etc/passwd".into()), "https://, http:// or data:");
    refused(image(format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS))), "at most");
    refused(image(format!("data:image/svg+xml;base64,{PNG}")), "images must be one of");
    refused(image("data:image/png,raw".into()), "must be base64");
    refused(image("data:image/png;base64".into()), "needs a ','");
    refused(image("data:image/png;base64,!!!".into()), "not valid base64");
    let many: Vec<_> = (0..=MAX_IMAGES)
        .map(|_| json!({"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}}))
        .collect();
    refused(json!({"model": "chat", "messages": [{"role": "user", "content": many}]}), "at most 20 images");
    let assistant = json!({"model": "chat", "messages": [
        {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
        {"role": "user", "content": "a"},
    ]});
    refused(assistant, "only user messages may hold images");
}

/// Nothing the wire types read panics the translation, whatever its values.
#[test]
fn odd_values_never_panic() {
    for extra in [
        json!({"seed": i64::MIN}),
        json!({"seed": i64::MAX}),
        json!({"temperature": f32::MAX}),
        json!({"stop": []}),
        json!({"tools": []}),
        json!({"tool_choice": "none"}),
        json!({"parallel_tool_calls": true}),
        json!({"messages": [{"role": "user"}]}),
        json!({"messages": [{"role": "user", "content": []}]}),
    ] {
        let _ = read(with(extra));
    }
}
