//! The sample events in `events/`, through the Lambda adapter and the core: what
//! `cargo lambda invoke` sends, minus the runtime.

use confab_core::{App, Config, Function};
use lambda_http::request::LambdaRequest;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

async fn app(dir: &tempfile::TempDir) -> Arc<App> {
    let settings = BTreeMap::from([("CONFAB_DATA_DIR".to_string(), dir.path().display().to_string())]);
    let config = Config::from_settings(&settings).unwrap();
    let ports = confab_lambda::ports(&settings, &config).await.expect("embedded ports");
    Arc::new(App::new(ports, config))
}

fn event(name: &str) -> lambda_http::Request {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let parsed: LambdaRequest = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    lambda_http::Request::from(parsed)
}

async fn invoke(app: &Arc<App>, function: Function, name: &str) -> (u16, Vec<String>, Value) {
    let resp = confab_lambda::respond(app, function, event(name)).await.expect("a response");
    let cookies =
        resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let body = serde_json::from_slice(resp.body().as_ref()).unwrap_or(Value::Null);
    (resp.status().as_u16(), cookies, body)
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_answer() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;

    let (status, cookies, body) = invoke(&app, Function::Auth, "auth-register.json").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(cookies.len(), 3, "access, refresh and CSRF cookies all survive: {cookies:?}");
    assert_eq!(body["user"]["email"], "lambda@example.com");

    let (status, cookies, body) = invoke(&app, Function::Auth, "auth-login-base64.json").await;
    assert_eq!((status, cookies.len()), (200, 3), "{body}");

    let (status, _, body) = invoke(&app, Function::Auth, "auth-register-malformed.json").await;
    assert_eq!((status, &body["error"]["code"]), (400, &Value::from("invalid_request")));

    let (status, _, body) = invoke(&app, Function::Auth, "auth-oidc-providers.json").await;
    assert_eq!((status, body), (200, serde_json::json!({"items": []})));

    let (status, _, body) = invoke(&app, Function::Auth, "auth-password-reset-invalid.json").await;
    assert_eq!((status, &body["error"]["code"]), (400, &Value::from("invalid_reset_token")));

    let (status, _, body) = invoke(&app, Function::Auth, "auth-mfa-setup-anonymous.json").await;
    assert_eq!((status, &body["error"]["code"]), (401, &Value::from("unauthorized")));

    let (status, _, body) = invoke(&app, Function::Session, "sessions-list-anonymous.json").await;
    assert_eq!((status, &body["error"]["code"]), (401, &Value::from("unauthorized")));

    let (status, _, body) = invoke(&app, Function::Session, "attachments-upload-anonymous.json").await;
    assert_eq!((status, &body["error"]["code"]), (401, &Value::from("unauthorized")));

    let (status, _, body) = invoke(&app, Function::Session, "shared-unknown-link.json").await;
    assert_eq!((status, &body["error"]["code"]), (404, &Value::from("not_found")));

    let (status, _, body) = invoke(&app, Function::Chat, "chat-health.json").await;
    assert_eq!((status, &body["function"]), (200, &Value::from("chat")));

    let (status, _, body) = invoke(&app, Function::Chat, "chat-messages-bad-key.json").await;
    assert_eq!((status, &body["error"]["type"]), (401, &Value::from("authentication_error")), "{body}");

    let (status, _, body) = invoke(&app, Function::Admin, "admin-health-http-api.json").await;
    assert_eq!((status, &body["function"]), (200, &Value::from("admin")));
}

#[tokio::test]
async fn the_client_address_comes_from_the_request_context() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    invoke(&app, Function::Auth, "auth-register.json").await;
    let filter = confab_core::repo::audit::AuditFilter { user_id: None, action: None, from: None, to: None };
    let (entries, _) = confab_core::repo::audit::list(&app, filter, 10, None).await.unwrap();
    assert_eq!(entries[0].action, "auth.register");
    assert_eq!(entries[0].ip, "203.0.113.7");
}

#[tokio::test]
async fn behind_cloudfront_the_client_address_is_the_viewer_address() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    for (viewer, expected) in [("198.51.100.10:46532", "198.51.100.10"), ("2001:db8::7:443", "2001:db8::7")] {
        // A login for an unknown account: refused, and audited with the caller's address.
        let mut login = event("auth-login-base64.json");
        login.headers_mut().insert("cloudfront-viewer-address", viewer.parse().unwrap());
        let resp = confab_lambda::respond(&app, Function::Auth, login).await.expect("a response");
        assert_eq!(resp.status(), 401);
        let filter =
            confab_core::repo::audit::AuditFilter { user_id: None, action: None, from: None, to: None };
        let (entries, _) = confab_core::repo::audit::list(&app, filter, 1, None).await.unwrap();
        assert_eq!(
            (entries[0].action.as_str(), entries[0].ip.as_str()),
            ("auth.login_failed", expected),
            "{viewer}"
        );
    }
}
