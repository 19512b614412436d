//! Chat against the mock provider, in every wire format and through every failure the
//! router handles: retries, Retry-After, fallback, circuit breaking, timeouts,
//! mid-stream errors, resume after a dropped connection, cancel and disconnect.

use confab_mock_provider::{Fault, MockHandle, Scenario};
use confab_tests::mock::{Format, MockModels, spawn_app_with_mock};
use confab_tests::sse::{Event, all_events, ends_with, error_code, events, ids, text};
use confab_tests::*;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One model per wire format.
pub(crate) const FORMATS: [(&str, Format); 4] = [
    ("oa-model", Format::OpenAi),
    ("an-model", Format::Anthropic),
    ("ge-model", Format::Gemini),
    ("br-model", Format::Bedrock),
];

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    pub(crate) mock: MockHandle,
    pub(crate) user: Registered,
    session: String,
}

/// A mock, and a server whose four providers all point at it, with fast retries.
pub(crate) async fn setup(extra: &[(&str, &str)]) -> Setup {
    let models = FORMATS.iter().fold(MockModels::new(), |models, (name, format)| models.chat(*format, name));
    let mut settings = vec![("CONFAB_RETRY_BASE_MS", "5")];
    settings.extend_from_slice(extra);
    let (app, mock) = spawn_app_with_mock(&models, &settings).await;
    let user = app.register("ada@example.com").await;
    // Titled, so that no title request joins the turns' requests at the mock.
    let session = app.as_user(user.clone()).create_session(json!({"title": "Providers"})).await;
    Setup { app, mock, user, session }
}

impl Setup {
    /// The user, requesting.
    fn ada(&self) -> TestUser<'_> {
        self.app.as_user(self.user.clone())
    }

    async fn chat(&self, model: &str, content: &str) -> reqwest::Response {
        self.ada().send_message(&self.session, &json!({"content": content, "model": model})).await
    }

    async fn messages(&self) -> Vec<Value> {
        self.ada().messages(&self.session).await
    }

    async fn settled_reply(&self) -> Value {
        self.ada().settled_reply(&self.session).await
    }

    /// Replaces routing with one model whose targets are the given mock models, in order,
    /// all through the OpenAI format.
    async fn route(&self, name: &str, upstream: &[&str]) {
        let admin = self.ada();
        let mut config = admin.get("/admin/models").await.good().await;
        let template = config["models"][0]["targets"][0].clone();
        let targets: Vec<Value> = upstream
            .iter()
            .map(|m| {
                let mut t = template.clone();
                t["model"] = json!(m);
                t
            })
            .collect();
        config["models"].as_array_mut().unwrap().push(json!({"name": name, "targets": targets}));
        admin.put("/admin/models", &config).await.good().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_wire_format_streams_through_the_gateway() {
    let s = setup(&[]).await;
    for (model, format) in FORMATS {
        let events = all_events(s.chat(model, &format!("hello {model}")).await).await;
        assert_eq!(text(&events), format!("Mock reply to: hello {model}"), "{model}");
        ends_with(&events, "complete");
        let usage = events.iter().find(|e| e.event == "usage").unwrap();
        assert_eq!(usage.data["output_tokens"], json!(5), "{model}: the provider's own count");
        let seen = s.mock.requests(model);
        assert_eq!(seen.len(), 1, "{model}");
        assert_eq!(seen[0].api_key.as_deref(), Some(format.key()), "{model}");
    }
    let replies: Vec<_> = s.messages().await.into_iter().filter(|m| m["role"] == "assistant").collect();
    assert!(replies.iter().all(|m| m["status"] == "complete"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_wire_format_serves_the_openai_api() {
    let s = setup(&[]).await;
    let key = str_field(&s.app.create_api_key(&s.user.access_token, "sdk").await, "key");
    for (model, _) in FORMATS {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        let resp = send(s.app.bearer(Method::POST, "/v1/chat/completions", &key).json(&body)).await;
        let whole = assert_json(resp, StatusCode::OK).await;
        assert_eq!(whole["choices"][0]["message"]["content"], "Mock reply to: hi", "{model}");
        assert_eq!(whole["usage"]["completion_tokens"], 4, "{model}");
        // The quota reserved a reply limit; the provider is held to it.
        let upstream = s.mock.requests(model).pop().expect("a request reached the provider").body;
        assert!(upstream.to_string().contains("4096"), "{model}: no reply limit in {upstream}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retryable_failures_are_retried_with_retry_after_honoured() {
    let s = setup(&[]).await;
    s.mock.set_scenario("oa-model", Scenario::default().then(Fault::status(503)).then(Fault::Refuse));
    let events = all_events(s.chat("oa-model", "again").await).await;
    assert_eq!(text(&events), "Mock reply to: again");
    assert_eq!(s.mock.requests("oa-model").len(), 3, "two failures, then success");

    s.mock.set_scenario("an-model", Scenario::default().then(Fault::status_retry_after(429, 1)));
    let started = Instant::now();
    let events = all_events(s.chat("an-model", "later").await).await;
    assert_eq!(text(&events), "Mock reply to: later");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");

    s.mock.set_scenario("ge-model", Scenario::default().then(Fault::status(400)));
    let events = all_events(s.chat("ge-model", "bad").await).await;
    assert_eq!(error_code(&events).as_deref(), Some("upstream_unavailable"));
    assert_eq!(s.mock.requests("ge-model").len(), 1, "a 400 is not retried");
    ends_with(&events, "failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn falls_back_to_the_next_target_before_the_first_token() {
    let s = setup(&[("CONFAB_PROVIDER_RETRIES", "1")]).await;
    s.route("resilient", &["down-model", "up-model"]).await;
    s.mock.set_scenario("down-model", Scenario::default().always(Fault::status(503)));
    s.mock.set_scenario("up-model", Scenario::reply("from the fallback"));
    let events = all_events(s.chat("resilient", "hi").await).await;
    assert_eq!(text(&events), "from the fallback");
    assert_eq!(s.mock.requests("down-model").len(), 2, "one attempt and one retry");
    let health = s.ada().get("/admin/providers/health").await.good().await;
    let down = health["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"]["model"] == "down-model")
        .unwrap()
        .clone();
    assert_eq!(down["consecutive_failures"], 2);
    assert!(down["recent_errors"][0].as_str().unwrap().contains("503"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_target_opens_its_circuit_and_a_probe_closes_it() {
    let s = setup(&[
        ("CONFAB_PROVIDER_RETRIES", "0"),
        ("CONFAB_CIRCUIT_FAILURES", "2"),
        ("CONFAB_CIRCUIT_COOLDOWN_SECONDS", "1"),
    ])
    .await;
    s.mock.set_scenario("oa-model", Scenario::default().always(Fault::status(503)));
    for _ in 0..2 {
        ends_with(&all_events(s.chat("oa-model", "x").await).await, "failed");
    }
    let open = all_events(s.chat("oa-model", "x").await).await;
    assert_eq!(error_code(&open).as_deref(), Some("upstream_unavailable"));
    assert_eq!(s.mock.requests("oa-model").len(), 2, "an open circuit sends nothing");
    let health = s.ada().get("/admin/providers/health").await.good().await;
    let state = |h: &Value| {
        h["items"].as_array().unwrap().iter().find(|t| t["target"]["model"] == "oa-model").unwrap()["state"]
            .clone()
    };
    assert_eq!(state(&health), "open");

    s.mock.clear_scenario("oa-model");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let probe = all_events(s.chat("oa-model", "probe").await).await;
    // The failed turns' messages are still context, merged into one user turn.
    assert_eq!(text(&probe), "Mock reply to: x\n\nx\n\nx\n\nprobe");
    let health = s.ada().get("/admin/providers/health").await.good().await;
    assert_eq!(state(&health), "closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn first_token_and_idle_timeouts() {
    let s = setup(&[
        ("CONFAB_PROVIDER_RETRIES", "0"),
        ("CONFAB_FIRST_TOKEN_TIMEOUT_MS", "300"),
        ("CONFAB_IDLE_TIMEOUT_MS", "300"),
    ])
    .await;
    s.mock.set_scenario("oa-model", Scenario::reply("slow start").with_ttft_ms(3000));
    let events = all_events(s.chat("oa-model", "x").await).await;
    assert_eq!(error_code(&events).as_deref(), Some("upstream_timeout"));
    ends_with(&events, "failed");

    s.mock.set_scenario(
        "an-model",
        Scenario::reply("one two three four").then(Fault::StallAfter { tokens: 2 }),
    );
    let events = all_events(s.chat("an-model", "x").await).await;
    assert_eq!(text(&events), "one two");
    assert_eq!(error_code(&events).as_deref(), Some("upstream_timeout"));
    let reply = s.settled_reply().await;
    assert_eq!(
        (&reply["status"], &reply["content"]),
        (&json!("failed"), &json!("one two")),
        "the partial reply is kept"
    );

    let key = str_field(&s.app.create_api_key(&s.user.access_token, "sdk").await, "key");
    let body = json!({"model": "oa-model", "messages": [{"role": "user", "content": "x"}]});
    let resp = send(s.app.bearer(Method::POST, "/v1/chat/completions", &key).json(&body)).await;
    assert_error(resp, StatusCode::GATEWAY_TIMEOUT, "upstream_timeout").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_error_mid_stream_ends_with_an_error_event_and_keeps_the_partial_reply() {
    let s = setup(&[]).await;
    for (model, _) in FORMATS {
        s.mock
            .set_scenario(model, Scenario::reply("alpha beta gamma delta").then(Fault::error_event_after(2)));
        let events = all_events(s.chat(model, "x").await).await;
        assert_eq!(text(&events), "alpha beta", "{model}");
        assert_eq!(error_code(&events).as_deref(), Some("upstream_error"), "{model}");
        ends_with(&events, "failed");
        let reply = s.settled_reply().await;
        assert_eq!(reply["content"], "alpha beta", "{model}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_client_resumes_without_gap_or_repeat() {
    let s = setup(&[("CONFAB_STREAM_FLUSH_MS", "20")]).await;
    s.mock.set_scenario("oa-model", Scenario::tokens(30).with_token_delay_ms(20));
    let mut stream = events(s.chat("oa-model", "long").await);
    let mut seen = Vec::new();
    while seen.len() < 6 {
        seen.push(stream.next().await.unwrap());
    }
    drop(stream);
    let message = seen[0].data["message_id"].as_str().unwrap().to_string();
    let last = seen.last().unwrap().id.unwrap();
    let path = format!("/chat/sessions/{}/messages/{message}/stream", s.session);
    let rest =
        all_events(send(s.ada().request(Method::GET, &path).header("last-event-id", last.to_string())).await)
            .await;
    let whole: Vec<Event> = seen.into_iter().chain(rest).collect();
    assert_eq!(ids(&whole), (0..whole.len() as u64).collect::<Vec<_>>(), "no gap, no repeat");
    assert_eq!(text(&whole).split_whitespace().count(), 30);
    ends_with(&whole, "complete");
    assert_eq!(s.settled_reply().await["content"], json!(text(&whole)));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_the_reply_and_keeps_what_was_said() {
    let s = setup(&[("CONFAB_STREAM_FLUSH_MS", "20")]).await;
    s.mock.set_scenario("oa-model", Scenario::tokens(200).with_token_delay_ms(20));
    let mut stream = events(s.chat("oa-model", "long").await);
    let mut seen = vec![stream.next().await.unwrap(), stream.next().await.unwrap()];
    let message = seen[0].data["message_id"].as_str().unwrap().to_string();
    let path = format!("/chat/sessions/{}/messages/{message}/cancel", s.session);
    let resp = send(s.ada().request(Method::POST, &path)).await;
    assert_eq!(assert_json(resp, StatusCode::ACCEPTED).await["status"], "cancelling");
    seen.extend(stream.collect::<Vec<Event>>().await);
    ends_with(&seen, "cancelled");
    let replay_path = format!("/chat/sessions/{}/messages/{message}/stream", s.session);
    let replay = all_events(s.ada().get(&replay_path).await).await;
    assert_eq!(replay, seen, "everything the client saw was saved, up to the end");
    let reply = s.settled_reply().await;
    assert_eq!(reply["status"], "cancelled");
    let said = reply["content"].as_str().unwrap().split_whitespace().count();
    assert!((1..200).contains(&said), "the partial reply is kept: {said} tokens");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_leaves_gets_an_interrupted_reply_with_its_messages_saved() {
    let s = setup(&[("CONFAB_STREAM_FLUSH_MS", "20"), ("CONFAB_RESUME_GRACE_SECONDS", "1")]).await;
    s.mock.set_scenario("oa-model", Scenario::tokens(400).with_token_delay_ms(20));
    let mut stream = events(s.chat("oa-model", "bye").await);
    for _ in 0..3 {
        stream.next().await.unwrap();
    }
    drop(stream);
    let reply = s.settled_reply().await;
    assert_eq!(reply["status"], "interrupted");
    let said = reply["content"].as_str().unwrap().split_whitespace().count();
    assert!((2..400).contains(&said), "the partial reply is kept: {said} tokens");
    let user_message = &s.messages().await[0];
    assert_eq!((&user_message["role"], &user_message["content"]), (&json!("user"), &json!("bye")));
}

#[tokio::test(flavor = "multi_thread")]
async fn callers_see_a_summary_of_provider_errors_never_their_body() {
    let s = setup(&[("CONFAB_PROVIDER_RETRIES", "0")]).await;
    let body_text = "invalid key sk-live-1234 for org internal-billing";
    let fault = Fault::Status { status: 401, retry_after_s: None, message: Some(body_text.into()) };
    s.mock.set_scenario("oa-model", Scenario::default().always(fault));

    let events = all_events(s.chat("oa-model", "x").await).await;
    let error = events.iter().find(|e| e.event == "error").expect("an error event");
    assert_eq!(error.data, json!({"code": "upstream_unavailable", "message": "the provider answered 401"}));

    let key = str_field(&s.app.create_api_key(&s.user.access_token, "sdk").await, "key");
    let request = json!({"model": "oa-model", "messages": [{"role": "user", "content": "x"}]});
    let resp = send(s.app.bearer(Method::POST, "/v1/chat/completions", &key).json(&request)).await;
    let body = assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable").await;
    assert_eq!(body["error"]["message"], "the provider answered 401");
    assert!(!body.to_string().contains("sk-live"), "{body}");
    // The failed turn counts its prompt's estimate (1 token); the completion that failed
    // before the provider answered gives its reservation back.
    s.app.assert_tokens_settle_at(&s.user, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_route_naming_another_secret_is_refused_on_use() {
    use confab_core::ports::Item;
    let s = setup(&[]).await;
    // Routing saved before provider secrets had their own namespace, or edited in place.
    let target = json!({"provider": "openai", "base_url": format!("{}/v1", s.mock.base_url()),
                        "model": "oa-model", "api_key_secret": "confab-signing-keys"});
    let config = json!({"edited_by_admin": true, "default_model": "leaky",
                        "models": [{"name": "leaky", "context_tokens": 8192, "targets": [target]}]});
    let data = config.as_object().unwrap().clone();
    put_stored_item(s.app.data_dir(), Item::new("CONFIG", "MODELS", data)).await;

    let events = all_events(s.chat("leaky", "x").await).await;
    assert_eq!(error_code(&events).as_deref(), Some("upstream_misconfigured"), "{events:?}");
    ends_with(&events, "failed");
    assert!(s.mock.requests("oa-model").is_empty(), "nothing was sent to the target");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_reply_keeps_its_lease_through_a_slow_provider() {
    let s = setup(&[("CONFAB_STREAM_LEASE_SECONDS", "1"), ("CONFAB_STREAM_FLUSH_MS", "20")]).await;
    // Silent for longer than a lease before the first token, and between tokens.
    s.mock.set_scenario(
        "oa-model",
        Scenario::reply("slow but alive").with_ttft_ms(2500).with_token_delay_ms(1500),
    );
    let reply = tokio::spawn(all_events(s.chat("oa-model", "x").await));
    let mut polls = 0;
    while !reply.is_finished() {
        let status = s.messages().await.last().unwrap()["status"].clone();
        assert!(status == "streaming" || status == "complete", "a reader ended a live reply: {status}");
        polls += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(polls > 10, "the reply was read while the provider was silent");
    let events = reply.await.unwrap();
    assert_eq!(text(&events), "slow but alive");
    ends_with(&events, "complete");
    assert_eq!(s.settled_reply().await["status"], "complete");
}
