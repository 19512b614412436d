//! Metrics and traces: a chat turn moves the counters that `/admin/metrics` (admins only)
//! and the metrics listener serve, and the caller's trace reaches the provider, the
//! response and the audit log.

use confab_tests::mock::{Format, MockModels, spawn_app_with_mock};
use confab_tests::sse::all_events;
use confab_tests::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TURNS: &str = r#"confab_http_requests_total{function="chat",route="/chat/sessions/{id}/messages",method="POST",status_class="2xx"}"#;
const OUTPUT_TOKENS: &str = r#"confab_output_tokens_total{model="oa-model",provider="openai"}"#;

async fn spawn(extra: &[(&str, &str)]) -> (TestApp, confab_mock_provider::MockHandle) {
    spawn_app_with_mock(&MockModels::new().chat(Format::OpenAi, "oa-model"), extra).await
}

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let req = app.request(Method::GET, "/admin/metrics");
    send(match token {
        Some(token) => req.bearer_auth(token),
        None => req,
    })
    .await
}

/// The value of `series` (name and labels) in a scrape, 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
}

/// The admin's scrape once the reply's tokens are counted (when its stream is done with).
async fn scrape_after_turn(app: &TestApp, admin: &str) -> String {
    for _ in 0..100 {
        let text = scrape(app, Some(admin)).await.text().await.unwrap();
        if value(&text, OUTPUT_TOKENS) > 0.0 {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the turn's tokens were never counted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chat_turn_moves_the_counters_only_admins_read() {
    let (app, _mock) = spawn(&[("CONFAB_METRICS_LISTEN", "127.0.0.1:0")]).await;
    let (admin, user) = app.admin_and_user().await;
    let before = scrape(&app, Some(&admin.access_token)).await;
    assert_eq!(before.status(), StatusCode::OK);
    assert!(header(&before, "content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    assert_eq!(value(&before.text().await.unwrap(), TURNS), 0.0);

    let ada = app.as_user(user.clone());
    let session = ada.create_session(json!({"title": "Metrics"})).await;
    ada.chat(&session, "count me").await;
    let text = scrape_after_turn(&app, &admin.access_token).await;
    assert_eq!(value(&text, TURNS), 1.0, "{text}");
    let model = r#"{model="oa-model",provider="openai"}"#;
    assert_eq!(value(&text, &format!("confab_provider_attempts_total{model}")), 1.0);
    assert_eq!(value(&text, &format!("confab_time_to_first_token_seconds_count{model}")), 1.0);
    assert!(value(&text, &format!("confab_input_tokens_total{model}")) > 0.0);
    assert!(!text.contains(&session) && !text.contains(&user.id), "raw paths and ids never become labels");

    let refused = scrape(&app, Some(&user.access_token)).await;
    assert_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert_error(scrape(&app, None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let listener = format!("http://{}/metrics", app.metrics_addr().expect("a metrics listener"));
    let scraped = reqwest::get(&listener).await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert_eq!(value(&scraped.text().await.unwrap(), TURNS), 1.0, "the listener serves the same registry");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_callers_trace_reaches_the_provider_the_response_and_the_audit_log() {
    let (app, mock) = spawn(&[]).await;
    let registered = send(
        app.request(Method::POST, "/auth/register")
            .header("traceparent", TRACEPARENT)
            .json(&json!({"email": "ada@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(header(&registered, "x-trace-id").as_deref(), Some(TRACE));
    let ada = app.as_user(app.login("ada@example.com", PASSWORD).await);
    let session = ada.create_session(json!({"title": "Traces"})).await;
    let path = format!("/chat/sessions/{session}/messages");
    let resp = send(
        ada.request(Method::POST, &path).header("traceparent", TRACEPARENT).json(&json!({"content": "hi"})),
    )
    .await;
    assert_eq!(header(&resp, "x-trace-id").as_deref(), Some(TRACE));
    all_events(resp).await;
    let sent = mock.requests("oa-model");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].trace_id.as_deref(), Some(TRACE), "the provider continues the caller's trace");
    let parent = &sent[0].headers["traceparent"];
    assert!(
        !parent.contains("00f067aa0ba902b7"),
        "confab's own span is the provider call's parent: {parent}"
    );

    let audit = ada.get("/admin/audit?action=auth.register").await.good().await;
    assert_eq!(audit["items"][0]["trace_id"], TRACE, "{audit}");

    for bad in ["garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-XYZ-1-01"] {
        let resp = send(ada.request(Method::GET, "/auth/me").header("traceparent", bad)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{bad}");
        let trace = header(&resp, "x-trace-id").unwrap();
        assert!(trace.len() == 32 && trace != TRACE && trace.bytes().all(|b| b.is_ascii_hexdigit()), "{bad}");
    }
}
