//! `/v1/messages` through the whole middleware chain, against targets of each format
//! answered by the kit's scripted HTTP client with real wire bodies.

use super::*;
use crate::Config;
use crate::auth::api_keys::{self, Grant};
use crate::chat::fixtures::{self, ANTHROPIC_STREAM, OPENAI_429, anthropic, events, gemini, openai};
use crate::chat::models::{ModelConfig, ModelRoute};
use crate::domain::{Email, ModelAllowlist, Scopes};
use crate::http::Body;
use crate::providers::{ImageData, Target};
use crate::repo::routing;
use crate::repo::users::{self, NewUser};
use crate::routes::Function;
use crate::testing::{self, Reply as Scripted, TestApp};

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/providers/", $path))
    };
}

const OPENAI_TOOLS: &str = fixture!("openai/tools.sse");
const ANTHROPIC_TOOLS: &str = fixture!("anthropic/tools.sse");
const GEMINI_TOOLS: &str = fixture!("gemini/tools.sse");

/// An app whose models `oa`, `an` and `ge` go to an OpenAI, an Anthropic and a Gemini
/// target (no retries), and an API key of a user, limited to those models when `models`.
fn setup(models: Option<&[&str]>) -> (TestApp, String) {
    let t = fixtures::app(testing::app().with_config(Config { provider_retries: 0, ..Config::default() }));
    let key = t.run(async {
        let route =
            |name: &str, target: Target| ModelRoute { name: name.into(), ..fixtures::route(vec![target]) };
        let config = ModelConfig {
            default_model: "oa".into(),
            models: vec![route("oa", openai()), route("an", anthropic()), route("ge", gemini())],
        };
        routing::save(&t.app, config).await.unwrap();
        let email = Email::parse("ada@example.com").unwrap();
        let user =
            users::create(&t.app, NewUser { email, name: None, password_hash: "x".into() }).await.unwrap();
        let models = models
            .map(|m| ModelAllowlist::parse(&m.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap());
        let grant = Grant { scopes: Scopes::default(), models, expires_at: None };
        api_keys::create(&t.app, user.id, "k".into(), grant).await.unwrap().1
    });
    (t, key)
}

/// The status, and the body: JSON, or the SSE events as (name, data) pairs.
struct Answer {
    status: StatusCode,
    json: Value,
    events: Vec<(String, Value)>,
}

fn post(t: &TestApp, headers: &[(&str, &str)], body: Value) -> Answer {
    let mut req = http::Request::post("/v1/messages").header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Bytes::from(body.to_string())).unwrap();
    t.run(async {
        let resp = crate::middleware::serve(&t.app, Function::Chat, req).await;
        let status = resp.status();
        let bytes: Vec<u8> = match resp.into_body() {
            Body::Full(bytes) => bytes.to_vec(),
            Body::Stream(stream) => stream.collect::<Vec<_>>().await.concat(),
        };
        let text = String::from_utf8(bytes).unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, json, events: sse_events(&text) }
    })
}

fn sse_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|event| {
            let name = event.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = event.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name.to_owned(), serde_json::from_str(data).unwrap()))
        })
        .collect()
}

fn with_key(key: &str) -> [(&str, &str); 2] {
    [("x-api-key", key), ("anthropic-version", "2023-06-01")]
}

fn ask(model: &str) -> Value {
    json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello in French."}]})
}

fn sse_reply(body: &'static str) -> Scripted {
    Scripted::new(200).header("content-type", "text/event-stream").chunks(events(body))
}

/// The JSON body of the provider request the fake client got, by order.
fn sent(t: &TestApp, n: usize) -> Value {
    serde_json::from_slice(&t.http.sent()[n].body).unwrap()
}

/// The request for a model that may answer 4096 tokens.
fn request(body: Value) -> ApiResult<ChatRequest> {
    let route = ModelRoute { max_output_tokens: Some(4096), ..fixtures::route(Vec::new()) };
    to_request(&serde_json::from_value(body).unwrap(), &route)
}

fn refused(body: Value) -> String {
    match request(body) {
        Err(ApiError::InvalidRequest(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn system_text_images_and_sampling_are_read() {
    let data = "iVBORw0KGgo=";
    let req = request(json!({
        "model": "oa", "max_tokens": 100, "system": [{"type": "text", "text": "Be terse."}, {"type": "text", "text": "French."}],
        "temperature": 0.5, "top_p": 0.9, "top_k": 40, "stop_sequences": ["END"], "metadata": {"user_id": "u1"},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            ]},
            {"role": "assistant", "content": "A logo."},
            {"role": "user", "content": "Thanks."},
        ],
    }))
    .unwrap();
    assert_eq!(req.system.as_deref(), Some("Be terse.\n\nFrench."));
    assert_eq!(
        (req.max_tokens, req.temperature, req.top_p, req.top_k),
        (Some(100), Some(0.5), Some(0.9), Some(40))
    );
    assert_eq!(req.stop, ["END"]);
    let first = &req.messages[0];
    assert_eq!(first.content, "What is this?");
    let png = ImageData { media_type: "image/png".into(), base64: data.into() };
    assert_eq!(
        first.parts,
        [
            Part::Image(Image { url: None, data: Some(png) }),
            Part::Image(Image { url: Some("https://example.com/a.jpg".into()), data: None }),
        ]
    );
    assert_eq!(req.messages[1], ChatMessage::text(ChatRole::Assistant, "A logo."));
    assert_eq!(req.messages.len(), 3);
}

#[test]
fn tools_calls_and_results_are_read() {
    let req = request(json!({
        "model": "oa", "max_tokens": 100,
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18 °C"}]},
                {"type": "text", "text": "And tomorrow?"},
            ]},
        ],
    }))
    .unwrap();
    assert_eq!(req.tools[0].name, "get_weather");
    assert_eq!(req.tools[0].description.as_deref(), Some("Weather"));
    assert_eq!(req.tool_choice, Some(ToolChoice::Function("get_weather".into())));
    assert_eq!(req.parallel_tool_calls, Some(false));
    let call =
        ToolCall { id: "toolu_1".into(), name: "get_weather".into(), arguments: json!({"city": "Paris"}) };
    assert_eq!(req.messages[1].content, "Checking.");
    assert_eq!(req.messages[1].parts, [Part::ToolCall(call)]);
    let result =
        ToolResult { call_id: "toolu_1".into(), name: "get_weather".into(), content: "18 °C".into() };
    assert_eq!(req.messages[2].content, "");
    assert_eq!(req.messages[2].parts, [Part::ToolResult(result), Part::Text("And tomorrow?".into())]);

    let failed = request(json!({
        "model": "oa", "max_tokens": 10, "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any"},
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "boom", "is_error": true}]},
        ],
    }))
    .unwrap();
    assert_eq!((failed.tool_choice, failed.parallel_tool_calls), (Some(ToolChoice::Required), None));
    assert!(matches!(&failed.messages[2].parts[0], Part::ToolResult(r) if r.content == "Error: boom"));
}

#[test]
fn what_cannot_be_honoured_is_refused_by_name() {
    let with = |extra: Value| {
        let mut body = ask("oa");
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let user = |content: Value| with(json!({"messages": [{"role": "user", "content": content}]}));
    let cases = [
        (with(json!({"max_tokens": 0})), "max_tokens must be between 1 and 4096 for this model, got 0"),
        (with(json!({"max_tokens": 4097})), "max_tokens must be between 1 and 4096 for this model, got 4097"),
        (
            with(json!({"thinking": {"type": "enabled", "budget_tokens": 1024}})),
            "thinking: this field is not supported",
        ),
        (with(json!({"temperature": 1.5})), "temperature must be between 0 and 1"),
        (with(json!({"stop_sequences": [""]})), "stop_sequences: each sequence"),
        (with(json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]})), "server tools"),
        (with(json!({"tools": [{"name": "bad name", "input_schema": {}}]})), "tools[].name must be"),
        (
            with(
                json!({"tool_choice": {"type": "tool", "name": "nope"}, "tools": [{"name": "f", "input_schema": {}}]}),
            ),
            "no tool is named \"nope\"",
        ),
        (
            with(
                json!({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Bon"}]}),
            ),
            "prefilling",
        ),
        (with(json!({"messages": [{"role": "system", "content": "hi"}]})), "messages[0].role: unknown role"),
        (
            user(json!([{"type": "document", "source": {}}])),
            "messages[0].content[0]: unknown variant `document`",
        ),
        (user(json!([])), "messages[0].content: a message needs content"),
        (
            user(json!([{"type": "tool_use", "id": "t", "name": "f", "input": {}}])),
            "user messages cannot hold tool_use blocks",
        ),
        (
            user(json!([{"type": "tool_result", "tool_use_id": "t", "content": "x"}])),
            "no earlier tool_use block has the id \"t\"",
        ),
        (
            user(
                json!([{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "AA=="}}]),
            ),
            "images must be one of",
        ),
        (
            user(
                json!([{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "not base64!"}}]),
            ),
            "not valid base64",
        ),
        (
            user(json!([{"type": "image", "source": {"type": "url", "url": "file:///etc/passwd"}}])),
            "an image URL must be",
        ),
    ];
    for (body, expected) in cases {
        let message = refused(body.clone());
        assert!(message.contains(expected), "{body}: {message}");
    }
    let assistant_image = with(json!({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "image", "source": {"type": "url", "url": "https://a.example/x.png"}}]},
        {"role": "user", "content": "hi"},
    ]}));
    assert!(refused(assistant_image).contains("assistant messages cannot hold image blocks"));
}

#[test]
fn a_plain_reply_from_an_openai_target_is_an_anthropic_message() {
    let (t, key) = setup(None);
    t.http.reply(fixtures::openai_reply());
    let mut body = ask("oa");
    body["system"] = json!("Be terse.");
    let answer = post(&t, &with_key(&key), body);
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    let id = answer.json["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(
        answer.json,
        json!({"id": id, "type": "message", "role": "assistant", "model": "oa",
               "content": [{"type": "text", "text": "Bonjour à tous 👋"}], "stop_reason": "end_turn",
               "stop_sequence": null, "usage": {"input_tokens": 19, "output_tokens": 6}})
    );
    let upstream = sent(&t, 0);
    assert_eq!(upstream["messages"][0], json!({"role": "system", "content": "Be terse."}));
    assert_eq!(upstream["messages"][1], json!({"role": "user", "content": "Say hello in French."}));
    assert_eq!(upstream["max_completion_tokens"], 64);
}

#[test]
fn a_streamed_reply_from_an_anthropic_target_keeps_anthropics_events() {
    let (t, key) = setup(None);
    t.http.reply(sse_reply(ANTHROPIC_STREAM));
    let mut body = ask("an");
    body["stream"] = json!(true);
    body["top_k"] = json!(5);
    let bearer = format!("Bearer {key}");
    let answer = post(&t, &[("authorization", &bearer)], body);
    assert_eq!(answer.status, StatusCode::OK);
    let names: Vec<&str> = answer.events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    for (name, data) in &answer.events {
        assert_eq!(data["type"], name.as_str());
    }
    let start = &answer.events[0].1["message"];
    assert_eq!(
        (start["role"].as_str(), start["content"].clone(), start["stop_reason"].clone()),
        (Some("assistant"), json!([]), Value::Null)
    );
    assert_eq!(
        answer.events[1].1,
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    assert_eq!(answer.events[3].1["delta"], json!({"type": "text_delta", "text": "Bonjour"}));
    assert_eq!(
        answer.events[6].1,
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"input_tokens": 25, "output_tokens": 15}})
    );
    assert_eq!(sent(&t, 0)["top_k"], 5);
}

#[test]
fn tool_calls_from_openai_come_whole_as_tool_use_blocks() {
    let (t, key) = setup(None);
    t.http.reply(sse_reply(OPENAI_TOOLS));
    let mut body = ask("oa");
    body["tools"] = json!([{"name": "get_weather", "input_schema": {"type": "object"}}, {"name": "get_time", "input_schema": {"type": "object"}}]);
    let answer = post(&t, &with_key(&key), body);
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    assert_eq!(
        answer.json["content"],
        json!([
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_abc", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_def", "name": "get_time", "input": {}},
        ])
    );
    assert_eq!(answer.json["stop_reason"], "tool_use");
    assert_eq!(sent(&t, 0)["tools"][0]["function"]["name"], "get_weather");
}

#[test]
fn tool_calls_from_anthropic_and_gemini_stream_as_blocks_with_json_deltas() {
    let (t, key) = setup(None);
    t.http.reply(sse_reply(ANTHROPIC_TOOLS));
    t.http.reply(sse_reply(GEMINI_TOOLS));
    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object"}}, {"name": "get_time", "input_schema": {"type": "object"}}]);
    let streamed = |model: &str| {
        let mut body = ask(model);
        body["tools"] = tools.clone();
        body["stream"] = json!(true);
        post(&t, &with_key(&key), body).events
    };
    let anthropic = streamed("an");
    let content: Vec<Value> =
        anthropic.iter().filter(|(n, _)| n.starts_with("content_block")).map(|(_, d)| d.clone()).collect();
    assert_eq!(
        content,
        [
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"zone\": \"Europe/"}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "Paris\"}"}}),
            json!({"type": "content_block_stop", "index": 2}),
        ]
    );
    assert_eq!(anthropic[anthropic.len() - 2].1["delta"]["stop_reason"], "tool_use");

    let gemini = streamed("ge");
    let starts: Vec<Value> = gemini
        .iter()
        .filter(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .map(|(_, d)| d["content_block"]["name"].clone())
        .collect();
    assert_eq!(starts, ["get_weather", "get_time"]);
    let deltas: Vec<Value> = gemini
        .iter()
        .filter(|(n, d)| n == "content_block_delta" && d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"].clone())
        .collect();
    assert_eq!(deltas[0], json!({"type": "input_json_delta", "partial_json": "{\"city\":\"Paris\"}"}));
    assert_eq!(sent(&t, 1)["tools"][0]["functionDeclarations"][1]["name"], "get_time");
}

/// The error a refused request gets: its status, and Anthropic's error type.
fn error(answer: &Answer) -> (StatusCode, &str) {
    assert_eq!(answer.json["type"], "error", "{}", answer.json);
    assert!(answer.json["error"]["message"].is_string());
    (answer.status, answer.json["error"]["type"].as_str().unwrap())
}

#[test]
fn errors_take_anthropics_shape_from_every_layer() {
    let (t, key) = setup(Some(&["oa", "an"]));
    let unauthenticated = post(&t, &[], ask("oa"));
    assert_eq!(error(&unauthenticated), (StatusCode::UNAUTHORIZED, "authentication_error"));
    let bad_key = post(&t, &[("x-api-key", "cfk_wrong")], ask("oa"));
    assert_eq!(error(&bad_key), (StatusCode::UNAUTHORIZED, "authentication_error"));
    let not_allowed = post(&t, &with_key(&key), ask("ge"));
    assert_eq!(error(&not_allowed), (StatusCode::FORBIDDEN, "permission_error"));
    assert_eq!(not_allowed.json["error"]["code"], "model_not_allowed");
    let (t, key) = setup(None);
    let unknown = post(&t, &with_key(&key), ask("nope"));
    assert_eq!(error(&unknown), (StatusCode::NOT_FOUND, "not_found_error"));
    let no_max = post(&t, &with_key(&key), json!({"model": "oa", "messages": []}));
    assert_eq!(error(&no_max), (StatusCode::BAD_REQUEST, "invalid_request_error"));
    let mut top_k = ask("oa");
    top_k["top_k"] = json!(5);
    let refused = post(&t, &with_key(&key), top_k);
    assert_eq!(error(&refused), (StatusCode::BAD_REQUEST, "invalid_request_error"));
    assert!(refused.json["error"]["message"].as_str().unwrap().contains("top_k is not supported by OpenAI"));
    t.http.reply(Scripted::new(429).header("retry-after", "7").body(OPENAI_429));
    let limited = post(&t, &with_key(&key), ask("oa"));
    assert_eq!(error(&limited), (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"));
    t.http.reply(Scripted::new(503).body("down"));
    let down = post(&t, &with_key(&key), ask("oa"));
    assert_eq!(error(&down), (StatusCode::SERVICE_UNAVAILABLE, "overloaded_error"));
    assert!(t.http.sent().iter().all(|s| s.uri.starts_with("https://api.openai.com")));
}

#[test]
fn a_reply_that_fails_mid_stream_ends_with_an_error_event() {
    let (t, key) = setup(None);
    let cut = ANTHROPIC_STREAM.split_inclusive("\n\n").take(4).collect::<String>();
    t.http.reply(
        Scripted::new(200)
            .header("content-type", "text/event-stream")
            .body(cut)
            .error(crate::ports::HttpError::Transport("reset".into())),
    );
    let mut body = ask("an");
    body["stream"] = json!(true);
    let answer = post(&t, &with_key(&key), body);
    let (name, data) = answer.events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "api_error");
    assert_eq!(data["error"]["message"], "the connection to the provider was lost");
}

#[test]
fn other_paths_keep_confabs_error_shape() {
    let (t, _) = setup(None);
    let req = http::Request::post("/v1/chat/completions").body(Bytes::new()).unwrap();
    let resp = t.run(crate::middleware::serve(&t.app, Function::Chat, req));
    let Body::Full(bytes) = resp.into_body() else { panic!("a whole body") };
    let json: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        json,
        json!({"error": {"code": "unauthorized", "message": "authentication required", "type": "authentication_error"}})
    );
}
