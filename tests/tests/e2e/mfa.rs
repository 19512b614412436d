//! TOTP MFA over HTTP, with codes computed in the test from the system clock (the local
//! server's clock): setup, enable, login with a code or a recovery code, replay and
//! skew, new recovery codes, disable, the lockout, and API keys kept out.

use confab_tests::totp::{MARGIN, STEP, code_at, settled_now};
use confab_tests::*;

async fn login_with(app: &TestApp, factor: Value) -> Response {
    let mut body = json!({"email": "mfa@example.com", "password": PASSWORD});
    body.as_object_mut().unwrap().extend(factor.as_object().unwrap().clone());
    app.post_json("/auth/login", &body).await
}

async fn refused(resp: Response, ctx: &str) {
    assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "mfa_invalid", ctx).await;
}

async fn mfa_enabled(user: &TestUser<'_>) -> bool {
    user.get("/auth/me").await.good().await["user"]["mfa_enabled"].as_bool().expect("mfa_enabled")
}

#[tokio::test(flavor = "multi_thread")]
async fn totp_mfa_from_setup_to_disable() {
    let app = spawn_app().await;
    let user = app.user("mfa@example.com").await;
    assert!(!mfa_enabled(&user).await);
    let resp = user.post("/auth/mfa/totp/enable", &json!({"code": "123456"})).await;
    assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    let resp = user.post("/auth/mfa/totp/setup", &json!({"password": "wrong password!"})).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    let secret = user.setup_mfa().await;
    let resp = user.post("/auth/mfa/totp/enable", &json!({"code": "12345"})).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let now = settled_now(MARGIN).await;
    let two_steps_old = code_at(&secret, now - 2 * STEP);
    refused(user.post("/auth/mfa/totp/enable", &json!({"code": two_steps_old})).await, "two steps old").await;
    // The previous step's code is accepted (clock skew), once.
    let previous = code_at(&secret, now - STEP);
    let body = user.post("/auth/mfa/totp/enable", &json!({"code": previous})).await.good().await;
    let recovery: Vec<String> = serde_json::from_value(body["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    assert!(mfa_enabled(&user).await);
    refused(login_with(&app, json!({"totp": previous})).await, "the enabling code again").await;

    let resp = login_with(&app, json!({})).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "mfa_required").await;
    let now = settled_now(MARGIN).await;
    let current = code_at(&secret, now);
    let logged_in = login_with(&app, json!({"totp": current})).await.good().await;
    assert_eq!(logged_in["user"]["mfa_enabled"], true);
    refused(login_with(&app, json!({"totp": current})).await, "replay").await;

    login_with(&app, json!({"recovery_code": recovery[0]})).await.good().await;
    refused(login_with(&app, json!({"recovery_code": recovery[0]})).await, "recovery code twice").await;

    let resp = user.post("/auth/mfa/totp/setup", &json!({"password": PASSWORD})).await;
    assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    let now = settled_now(MARGIN).await;
    let body = json!({"password": PASSWORD, "code": code_at(&secret, now + STEP)});
    let body = user.post("/auth/mfa/recovery-codes", &body).await.good().await;
    let renewed: Vec<String> = serde_json::from_value(body["recovery_codes"].clone()).unwrap();
    assert_eq!(renewed.len(), 10);
    refused(login_with(&app, json!({"recovery_code": recovery[1]})).await, "an old recovery code").await;
    login_with(&app, json!({"recovery_code": renewed[0].to_uppercase()})).await.good().await;

    let body = json!({"password": "wrong password!", "recovery_code": renewed[1]});
    let resp = user.post("/auth/mfa/totp/disable", &body).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let resp = user.post("/auth/mfa/totp/disable", &json!({"password": PASSWORD})).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "mfa_required").await;
    let body = json!({"password": PASSWORD, "recovery_code": renewed[1]});
    assert_eq!(user.post("/auth/mfa/totp/disable", &body).await.status(), StatusCode::NO_CONTENT);
    assert!(!mfa_enabled(&user).await);
    app.login("mfa@example.com", PASSWORD).await;

    let actions = app.audit_actions(&user, &user.id).await;
    for action in ["auth.mfa_setup", "auth.mfa_enabled", "auth.mfa_recovery_codes", "auth.mfa_disabled"] {
        assert!(actions.iter().any(|a| a == action), "{action} audited: {actions:?}");
    }
    let failed = actions.iter().filter(|a| *a == "auth.mfa_failed").count();
    assert!(failed >= 2, "refused MFA changes audited: {actions:?}");
    assert!(actions.iter().filter(|a| *a == "auth.login_failed").count() >= 4, "{actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_with_a_totp_code() {
    let app = spawn_app().await;
    let user = app.user("mfa@example.com").await;
    let (secret, _) = user.enable_mfa().await;
    let now = settled_now(MARGIN).await;
    let body = json!({"password": PASSWORD, "code": code_at(&secret, now + STEP)});
    assert_eq!(user.post("/auth/mfa/totp/disable", &body).await.status(), StatusCode::NO_CONTENT);
    let resp = user.post("/auth/mfa/totp/disable", &body).await;
    assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    app.login("mfa@example.com", PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_mfa_codes_count_toward_the_lockout() {
    let app = spawn_app_with(&[("CONFAB_LOGIN_MAX_FAILURES", "3")]).await;
    let user = app.user("mfa@example.com").await;
    let (secret, _) = user.enable_mfa().await;
    let now = settled_now(MARGIN).await;
    let right = code_at(&secret, now + STEP);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    for attempt in 0..3 {
        refused(login_with(&app, json!({"totp": wrong})).await, &format!("wrong code {attempt}")).await;
    }
    assert_throttled(login_with(&app, json!({"totp": right})).await, "account_locked").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_cannot_manage_mfa() {
    let app = spawn_app().await;
    let user = app.user("mfa@example.com").await;
    let key = str_field(&app.create_api_key(user.token(), "ci").await, "key");
    let attempts = [
        ("/auth/mfa/totp/setup", json!({"password": PASSWORD})),
        ("/auth/mfa/totp/enable", json!({"code": "123456"})),
        ("/auth/mfa/totp/disable", json!({"password": PASSWORD, "code": "123456"})),
        ("/auth/mfa/recovery-codes", json!({"password": PASSWORD, "code": "123456"})),
    ];
    for (path, body) in attempts {
        let resp = send(app.bearer(Method::POST, path, &key).json(&body)).await;
        assert_error_ctx(resp, StatusCode::FORBIDDEN, "insufficient_scope", path).await;
    }
}
