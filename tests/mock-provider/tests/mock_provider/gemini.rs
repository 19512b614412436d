//! The Google Gemini wire format.

use crate::common;

use common::{client, event_json, gemini, read_body, spawn, sse_events};
use confab_mock_provider::{Fault, Scenario};
use serde_json::{Value, json};

fn request() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "Be kind."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "What is Rust?"}]},
        ],
        "generationConfig": {"temperature": 0.2},
    })
}

const REPLY: &str = "Mock reply to: What is Rust?";

#[tokio::test]
async fn api_key_goes_in_a_header_or_the_query() {
    let mock = spawn().await;
    let url = format!("{}/v1beta/models/gemini-test:generateContent", mock.base_url());
    let by_query = client().post(format!("{url}?key=query-key")).json(&request()).send().await.unwrap();
    assert_eq!(by_query.status(), 200);
    let recorded = mock.requests("gemini-test");
    assert_eq!(recorded[0].api_key.as_deref(), Some("query-key"));
    assert_eq!(recorded[0].path, "/v1beta/models/gemini-test:generateContent?key=<redacted>");

    let anonymous = client().post(&url).json(&request()).send().await.unwrap();
    assert_eq!(anonymous.status(), 403);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], 403);
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn generate_content_has_candidates_and_usage_metadata() {
    let mock = spawn().await;
    let response = gemini(&mock, "gemini-test", "generateContent", request()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let candidate = &body["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(candidate["content"]["parts"], json!([{"text": REPLY}]));
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(candidate["index"], 0);
    // "Be kind." + "Hi" + "Hello" + "What is Rust?" = 28 characters = 7 tokens.
    let usage = &body["usageMetadata"];
    assert_eq!(usage["promptTokenCount"], 7);
    assert_eq!(usage["candidatesTokenCount"], 6);
    assert_eq!(usage["totalTokenCount"], 13);
    assert_eq!(body["modelVersion"], "gemini-test");
}

#[tokio::test]
async fn snake_case_fields_are_read_too() {
    let mock = spawn().await;
    let body = json!({
        "system_instruction": {"parts": [{"text": "Be kind."}]},
        "contents": [{"parts": [{"text": "What is Rust?"}]}],
        "generation_config": {"max_output_tokens": 2},
    });
    let body: Value = gemini(&mock, "gemini-test", "generateContent", body).await.json().await.unwrap();
    assert_eq!(body["candidates"][0]["content"]["parts"][0]["text"], "Mock reply");
    assert_eq!(body["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(body["usageMetadata"]["promptTokenCount"], 6);
}

#[tokio::test]
async fn sse_stream_uses_crlf_and_finishes_on_the_last_chunk() {
    let mock = spawn().await;
    let response = gemini(&mock, "gemini-test", "streamGenerateContent?alt=sse", request()).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let (raw, failed) = read_body(response).await;
    assert!(!failed);
    let raw = String::from_utf8(raw).unwrap();
    assert!(raw.starts_with("data: {") && raw.ends_with("}\r\n\r\n"), "CRLF framing: {raw:?}");
    assert!(!raw.contains("[DONE]"));

    let response = gemini(&mock, "gemini-test", "streamGenerateContent?alt=sse", request()).await;
    let chunks = event_json(&sse_events(response).await);
    assert_eq!(chunks.len(), 6);
    let text: String = chunks
        .iter()
        .map(|chunk| chunk["candidates"][0]["content"]["parts"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, REPLY);
    let (last, rest) = chunks.split_last().unwrap();
    assert!(rest.iter().all(|chunk| chunk["candidates"][0].get("finishReason").is_none()));
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 6);
    assert_eq!(last["usageMetadata"]["totalTokenCount"], 13);
}

#[tokio::test]
async fn stream_without_alt_sse_is_one_json_array() {
    let mock = spawn().await;
    let response = gemini(&mock, "gemini-test", "streamGenerateContent", request()).await;
    let chunks: Vec<Value> = response.json().await.unwrap();
    assert_eq!(chunks.len(), 6);
    assert_eq!(chunks[5]["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn invalid_role_is_invalid_argument() {
    let mock = spawn().await;
    let body = json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]});
    let response = gemini(&mock, "gemini-test", "generateContent", body).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn rate_limit_carries_retry_info() {
    let mock = spawn().await;
    mock.set_scenario("gemini-busy", Scenario::default().then(Fault::status_retry_after(429, 3)));
    let response = gemini(&mock, "gemini-busy", "generateContent", request()).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(body["error"]["details"][0]["retryDelay"], "3s");
}

#[tokio::test]
async fn error_event_is_an_error_chunk() {
    let mock = spawn().await;
    mock.set_scenario("gemini-err", Scenario::reply("a b c").then(Fault::error_event_after(2)));
    let response = gemini(&mock, "gemini-err", "streamGenerateContent?alt=sse", request()).await;
    let chunks = event_json(&sse_events(response).await);
    assert_eq!(chunks.len(), 3);
    assert_eq!(
        chunks[2]["error"],
        json!({"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"})
    );
    assert!(chunks[1]["candidates"][0].get("finishReason").is_none());
}
