//! The OpenAI-compatible chat completions wire format.

use crate::common;

use common::{client, event_json, openai, spawn, sse_events};
use confab_mock_provider::{Fault, Scenario};
use serde_json::{Value, json};

fn request(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hello there"}]},
        ],
    })
}

#[tokio::test]
async fn completion_has_the_chat_completion_shape() {
    let mock = spawn().await;
    let response = openai(&mock, request("gpt-test")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();

    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-test");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].is_u64());
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Mock reply to: Hello there");
    assert_eq!(choice["finish_reason"], "stop");
    // Prompt: "Be brief." + "Hello there" = 20 characters = 5 tokens; reply: 5 word tokens.
    assert_eq!(body["usage"]["prompt_tokens"], 5);
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert_eq!(body["usage"]["total_tokens"], 10);
}

#[tokio::test]
async fn stream_sends_role_then_content_then_finish_then_usage_then_done() {
    let mock = spawn().await;
    let mut body = request("gpt-test");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = openai(&mock, body).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = sse_events(response).await;

    let (done, chunks) = events.split_last().unwrap();
    assert_eq!(done.data, "[DONE]");
    let chunks = event_json(chunks);
    let (usage_chunk, chunks) = chunks.split_last().unwrap();
    let (finish_chunk, chunks) = chunks.split_last().unwrap();
    let (role_chunk, content_chunks) = chunks.split_first().unwrap();

    for chunk in chunks.iter().chain([finish_chunk, usage_chunk]) {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], role_chunk["id"]);
        assert_eq!(chunk["model"], "gpt-test");
    }
    assert_eq!(role_chunk["choices"][0]["delta"]["role"], "assistant");
    let text: String = content_chunks
        .iter()
        .map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Mock reply to: Hello there");
    assert_eq!(content_chunks.len(), 5);
    assert!(
        content_chunks
            .iter()
            .all(|chunk| chunk["usage"].is_null() && chunk["choices"][0]["finish_reason"].is_null())
    );
    assert_eq!(finish_chunk["choices"][0]["finish_reason"], "stop");
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 5);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 5);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 10);
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_chunk() {
    let mock = spawn().await;
    let mut body = request("gpt-test");
    body["stream"] = json!(true);
    let events = sse_events(openai(&mock, body).await).await;
    let chunks = event_json(&events[..events.len() - 1]);
    assert!(
        chunks
            .iter()
            .all(|chunk| chunk.get("usage").is_none() && !chunk["choices"].as_array().unwrap().is_empty())
    );
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn output_limit_ends_with_length() {
    let mock = spawn().await;
    let mut body = request("gpt-test");
    body["max_completion_tokens"] = json!(2);
    let body: Value = openai(&mock, body).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Mock reply");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["usage"]["completion_tokens"], 2);
}

#[tokio::test]
async fn missing_bearer_token_is_a_401_in_openai_shape() {
    let mock = spawn().await;
    let response = client()
        .post(format!("{}/v1/chat/completions", mock.base_url()))
        .json(&request("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert!(error["message"].as_str().unwrap().contains("API key"));
    assert!(error["param"].is_null() && error["code"].is_null());
}

#[tokio::test]
async fn invalid_requests_are_400_with_param() {
    let mock = spawn().await;
    let body: Value = openai(&mock, json!({"model": "m"})).await.json().await.unwrap();
    assert_eq!(body["error"]["param"], "messages");
    assert_eq!(body["error"]["code"], "missing_required_parameter");

    let mut request = request("m");
    request["stream_options"] = json!({"include_usage": true});
    let response = openai(&mock, request).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "stream_options");
}

#[tokio::test]
async fn models_lists_configured_and_scenario_models() {
    let mock = spawn().await;
    mock.set_scenario("gpt-scenario", Scenario::reply("x"));
    let response =
        client().get(format!("{}/v1/models", mock.base_url())).bearer_auth("sk").send().await.unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["gpt-scenario", "mock-model"]);
    assert_eq!(body["data"][0]["object"], "model");
}

#[tokio::test]
async fn error_event_is_an_error_data_line_without_done() {
    let mock = spawn().await;
    mock.set_scenario("gpt-err", Scenario::reply("a b c d").then(Fault::error_event_after(2)));
    let mut body = request("gpt-err");
    body["stream"] = json!(true);
    let events = sse_events(openai(&mock, body).await).await;
    let chunks = event_json(&events);
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["type"], "server_error");
    assert!(last["error"]["message"].is_string());
    let text: String = chunks[1..chunks.len() - 1]
        .iter()
        .map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "a b");
    assert!(events.iter().all(|event| event.data != "[DONE]"));
}
