//! The end-to-end scenario through real Lambda binaries under `cargo lambda watch`, on
//! DynamoDB, S3 and Secrets Manager (moto), chatting with the mock provider: what a user
//! does, what a stranger and bad input get, signing in with an identity provider,
//! signing-key rotation, and the scheduled lease sweep.

use crate::leases::{reply_under_way, slow_mock, slow_provider, status_in};
use confab_tests::lambda::spawn_lambda_app;
use confab_tests::oidc::{RealProvider, accounts, provider_settings, sign_in_across};
use confab_tests::scenario::{
    PUBLIC_URL, attachment, branches, mfa_sign_in, mock, openai, provider_faults, research,
    strangers_and_bad_input, user_scenario,
};
use confab_tests::web::TestWeb;
use confab_tests::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_scenario_runs_on_lambda() {
    let mock = mock().await;
    let web = TestWeb::start().await;
    let settings = web.settings(&[("CONFAB_STREAM_FLUSH_MS", "20"), ("CONFAB_PUBLIC_URL", PUBLIC_URL)]);
    let (app, stack) = spawn_lambda_app(Some(&openai(&mock)), &settings).await;
    user_scenario(&app, &mock, &stack.aws.bucket).await;
    mfa_sign_in(&app).await;
    branches(&app, &mock).await;
    attachment(&app, &mock).await;
    research(&app, &mock, &web).await;
    provider_faults(&app, &mock).await;
    // Each instance counts only its own requests: its EMF lines are the metrics.
    let lines = assert_chat_metrics_logged(&stack.function_logs());
    let emf = &lines[0]["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(emf["Namespace"], "confab", "{emf}");
    drop(stack);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_provider_signs_people_in_on_lambda() {
    let provider = RealProvider::start("corp", accounts());
    let settings = provider_settings("corp", &provider.issuer, &provider.client_secret);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (app, stack) = spawn_lambda_app(None, &settings).await;
    sign_in_across(&app).await;
    drop(stack);
}

#[tokio::test(flavor = "multi_thread")]
async fn strangers_and_bad_input_are_refused_on_lambda() {
    let (app, stack) = spawn_lambda_app(None, &[("CONFAB_MAX_BODY_BYTES", "4096")]).await;
    strangers_and_bad_input(&app).await;
    drop(stack);
}

/// The key id in an access token's header.
fn kid(token: &str) -> String {
    use base64::Engine;
    let header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
    str_field(&serde_json::from_slice(&header).unwrap(), "kid")
}

fn run_ok(output: std::process::Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "confab-keys failed: {stdout}{stderr}");
    stdout.into_owned()
}

/// Whether `token` is accepted by every function.
async fn accepted_everywhere(app: &TestApp, token: &str) -> bool {
    for path in ["/auth/me", "/sessions", "/v1/models", "/admin/users"] {
        let status = send(app.bearer(Method::GET, path, token)).await.status();
        // The admin function answers a valid non-admin token with 403, an invalid one with 401.
        if status == StatusCode::UNAUTHORIZED {
            return false;
        }
    }
    true
}

/// Polls `check` for up to 15 s; the caches under test expire every second.
async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut check: F) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "not within 15 s: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_signing_keys_are_picked_up_and_old_tokens_verify_until_retired() {
    let caches = [("CONFAB_KEY_CACHE_SECONDS", "1"), ("CONFAB_SECRETS_CACHE_SECONDS", "1")];
    let (app, stack) = spawn_lambda_app(None, &caches).await;
    app.register("ada@example.com").await;
    let first = app.login("ada@example.com", PASSWORD).await.access_token;
    assert!(run_ok(stack.keys_tool(&["init"])).contains("already exist"), "init never replaces keys");

    // Rotating again within a token lifetime needs --force: it would retire live tokens' key.
    let early = stack.keys_tool(&["rotate"]);
    assert!(!early.status.success() && String::from_utf8_lossy(&early.stderr).contains("--force"));
    run_ok(stack.keys_tool(&["rotate", "--force", "--propagation-seconds", "2"]));

    let mut second = String::new();
    eventually("logins sign with the new key", async || {
        second = app.login("ada@example.com", PASSWORD).await.access_token;
        kid(&second) != kid(&first)
    })
    .await;
    assert!(accepted_everywhere(&app, &second).await, "the new key verifies on every function at once");
    assert!(accepted_everywhere(&app, &first).await, "tokens of the previous key keep working");
    let jwks = app.get_ok(&second, "/auth/jwks.json").await;
    let kids: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, [kid(&second), kid(&first)]);
    let signing: Value = serde_json::from_str(&stack.aws.secret("confab-signing-keys").await).unwrap();
    assert_eq!(signing["keys"].as_array().unwrap().len(), 1, "old private keys are not kept");

    // The next rotation retires the first key: its tokens stop, the second key's still work.
    run_ok(stack.keys_tool(&["rotate", "--force", "--propagation-seconds", "2"]));
    eventually("the retired key's tokens are refused", async || !accepted_everywhere(&app, &first).await)
        .await;
    assert!(accepted_everywhere(&app, &second).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_events_get_their_answers_through_cargo_lambda_invoke() {
    let (_app, stack) = spawn_lambda_app(None, &[]).await;
    let answer = |function: &str, event: &str| {
        let raw = stack.invoke(function, event);
        let body: Value = serde_json::from_str(raw["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        (raw["statusCode"].as_u64().unwrap_or(0), raw["cookies"].as_array().map_or(0, Vec::len), body)
    };
    let (status, cookies, body) = answer("auth", "auth-register.json");
    assert_eq!((status, cookies), (201, 3), "three Set-Cookie values survive: {body}");
    assert_eq!(answer("auth", "auth-login-base64.json").0, 200);
    let (status, _, body) = answer("auth", "auth-register-malformed.json");
    assert_eq!((status, &body["error"]["code"]), (400, &json!("invalid_request")));
    let (status, _, body) = answer("auth", "auth-oidc-providers.json");
    assert_eq!((status, body), (200, json!({"items": []})));
    let (status, _, body) = answer("auth", "auth-password-reset-invalid.json");
    assert_eq!((status, &body["error"]["code"]), (400, &json!("invalid_reset_token")));
    let (status, _, body) = answer("auth", "auth-mfa-setup-anonymous.json");
    assert_eq!((status, &body["error"]["code"]), (401, &json!("unauthorized")));
    let (status, _, body) = answer("session", "sessions-list-anonymous.json");
    assert_eq!((status, &body["error"]["code"]), (401, &json!("unauthorized")));
    let (status, _, body) = answer("session", "attachments-upload-anonymous.json");
    assert_eq!((status, &body["error"]["code"]), (401, &json!("unauthorized")));
    let (status, _, body) = answer("session", "shared-unknown-link.json");
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    assert_eq!(answer("admin", "admin-health-http-api.json").0, 200);
    // A streaming function's invocation answers with the body alone.
    assert_eq!(stack.invoke("chat", "chat-health.json"), json!({"function": "chat", "status": "ok"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_sweep_ends_a_reply_whose_chat_function_was_killed() {
    let mock = slow_mock().await;
    let settings = [("CONFAB_STREAM_FLUSH_MS", "20"), ("CONFAB_STREAM_LEASE_SECONDS", "1")];
    let (app, mut stack) = spawn_lambda_app(Some(&slow_provider(&mock)), &settings).await;
    let ada = app.user("ada@example.com").await;
    let (session, message) = reply_under_way(&ada).await;
    stack.kill("chat");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let store = stack.aws.store();
    assert_eq!(status_in(&store, &session, &message).await, "streaming", "nobody has read it yet");

    // What EventBridge sends every minute (infra/template.yaml).
    assert_eq!(
        stack.invoke("sweep", "sweep-schedule.json"),
        json!({"expired": 1, "accounts_deleted": 0}),
        "{}",
        stack.function_logs()
    );
    assert_eq!(status_in(&store, &session, &message).await, "interrupted");
    assert_eq!(
        stack.invoke("sweep", "sweep-schedule.json"),
        json!({"expired": 0, "accounts_deleted": 0}),
        "its lease went with it"
    );
}
