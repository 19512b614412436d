//! Faults, for every wire format where they differ: refused connections, error statuses,
//! dropped and stalled streams, and how fault queues are consumed.

use crate::common;

use std::time::Duration;

use common::{anthropic, bedrock, client, gemini, openai, read_body, read_then_listen, spawn};
use confab_mock_provider::{Fault, MockHandle, Provider, Scenario};
use serde_json::{Value, json};

const PROVIDERS: [Provider; 4] = [Provider::OpenAi, Provider::Anthropic, Provider::Gemini, Provider::Bedrock];
const REPLY: &str = "w1 w2 w3 w4 w5";

/// A streaming chat request in `provider`'s format.
async fn stream(mock: &MockHandle, provider: Provider, model: &str) -> reqwest::Response {
    match provider {
        Provider::OpenAi => {
            openai(
                mock,
                json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await
        }
        Provider::Anthropic => {
            let body = json!({"model": model, "stream": true, "max_tokens": 64,
                "messages": [{"role": "user", "content": "hi"}]});
            anthropic(mock, body).await
        }
        Provider::Gemini => {
            let body = json!({"contents": [{"parts": [{"text": "hi"}]}]});
            gemini(mock, model, "streamGenerateContent?alt=sse", body).await
        }
        Provider::Bedrock => {
            let body = json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]});
            bedrock(mock, model, "converse-stream", body).await
        }
    }
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn drop_after_aborts_the_stream_after_k_tokens() {
    let mock = spawn().await;
    for provider in PROVIDERS {
        let model = format!("drop-{provider:?}");
        mock.set_scenario(&model, Scenario::reply(REPLY).then(Fault::DropAfter { tokens: 3 }));
        let response = stream(&mock, provider, &model).await;
        assert_eq!(response.status(), 200, "{provider:?}");
        let (body, failed) = read_body(response).await;
        let body = String::from_utf8_lossy(&body);
        assert!(failed, "{provider:?}: the body must end in an error, got {body:?}");
        assert!(body.contains("w3") && !body.contains("w4"), "{provider:?}: {body:?}");
    }
}

#[tokio::test]
async fn stall_after_keeps_the_connection_silent() {
    let mock = spawn().await;
    for provider in PROVIDERS {
        let model = format!("stall-{provider:?}");
        mock.set_scenario(&model, Scenario::reply(REPLY).then(Fault::StallAfter { tokens: 2 }));
        let response = stream(&mock, provider, &model).await;
        let (body, more) = read_then_listen(response, "w2", Duration::from_millis(300)).await;
        assert!(!more, "{provider:?}: nothing may arrive during the stall");
        assert!(!String::from_utf8_lossy(&body).contains("w3"), "{provider:?}");
    }
}

#[tokio::test]
async fn refuse_closes_the_connection_without_a_response() {
    let mock = spawn().await;
    mock.set_scenario("refusing", Scenario::reply("ok").then(Fault::Refuse));
    let url = format!("{}/v1/chat/completions", mock.base_url());
    let refused = client().post(&url).bearer_auth("sk").json(&chat("refusing")).send().await;
    let error = refused.expect_err("no HTTP response");
    assert!(error.status().is_none());
    // The queue is consumed: the next request is answered.
    assert_eq!(openai(&mock, chat("refusing")).await.status(), 200);
    assert_eq!(mock.requests("refusing").len(), 2);
}

#[tokio::test]
async fn status_fault_answers_in_provider_shape_with_retry_after() {
    let mock = spawn().await;
    mock.set_scenario("limited", Scenario::default().then(Fault::status_retry_after(429, 1)));
    let response = openai(&mock, chat("limited")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(body["error"]["message"].is_string());

    let custom = Fault::Status { status: 500, retry_after_s: None, message: Some("boom".into()) };
    mock.set_scenario("limited", Scenario::default().then(custom));
    let response = openai(&mock, chat("limited")).await;
    assert_eq!(response.status(), 500);
    assert!(!response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "boom");
    assert_eq!(body["error"]["type"], "server_error");
}

#[tokio::test]
async fn non_streaming_drop_truncates_the_body() {
    let mock = spawn().await;
    mock.set_scenario("drop-json", Scenario::reply(REPLY).then(Fault::DropAfter { tokens: 2 }));
    let response = openai(&mock, chat("drop-json")).await;
    assert_eq!(response.status(), 200);
    let length: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let (body, failed) = read_body(response).await;
    assert!(failed);
    assert!(body.len() < length);
}

#[tokio::test]
async fn non_streaming_stall_sends_nothing() {
    let mock = spawn().await;
    mock.set_scenario("stall-json", Scenario::reply(REPLY).then(Fault::StallAfter { tokens: 0 }));
    let waited = tokio::time::timeout(Duration::from_millis(300), openai(&mock, chat("stall-json"))).await;
    assert!(waited.is_err(), "no response head during a stall");
}

#[tokio::test]
async fn non_streaming_error_event_is_an_error_response() {
    let mock = spawn().await;
    mock.set_scenario("err-json", Scenario::reply(REPLY).then(Fault::error_event_after(1)));
    let response = openai(&mock, chat("err-json")).await;
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn repeat_fails_n_times_then_heals() {
    let mock = spawn().await;
    mock.set_scenario("flaky", Scenario::default().then_repeat(Fault::status(503), 3));
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(openai(&mock, chat("flaky")).await.status().as_u16());
    }
    assert_eq!(statuses, [503, 503, 503, 200, 200]);
}

#[tokio::test]
async fn always_fails_until_the_scenario_is_removed() {
    let mock = spawn().await;
    let scenario = Scenario::default().then(Fault::status(429)).always(Fault::status(500));
    mock.set_scenario("down", scenario);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(openai(&mock, chat("down")).await.status().as_u16());
    }
    assert_eq!(statuses, [429, 500, 500, 500]);
    mock.clear_scenario("down");
    assert_eq!(openai(&mock, chat("down")).await.status(), 200);
}

#[tokio::test]
async fn scenarios_are_isolated_per_model() {
    let mock = spawn().await;
    mock.set_scenario("broken", Scenario::default().always(Fault::status(503)));
    mock.set_scenario("healthy", Scenario::reply("fine"));
    let calls = (0..10).map(|i| {
        let model = if i % 2 == 0 { "broken" } else { "healthy" };
        let mock = &mock;
        async move { (model, openai(mock, chat(model)).await) }
    });
    for (model, response) in futures_util::future::join_all(calls).await {
        match model {
            "broken" => assert_eq!(response.status(), 503),
            _ => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["choices"][0]["message"]["content"], "fine");
            }
        }
    }
    assert_eq!(mock.requests("broken").len(), 5);
    assert_eq!(mock.requests("healthy").len(), 5);
}

#[tokio::test]
async fn wildcard_scenario_covers_models_without_their_own() {
    let mock = spawn().await;
    mock.set_scenario(confab_mock_provider::ANY_MODEL, Scenario::reply("from the wildcard"));
    mock.set_scenario("own", Scenario::reply("own"));
    let body: Value = openai(&mock, chat("anything")).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "from the wildcard");
    let body: Value = openai(&mock, chat("own")).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "own");
}

#[tokio::test]
async fn tokens_gives_exactly_n_filler_tokens() {
    let mock = spawn().await;
    mock.set_scenario("filler", Scenario::tokens(12));
    let body: Value = openai(&mock, chat("filler")).await.json().await.unwrap();
    assert_eq!(body["usage"]["completion_tokens"], 12);
    assert_eq!(body["choices"][0]["message"]["content"].as_str().unwrap().split(' ').count(), 12);
}
