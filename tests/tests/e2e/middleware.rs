//! Cross-cutting behaviour: security headers, request ids, CORS, routing errors,
//! health, OpenAPI and the global per-IP rate limit.

use confab_tests::*;

const CSP: &str = "default-src 'none'; frame-ancestors 'none'";
const ALLOWED: &str = "https://app.example.com";
const ALSO_ALLOWED: &str = "https://admin.example.com";
const DENIED: &str = "https://evil.example.com";

fn assert_security_headers(resp: &Response, ctx: &str) {
    let request_id = header(resp, "x-request-id").unwrap_or_default();
    assert!(!request_id.is_empty(), "[{ctx}] X-Request-Id missing");
    let hsts = header(resp, "strict-transport-security").unwrap_or_default();
    assert!(hsts.starts_with("max-age="), "[{ctx}] HSTS: {hsts:?}");
    let expected = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", CSP),
    ];
    for (name, value) in expected {
        assert_eq!(header(resp, name).as_deref(), Some(value), "[{ctx}] {name}");
    }
}

async fn cors_app() -> TestApp {
    let origins = format!("{ALLOWED},{ALSO_ALLOWED}");
    spawn_app_with(&[("CONFAB_CORS_ORIGINS", &origins)]).await
}

fn preflight(app: &TestApp, origin: &str) -> RequestBuilder {
    app.request(Method::OPTIONS, "/sessions")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-csrf-token")
}

#[tokio::test(flavor = "multi_thread")]
async fn security_headers_on_success_error_and_not_found() {
    let app = spawn_app_with(&[("CONFAB_MAX_BODY_BYTES", "64")]).await;
    let table = [
        ("success", app.request(Method::GET, "/auth/health"), StatusCode::OK, ""),
        ("error", app.request(Method::GET, "/auth/me"), StatusCode::UNAUTHORIZED, "unauthorized"),
        (
            "bad request",
            app.request(Method::POST, "/auth/login").header("content-type", "application/json").body("{"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "too large",
            app.request(Method::POST, "/auth/login")
                .header("content-type", "application/json")
                .body(" ".repeat(100)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "unsupported media type",
            app.request(Method::POST, "/auth/login").header("content-type", "text/plain").body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        ("unknown route", app.request(Method::GET, "/no/such/route"), StatusCode::NOT_FOUND, "not_found"),
        (
            "wrong method",
            app.request(Method::PUT, "/auth/me"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (ctx, req, status, code) in table {
        let resp = send(req).await;
        assert_security_headers(&resp, ctx);
        assert_outcome(resp, status, code, ctx).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_request_ids_are_echoed_and_others_replaced() {
    let app = spawn_app().await;
    let get = |id: Option<String>| {
        let req = app.request(Method::GET, "/auth/health");
        let req = match id {
            Some(id) => req.header("x-request-id", id),
            None => req,
        };
        async move { header(&send(req).await, "x-request-id").expect("x-request-id") }
    };
    let valid = format!("Trace_1.2-{}", "a".repeat(54));
    assert_eq!(valid.len(), 64);
    assert_eq!(get(Some(valid.clone())).await, valid);
    for invalid in ["has space".to_string(), "semi;colon".into(), "b".repeat(65)] {
        let got = get(Some(invalid.clone())).await;
        assert_ne!(got, invalid, "invalid id echoed");
        assert!(!got.is_empty());
    }
    let (a, b) = (get(None).await, get(None).await);
    assert_ne!(a, b, "generated ids are unique");
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_listed_origins() {
    let app = cors_app().await;
    for origin in [ALLOWED, ALSO_ALLOWED] {
        let resp = send(app.request(Method::GET, "/auth/health").header("origin", origin)).await;
        assert_eq!(header(&resp, "access-control-allow-origin").as_deref(), Some(origin));
        assert_eq!(header(&resp, "access-control-allow-credentials").as_deref(), Some("true"));
        let vary = header(&resp, "vary").unwrap_or_default().to_ascii_lowercase();
        assert!(vary.contains("origin"), "Vary: {vary}");
    }
    let resp = send(app.request(Method::GET, "/auth/health").header("origin", DENIED)).await;
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
    assert_eq!(header(&resp, "access-control-allow-credentials"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_preflight_from_allowed_and_denied_origins() {
    let app = cors_app().await;
    let resp = send(preflight(&app, ALLOWED)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_security_headers(&resp, "allowed preflight");
    assert_eq!(header(&resp, "access-control-allow-origin").as_deref(), Some(ALLOWED));
    assert_eq!(header(&resp, "access-control-allow-credentials").as_deref(), Some("true"));
    let methods = header(&resp, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.to_ascii_uppercase().contains("POST"), "Allow-Methods: {methods}");
    let headers = header(&resp, "access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    for h in ["content-type", "x-csrf-token"] {
        assert!(headers.contains(h), "Allow-Headers lacks {h}: {headers}");
    }

    let resp = send(preflight(&app, DENIED)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_security_headers(&resp, "denied preflight");
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_cors_headers_without_configured_origins() {
    let app = spawn_app().await;
    let resp = send(app.request(Method::GET, "/auth/health").header("origin", ALLOWED)).await;
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
    let resp = send(preflight(&app, ALLOWED)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_endpoints_answer_ok() {
    let app = spawn_app().await;
    for (prefix, function) in [("auth", "auth"), ("sessions", "session"), ("admin", "admin")] {
        let resp = send(app.request(Method::GET, &format!("/{prefix}/health"))).await;
        let body = assert_json(resp, StatusCode::OK).await;
        assert_eq!((&body["status"], &body["function"]), (&json!("ok"), &json!(function)));
    }
}

/// `/sessions/{session_id}` → `["sessions", "{}"]`: parameter names are the server's choice.
fn segments(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').map(|seg| if seg.starts_with('{') { "{}" } else { seg }).collect()
}

/// Whether a documented path template covers a route (`/{function}/health` covers
/// `/auth/health`; a route's own parameter only matches a parameter).
fn covers(documented: &str, route: &str) -> bool {
    let (doc, route) = (segments(documented), segments(route));
    doc.len() == route.len() && doc.iter().zip(&route).all(|(d, r)| d == r || *d == "{}")
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_lists_every_route() {
    let app = spawn_app().await;
    let resp = send(app.request(Method::GET, "/openapi.json")).await;
    let doc = assert_json(resp, StatusCode::OK).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths object");
    let routes: [(&str, &[&str]); 17] = [
        ("/auth/register", &["post"]),
        ("/auth/login", &["post"]),
        ("/auth/refresh", &["post"]),
        ("/auth/logout", &["post"]),
        ("/auth/me", &["get"]),
        ("/auth/jwks.json", &["get"]),
        ("/auth/api-keys", &["get", "post"]),
        ("/auth/api-keys/{id}", &["delete"]),
        ("/auth/health", &["get"]),
        ("/sessions", &["get", "post"]),
        ("/sessions/{id}", &["get", "patch", "delete"]),
        ("/sessions/{id}/messages", &["get"]),
        ("/sessions/health", &["get"]),
        ("/admin/users", &["get"]),
        ("/admin/users/{id}", &["patch"]),
        ("/admin/audit", &["get"]),
        ("/admin/health", &["get"]),
    ];
    for (route, methods) in routes {
        for m in methods {
            let documented = paths.iter().any(|(path, item)| covers(path, route) && item.get(m).is_some());
            assert!(documented, "{m} {route} missing; have {:?}", paths.keys());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_rate_limited_per_ip() {
    let app = spawn_app_with(&[("CONFAB_RATE_LIMIT_PER_MINUTE", "5")]).await;
    avoid_minute_edge().await;
    for i in 0..5 {
        let resp = send(app.request(Method::GET, "/auth/jwks.json")).await;
        assert_eq!(resp.status(), StatusCode::OK, "request {i}");
    }
    let resp = send(app.request(Method::GET, "/auth/jwks.json")).await;
    assert_security_headers(&resp, "429");
    let retry = assert_throttled(resp, "rate_limited").await;
    assert!(retry <= 60, "Retry-After {retry}");
    // Health checks stay out of the limiter (they touch no store).
    for path in ["/auth/health", "/chat/health", "/sessions/health", "/admin/health"] {
        assert_eq!(send(app.request(Method::GET, path)).await.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn csrf_is_enforced_on_every_cookie_authenticated_write() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    let token = &admin.access_token;
    let session = str_field(&app.create_session(token, json!({"title": "kept"})).await, "id");
    let key = str_field(&app.create_api_key(token, "kept").await, "id");
    let all = [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE];
    // (method, path, body, status with the header); logout last, as it ends the session.
    let table = [
        (Method::POST, "/auth/api-keys".to_string(), Some(json!({"name": "x"})), StatusCode::CREATED),
        (Method::DELETE, format!("/auth/api-keys/{key}"), None, StatusCode::NO_CONTENT),
        (Method::POST, "/sessions".into(), Some(json!({})), StatusCode::CREATED),
        (Method::PATCH, format!("/sessions/{session}"), Some(json!({"title": "x"})), StatusCode::OK),
        (Method::DELETE, format!("/sessions/{session}"), None, StatusCode::NO_CONTENT),
        (Method::PATCH, format!("/admin/users/{}", user.id), Some(json!({"role": "admin"})), StatusCode::OK),
        (Method::POST, "/auth/refresh".into(), None, StatusCode::OK),
        (Method::POST, "/auth/logout".into(), None, StatusCode::NO_CONTENT),
    ];
    let cookie_request = |method: &Method, path: &str, body: &Option<Value>, csrf: Option<&str>| {
        let req = app.with_cookies(method.clone(), path, &admin.cookies, &all, csrf);
        send(match body {
            Some(b) => req.json(b),
            None => req,
        })
    };
    let state = || async {
        json!([
            app.get_ok(token, "/sessions?limit=100").await,
            app.get_ok(token, "/auth/api-keys").await,
            app.get_ok(token, "/admin/users?limit=100").await,
        ])
    };
    let before = state().await;
    for (method, path, body, _) in &table {
        let resp = cookie_request(method, path, body, None).await;
        assert_error_ctx(resp, StatusCode::FORBIDDEN, "csrf_failed", &format!("{method} {path}")).await;
    }
    assert_eq!(state().await, before, "refused writes changed nothing");
    // The same requests with the header succeed, proving the cookies authenticate them.
    for (method, path, body, status) in &table {
        if path == "/auth/refresh" {
            continue; // rotating here would make the logout below a refresh-token reuse
        }
        let resp = cookie_request(method, path, body, Some(admin.csrf())).await;
        assert_eq!(resp.status(), *status, "{method} {path} with the CSRF header");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_methods_get_405() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let target = format!("/admin/users/{}", admin.id);
    let table = [
        (Method::PUT, "/sessions"),
        (Method::DELETE, "/auth/login"),
        (Method::GET, "/auth/register"),
        (Method::GET, "/auth/refresh"),
        (Method::POST, "/auth/me"),
        (Method::POST, "/auth/jwks.json"),
        (Method::PUT, target.as_str()),
        (Method::POST, "/admin/audit"),
        (Method::DELETE, "/admin/health"),
    ];
    for (method, path) in table {
        let resp = send(app.bearer(method.clone(), path, &admin.access_token)).await;
        let ctx = format!("{method} {path}");
        assert_error_ctx(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", &ctx).await;
    }
}
