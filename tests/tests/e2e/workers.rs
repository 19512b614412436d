//! The edge: the router and the four function Workers under `wrangler dev --local`
//! (workerd), on DynamoDB, S3 and Secrets Manager (moto), chatting with the mock
//! provider. The same scenario as on Lambda, what the router refuses by itself, one
//! data set shared by a Lambda deployment and a Workers one, and the chat Worker's Cron
//! Trigger ending a reply whose Worker died.

use crate::leases::{reply_under_way, slow_mock, slow_provider, status_in};
use confab_mock_provider::Scenario;
use confab_tests::lambda::{AwsStack, spawn_lambda_app};
use confab_tests::oidc::{RealProvider, accounts, provider_settings, sign_in_across};
use confab_tests::python::run_script;
use confab_tests::scenario::{
    MODEL, PUBLIC_URL, attachment, branches, mfa_sign_in, mock, openai, provider_faults, research,
    strangers_and_bad_input, user_scenario,
};
use confab_tests::web::TestWeb;
use confab_tests::webapp::serves_the_app;
use confab_tests::workers::{HIGH_RATE_LIMIT, spawn_scheduled_chat_worker, spawn_worker_app};
use confab_tests::*;
use futures::stream;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_scenario_runs_on_workers() {
    let mock = mock().await;
    let aws = AwsStack::create().await;
    let web = TestWeb::start().await;
    let overrides = web.settings(&[("CONFAB_STREAM_FLUSH_MS", "20"), ("CONFAB_PUBLIC_URL", PUBLIC_URL)]);
    let (app, stack) = spawn_worker_app(&aws, Some(&openai(&mock)), &overrides, HIGH_RATE_LIMIT).await;
    user_scenario(&app, &mock, &aws.bucket).await;
    mfa_sign_in(&app).await;
    branches(&app, &mock).await;
    attachment(&app, &mock).await;
    research(&app, &mock, &web).await;
    provider_faults(&app, &mock).await;
    // Each isolate counts only its own requests: its JSON lines are the metrics.
    let lines = assert_chat_metrics_logged(&stack.logs());
    assert!(lines.iter().all(|l| l.get("_aws").is_none()), "JSON lines, not EMF, on Workers");
    drop(stack);
}

/// The web app from the router's static assets, answered as the local server answers
/// it; then a person signs up, chats and reloads in Chromium.
#[tokio::test(flavor = "multi_thread")]
async fn the_web_app_is_served_from_the_routers_static_assets() {
    let mock = mock().await;
    mock.set_scenario(MODEL, Scenario::reply("Hello from the *edge*."));
    let aws = AwsStack::create().await;
    let (app, stack) = spawn_worker_app(&aws, Some(&openai(&mock)), &[], HIGH_RATE_LIMIT).await;
    serves_the_app(&app).await;
    let args = vec![app.base_url.clone(), MODEL.to_string(), "Hello from the edge.".to_string()];
    run_script("webapp_smoke.py", args, "Debian's `chromium` or the `playwright` package").await;
    drop(stack);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_provider_signs_people_in_through_the_router() {
    let provider = RealProvider::start("corp", accounts());
    let settings = provider_settings("corp", &provider.issuer, &provider.client_secret);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let aws = AwsStack::create().await;
    let (app, stack) = spawn_worker_app(&aws, None, &settings, HIGH_RATE_LIMIT).await;
    sign_in_across(&app).await;
    drop(stack);
}

#[tokio::test(flavor = "multi_thread")]
async fn strangers_and_bad_input_are_refused_on_workers() {
    let aws = AwsStack::create().await;
    let (app, stack) =
        spawn_worker_app(&aws, None, &[("CONFAB_MAX_BODY_BYTES", "4096")], HIGH_RATE_LIMIT).await;
    strangers_and_bad_input(&app).await;
    drop(stack);
}

const APP_ORIGIN: &str = "https://app.example.com";

#[tokio::test(flavor = "multi_thread")]
async fn the_router_refuses_by_itself_and_ids_every_request() {
    let aws = AwsStack::create().await;
    let settings = [("CONFAB_MAX_BODY_BYTES", "4096"), ("CONFAB_CORS_ORIGINS", APP_ORIGIN)];
    let (app, stack) = spawn_worker_app(&aws, None, &settings, 40).await;

    // Paths no function serves, and methods no route of the path's function answers.
    for path in ["/", "/.env", "/wp-login.php", "/authx"] {
        assert_error_ctx(
            send(app.request(Method::GET, path)).await,
            StatusCode::NOT_FOUND,
            "not_found",
            path,
        )
        .await;
    }
    let refused = send(app.request(Method::DELETE, "/chat/sessions")).await;
    assert_eq!(header(&refused, "allow").as_deref(), Some("GET, HEAD, POST, OPTIONS"));
    assert_error(refused, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;

    // Bodies over the cap: declared, or streamed without a length.
    let declared = app.request(Method::POST, "/auth/register").header("content-type", "application/json");
    assert_error(
        send(declared.body(vec![b' '; 5000])).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let spaces = (0..10).map(|_| vec![b' '; 1000]);
    assert_error(send(chunked(&app, spaces)).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // A streamed body under the cap reaches the function whole; a 204 keeps its cookies.
    let body = json!({"email": "chunked@example.com", "password": PASSWORD}).to_string().into_bytes();
    let pieces: Vec<Vec<u8>> = body.chunks(7).map(<[u8]>::to_vec).collect();
    let created = assert_json(send(chunked(&app, pieces.into_iter())).await, StatusCode::CREATED).await;
    assert_eq!(created["user"]["email"], "chunked@example.com");
    let user = app.login("chunked@example.com", PASSWORD).await;
    let all = [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE];
    let out =
        send(app.with_cookies(Method::POST, "/auth/logout", &user.cookies, &all, Some(user.csrf()))).await;
    let cleared = Cookies::from_response(&out);
    assert_no_content(out).await;
    for name in [ACCESS_COOKIE, REFRESH_COOKIE] {
        assert_eq!(cleared.get(name).attr("Max-Age"), Some("0"), "{name} cleared through the router");
    }

    // CORS: preflights reach the functions; the router's own refusals carry CORS too.
    let preflight = app
        .request(Method::OPTIONS, "/sessions")
        .header("origin", APP_ORIGIN)
        .header("access-control-request-method", "POST");
    let preflight = send(preflight).await;
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&preflight, "access-control-allow-origin").as_deref(), Some(APP_ORIGIN));
    let refused = send(app.request(Method::GET, "/nowhere").header("origin", APP_ORIGIN)).await;
    assert_eq!(header(&refused, "access-control-allow-origin").as_deref(), Some(APP_ORIGIN));
    assert_eq!(header(&refused, "x-content-type-options").as_deref(), Some("nosniff"));

    // Request ids: the caller's when well formed, else the router's, the same the function logs.
    let given = send(app.request(Method::GET, "/auth/health").header("x-request-id", "trace-42")).await;
    assert_eq!(header(&given, "x-request-id").as_deref(), Some("trace-42"));
    let replaced = send(app.request(Method::GET, "/auth/health").header("x-request-id", "no spaces")).await;
    let made = header(&replaced, "x-request-id").expect("an id");
    assert!(made.len() == 26 && made != "no spaces", "{made}");
    assert!(header(&refused, "x-request-id").is_some(), "the router's own answers carry ids");
    assert!(stack.logs().contains("trace-42"), "the function logged the caller's id");

    // The per-address limit (40 a minute here, in fixed windows) stops requests before
    // any function runs: well over twice the limit finds the refusal in any window.
    let mut limited = None;
    for _ in 0..100 {
        let resp = send(app.request(Method::GET, "/sessions/health")).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(resp);
            break;
        }
    }
    let limited = limited.expect("a request over 40 a minute is refused");
    assert_eq!(header(&limited, "retry-after").as_deref(), Some("60"));
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Each refusal is counted: a JSON metric line of the router's, by function and code.
    let refusals: Vec<(String, String)> = metric_lines(&stack.logs())
        .iter()
        .filter(|l| l["confab_edge_refusals_total"] == 1.0)
        .map(|l| (str_field(l, "function"), str_field(l, "code")))
        .collect();
    for (function, code) in [
        ("none", "not_found"),
        ("chat", "method_not_allowed"),
        ("auth", "payload_too_large"),
        ("session", "rate_limited"),
    ] {
        assert!(refusals.contains(&(function.into(), code.into())), "{function} {code} not in {refusals:?}");
    }
    drop(stack);
}

/// A JSON registration whose body is sent in `chunks`, without a declared length.
fn chunked(app: &TestApp, chunks: impl Iterator<Item = Vec<u8>> + Send + 'static) -> RequestBuilder {
    let stream = stream::iter(chunks.map(Ok::<_, std::io::Error>));
    app.request(Method::POST, "/auth/register")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_and_workers_share_one_data_set() {
    let (lambda, lambda_stack) = spawn_lambda_app(None, &[]).await;
    let (edge, workers) = spawn_worker_app(&lambda_stack.aws, None, &[], HIGH_RATE_LIMIT).await;

    // An account and a session made through Lambda sign in and read through the Workers.
    let ada = lambda.register("ada@example.com").await;
    let session =
        str_field(&lambda.create_session(&ada.access_token, json!({"title": "both ways"})).await, "id");
    let on_edge = edge.login("ada@example.com", PASSWORD).await;
    assert_eq!(on_edge.user()["id"], ada.user()["id"]);
    let read = edge.get_ok(&on_edge.access_token, &format!("/sessions/{session}")).await;
    assert_eq!(read["title"], "both ways");
    assert_eq!(edge.get_ok(&ada.access_token, "/auth/me").await["user"]["email"], "ada@example.com");

    // And back: what the Workers write, Lambda reads, with tokens either side signed.
    let renamed = send(
        edge.bearer(Method::PATCH, &format!("/sessions/{session}"), &on_edge.access_token)
            .json(&json!({"title": "renamed at the edge"})),
    )
    .await;
    assert_json(renamed, StatusCode::OK).await;
    let other =
        str_field(&edge.create_session(&on_edge.access_token, json!({"title": "edge-made"})).await, "id");
    let listed = lambda.get_ok(&ada.access_token, "/sessions").await;
    let titles: Vec<&str> =
        listed["items"].as_array().expect("items").iter().filter_map(|s| s["title"].as_str()).collect();
    assert!(titles.contains(&"renamed at the edge") && titles.contains(&"edge-made"), "{titles:?}");
    let key = edge.create_api_key(&on_edge.access_token, "made at the edge").await;
    assert_eq!(
        lambda.get_ok(&str_field(&key, "key"), &format!("/sessions/{other}")).await["title"],
        "edge-made"
    );
    drop((workers, lambda_stack));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cron_trigger_ends_a_reply_whose_worker_died() {
    let mock = slow_mock().await;
    let aws = AwsStack::create().await;
    let provider = slow_provider(&mock);
    let settings = [("CONFAB_STREAM_FLUSH_MS", "20"), ("CONFAB_STREAM_LEASE_SECONDS", "1")];
    let (app, stack) = spawn_worker_app(&aws, Some(&provider), &settings, HIGH_RATE_LIMIT).await;
    let ada = app.user("ada@example.com").await;
    let (session, message) = reply_under_way(&ada).await;
    drop(stack); // workerd stops mid-reply, as an isolate whose waitUntil ran out does
    let store = aws.store();
    assert_eq!(status_in(&store, &session, &message).await, "streaming", "nobody has read it yet");

    let chat = spawn_scheduled_chat_worker(&aws, Some(&provider), &settings).await;
    tokio::time::sleep(Duration::from_millis(1000)).await; // the lease runs out
    chat.run_cron().await;
    assert_eq!(status_in(&store, &session, &message).await, "interrupted", "{}", chat.logs());
}
