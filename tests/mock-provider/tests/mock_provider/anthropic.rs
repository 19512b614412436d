//! The Anthropic Messages wire format.

use crate::common;

use common::{anthropic, client, event_json, spawn, sse_events};
use confab_mock_provider::{Fault, Scenario};
use serde_json::{Value, json};

fn request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 1024,
        "system": "You are terse.",
        "stream": stream,
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
            {"role": "user", "content": [{"type": "text", "text": "Tell me a joke"}]},
        ],
    })
}

async fn post_without(header: &str) -> reqwest::Response {
    let mock = spawn().await;
    let mut request =
        client().post(format!("{}/v1/messages", mock.base_url())).json(&request("claude-test", false));
    for (name, value) in [("x-api-key", "sk-ant"), ("anthropic-version", "2023-06-01")] {
        if name != header {
            request = request.header(name, value);
        }
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn missing_api_key_is_an_authentication_error() {
    let response = post_without("x-api-key").await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");
    assert!(body["error"]["message"].is_string());
    assert!(body["request_id"].is_string());
}

#[tokio::test]
async fn missing_version_is_an_invalid_request_error() {
    let response = post_without("anthropic-version").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("anthropic-version"));
}

#[tokio::test]
async fn max_tokens_is_required() {
    let mock = spawn().await;
    let mut body = request("claude-test", false);
    body.as_object_mut().unwrap().remove("max_tokens");
    let response = anthropic(&mock, body).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "max_tokens: Field required");
}

#[tokio::test]
async fn message_has_content_blocks_stop_reason_and_usage() {
    let mock = spawn().await;
    let response = anthropic(&mock, request("claude-test", false)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-test");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["content"], json!([{"type": "text", "text": "Mock reply to: Tell me a joke"}]));
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["stop_sequence"].is_null());
    // "You are terse." + "Hi" + "Hello!" + "Tell me a joke" = 36 characters = 9 tokens.
    assert_eq!(body["usage"]["input_tokens"], 9);
    assert_eq!(body["usage"]["output_tokens"], 7);
}

#[tokio::test]
async fn stream_sends_the_documented_event_sequence() {
    let mock = spawn().await;
    let events = sse_events(anthropic(&mock, request("claude-test", true)).await).await;
    let names: Vec<&str> = events.iter().map(|event| event.event.as_str()).collect();
    let deltas = vec!["content_block_delta"; 7];
    let expected: Vec<&str> = ["message_start", "content_block_start", "ping"]
        .into_iter()
        .chain(deltas)
        .chain(["content_block_stop", "message_delta", "message_stop"])
        .collect();
    assert_eq!(names, expected);

    let data = event_json(&events);
    for (event, data) in events.iter().zip(&data) {
        assert_eq!(data["type"], event.event.as_str());
    }
    let message = &data[0]["message"];
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["content"], json!([]));
    assert!(message["stop_reason"].is_null());
    assert_eq!(message["usage"]["input_tokens"], 9);
    assert_eq!(data[1]["content_block"], json!({"type": "text", "text": ""}));
    let text: String = data[3..10]
        .iter()
        .map(|delta| {
            assert_eq!(delta["delta"]["type"], "text_delta");
            delta["delta"]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, "Mock reply to: Tell me a joke");
    assert_eq!(data[10]["index"], 0);
    assert_eq!(data[11]["delta"]["stop_reason"], "end_turn");
    assert_eq!(data[11]["usage"]["output_tokens"], 7);
}

#[tokio::test]
async fn output_limit_stops_with_max_tokens() {
    let mock = spawn().await;
    let mut body = request("claude-test", false);
    body["max_tokens"] = json!(3);
    let body: Value = anthropic(&mock, body).await.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "Mock reply to:");
    assert_eq!(body["stop_reason"], "max_tokens");
}

#[tokio::test]
async fn error_event_is_an_error_event_without_message_stop() {
    let mock = spawn().await;
    mock.set_scenario("claude-err", Scenario::reply("one two three").then(Fault::error_event_after(1)));
    let events = sse_events(anthropic(&mock, request("claude-err", true)).await).await;
    let names: Vec<&str> = events.iter().map(|event| event.event.as_str()).collect();
    assert_eq!(names, ["message_start", "content_block_start", "ping", "content_block_delta", "error"]);
    let error: Value = serde_json::from_str(&events[4].data).unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "overloaded_error");
    assert_eq!(error["error"]["message"], "Overloaded");
}

#[tokio::test]
async fn status_faults_use_anthropic_error_types() {
    let mock = spawn().await;
    let scenario = Scenario::default().then(Fault::status(529)).then(Fault::status_retry_after(429, 7));
    mock.set_scenario("claude-busy", scenario);
    let overloaded = anthropic(&mock, request("claude-busy", true)).await;
    assert_eq!(overloaded.status(), 529);
    let body: Value = overloaded.json().await.unwrap();
    assert_eq!(body["error"]["type"], "overloaded_error");

    let limited = anthropic(&mock, request("claude-busy", true)).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
}
