//! The response cache (`CONFAB_CACHE_TTL_SECONDS`) in front of the providers: a
//! deterministic `/v1` request asked again by the same user is answered from the cache,
//! whole or streamed, without reaching the provider; other users, `no-store` and
//! requests that may vary always reach it.

use confab_mock_provider::{Fault, MockHandle, Scenario};
use confab_tests::mock::{Format, MockModels, spawn_app_with_mock};
use confab_tests::sse::events;
use confab_tests::*;
use futures::StreamExt;
use std::time::Duration;

const MODEL: &str = "oa-model";
const ANSWER: &str = "The answer is 42.";

fn question(extra: Value) -> Value {
    let mut body = json!({"model": MODEL, "messages": [{"role": "user", "content": "What is the answer?"}]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

async fn complete(user: &TestUser<'_>, body: &Value, headers: &[(&str, &str)]) -> (Option<String>, Value) {
    let mut req = user.request(Method::POST, "/v1/chat/completions").json(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = send(req).await;
    let status = header(&resp, "x-confab-cache");
    (status, assert_json(resp, StatusCode::OK).await)
}

/// Asks a chat completion until the reply kept by an earlier miss is there.
async fn until_hit(user: &TestUser<'_>, body: &Value) -> Value {
    until_cached(|| send(user.request(Method::POST, "/v1/chat/completions").json(body))).await
}

/// Asks until the reply kept by an earlier miss (saved after its response) answers.
async fn until_cached<F: std::future::Future<Output = Response>>(ask: impl Fn() -> F) -> Value {
    for _ in 0..100 {
        let resp = ask().await;
        if header(&resp, "x-confab-cache").as_deref() == Some("hit") {
            return assert_json(resp, StatusCode::OK).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the reply never came from the cache");
}

/// A server whose model the mock answers with [`ANSWER`].
async fn spawn(settings: &[(&str, &str)]) -> (TestApp, MockHandle) {
    let (app, mock) = spawn_app_with_mock(&MockModels::new().chat(Format::OpenAi, MODEL), settings).await;
    mock.set_scenario(MODEL, Scenario::reply(ANSWER));
    (app, mock)
}

fn asked(mock: &MockHandle) -> usize {
    mock.requests(MODEL).len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deterministic_request_asked_again_comes_from_the_cache() {
    let (app, mock) = spawn(&[("CONFAB_CACHE_TTL_SECONDS", "300")]).await;
    let ada = app.user("ada@example.com").await;
    let body = question(json!({"temperature": 0}));

    let (status, first) = complete(&ada, &body, &[]).await;
    assert_eq!(status.as_deref(), Some("miss"));
    let hit = until_hit(&ada, &body).await;
    let misses = asked(&mock);
    assert_eq!(hit["choices"], first["choices"]);
    assert_eq!(hit["usage"], first["usage"], "the reply's usage, as the provider gave it");
    assert_eq!(hit["model"], MODEL);

    // Streamed, the same question replays the kept reply as events, with the usage asked for.
    let streamed =
        question(json!({"temperature": 0, "stream": true, "stream_options": {"include_usage": true}}));
    let resp = send(ada.request(Method::POST, "/v1/chat/completions").json(&streamed)).await;
    assert_eq!(header(&resp, "x-confab-cache").as_deref(), Some("hit"));
    let text: String = events(resp)
        .filter_map(|e| async move { e.data["choices"][0]["delta"]["content"].as_str().map(String::from) })
        .collect()
        .await;
    assert_eq!(text, ANSWER);
    assert_eq!(asked(&mock), misses, "hits never reach the provider");

    // Another user's same question, a no-store request and a request that may vary all
    // reach the provider.
    let bob = app.user("bob@example.com").await;
    assert_eq!(complete(&bob, &body, &[]).await.0.as_deref(), Some("miss"));
    assert_eq!(complete(&ada, &body, &[("cache-control", "no-store")]).await.0, None);
    let varying = question(json!({"temperature": 0.7}));
    assert_eq!(complete(&ada, &varying, &[]).await.0, None);
    assert_eq!(complete(&ada, &varying, &[]).await.0, None);
    assert_eq!(asked(&mock), misses + 4);

    // A seed makes a request repeatable too; a different question is another entry.
    let seeded = question(json!({"seed": 7}));
    assert_eq!(complete(&ada, &seeded, &[]).await.0.as_deref(), Some("miss"));
    until_hit(&ada, &seeded).await;

    // Usage counts the hits as cached requests, with no tokens of their own.
    let admin = &ada;
    let mut cached = 0;
    for _ in 0..100 {
        let report = admin.get(&format!("/admin/usage?user_id={}", ada.id)).await.good().await;
        cached =
            report["items"].as_array().unwrap().iter().map(|r| r["cached_requests"].as_i64().unwrap()).sum();
        if cached >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cached >= 3, "{cached} cached requests in the usage report");
    let metrics = send(admin.request(Method::GET, "/admin/metrics")).await.text().await.unwrap();
    let hits = r#"confab_cache_requests_total{api="chat.completions",result="hit"}"#;
    assert!(metrics.lines().any(|l| l.starts_with(hits)), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_messages_are_cached_apart_and_nothing_is_kept_when_the_cache_is_off() {
    let (app, _mock) = spawn(&[("CONFAB_CACHE_TTL_SECONDS", "300")]).await;
    let ada = app.user("ada@example.com").await;
    let body = json!({"model": MODEL, "max_tokens": 100, "temperature": 0,
        "messages": [{"role": "user", "content": "What is the answer?"}]});
    let ask = || send(ada.request(Method::POST, "/v1/messages").json(&body));
    assert_eq!(header(&ask().await, "x-confab-cache").as_deref(), Some("miss"));
    let hit = until_cached(ask).await;
    assert_eq!(hit["content"][0]["text"], ANSWER);
    assert_eq!(hit["type"], "message");

    // With the cache off (the default) nothing says hit or miss.
    let (app, mock) = spawn(&[]).await;
    let ada = app.user("ada@example.com").await;
    let body = question(json!({"temperature": 0}));
    assert_eq!(complete(&ada, &body, &[]).await.0, None);
    assert_eq!(complete(&ada, &body, &[]).await.0, None);
    assert_eq!(asked(&mock), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_that_failed_mid_stream_is_never_kept() {
    let (app, mock) = spawn(&[("CONFAB_CACHE_TTL_SECONDS", "300")]).await;
    mock.set_scenario(MODEL, Scenario::tokens(20).then(Fault::error_event_after(3)));
    let ada = app.user("ada@example.com").await;
    let body = question(json!({"temperature": 0, "stream": true}));
    let resp = send(ada.request(Method::POST, "/v1/chat/completions").json(&body)).await;
    assert_eq!(header(&resp, "x-confab-cache").as_deref(), Some("miss"));
    let errors = events(resp).filter(|e| futures::future::ready(e.data.get("error").is_some())).count().await;
    assert_eq!(errors, 1, "the failure reached the client");
    // The next ask gets the whole reply from the provider, then the one after from the cache.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = complete(&ada, &question(json!({"temperature": 0})), &[]).await;
    assert_eq!(status.as_deref(), Some("miss"), "the failed reply was not kept");
    until_hit(&ada, &question(json!({"temperature": 0}))).await;
    assert_eq!(asked(&mock), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_asked_again_come_from_the_cache() {
    const EMBED: &str = "oa-embed";
    let models = MockModels::new().embedding(Format::OpenAi, EMBED);
    let (app, mock) = spawn_app_with_mock(&models, &[("CONFAB_CACHE_TTL_SECONDS", "300")]).await;
    let ada = app.user("ada@example.com").await;
    let body = json!({"model": EMBED, "input": ["a cat", "a dog"]});
    let ask = |headers: &'static [(&'static str, &'static str)]| {
        let mut req = ada.request(Method::POST, "/v1/embeddings").json(&body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        send(req)
    };
    let first = ask(&[]).await;
    assert_eq!(header(&first, "x-confab-cache").as_deref(), Some("miss"));
    let first = assert_json(first, StatusCode::OK).await;
    let hit = ask(&[]).await;
    assert_eq!(header(&hit, "x-confab-cache").as_deref(), Some("hit"), "kept before the first answer");
    let hit = assert_json(hit, StatusCode::OK).await;
    assert_eq!(hit["data"], first["data"]);
    assert_eq!(hit["model"], EMBED);
    let before = mock.requests(EMBED).len();
    assert_eq!(header(&ask(&[("cache-control", "no-store")]).await, "x-confab-cache"), None);
    assert_eq!(mock.requests(EMBED).len(), before + 1, "no-store reaches the provider");
}
