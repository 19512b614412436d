//! Cross-cutting behaviour: security headers, request ids, CORS, routing errors,
//! health, OpenAPI and the global per-IP rate limit.

use confab_core::ports::{Condition, Item, Page, Query, StoreError, Write};
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
    for h in ["content-type", "x-csrf-token", "x-api-key", "anthropic-version"] {
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
    let routes: [(&str, &[&str]); 21] = [
        ("/auth/register", &["post"]),
        ("/auth/login", &["post"]),
        ("/auth/refresh", &["post"]),
        ("/auth/logout", &["post"]),
        ("/auth/me", &["get"]),
        ("/auth/jwks.json", &["get"]),
        ("/auth/api-keys", &["get", "post"]),
        ("/auth/api-keys/{id}", &["delete"]),
        ("/auth/mfa/totp/setup", &["post"]),
        ("/auth/mfa/totp/enable", &["post"]),
        ("/auth/mfa/totp/disable", &["post"]),
        ("/auth/mfa/recovery-codes", &["post"]),
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
async fn openapi_operations_have_unique_ids_and_parameters_where_they_are_sent() {
    let app = spawn_app().await;
    let doc = assert_json(send(app.request(Method::GET, "/openapi.json")).await, StatusCode::OK).await;
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let ctx = format!("{method} {path}");
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("[{ctx}] no operationId"));
            assert!(ids.insert(id.to_string()), "[{ctx}] operationId {id} is not unique");
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(
                    parameter["in"] == "path",
                    in_path,
                    "[{ctx}] parameter {name} is {}",
                    parameter["in"]
                );
            }
            let responses = operation["responses"].as_object().expect("responses");
            if operation.get("security").is_some() {
                assert!(responses.contains_key("401") && responses.contains_key("403"), "[{ctx}] 401/403");
            }
            if operation.get("requestBody").is_some() {
                assert!(responses.contains_key("400"), "[{ctx}] 400 undocumented");
            }
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
    // Health checks stay out of the limiter (their one store read is their own).
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
async fn wrong_methods_get_405_with_allow() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let target = format!("/admin/users/{}", admin.id);
    let table = [
        (Method::PUT, "/sessions", "POST, GET, HEAD"),
        (Method::DELETE, "/auth/login", "POST"),
        (Method::GET, "/auth/register", "POST"),
        (Method::HEAD, "/auth/refresh", "POST"),
        (Method::POST, "/auth/me", "GET, HEAD, DELETE"),
        (Method::POST, "/auth/jwks.json", "GET, HEAD"),
        (Method::PUT, target.as_str(), "PATCH, DELETE"),
        (Method::POST, "/admin/audit", "GET, HEAD"),
        (Method::DELETE, "/admin/health", "GET, HEAD"),
        (Method::TRACE, "/admin/models", "GET, HEAD, PUT"),
    ];
    for (method, path, allow) in table {
        let resp = send(app.bearer(method.clone(), path, &admin.access_token)).await;
        let ctx = format!("{method} {path}");
        assert_eq!(header(&resp, "allow").as_deref(), Some(allow), "[{ctx}]");
        if method != Method::HEAD {
            assert_error_ctx(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", &ctx).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn head_answers_every_get_route_like_get_without_a_body() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let session = app.create_session(&admin.access_token, json!({})).await;
    let paths = [
        "/openapi.json".to_string(),
        "/auth/health".into(),
        "/auth/me".into(),
        "/auth/jwks.json".into(),
        "/auth/api-keys".into(),
        "/sessions".into(),
        format!("/sessions/{}", session["id"].as_str().unwrap()),
        format!("/sessions/{}/messages", session["id"].as_str().unwrap()),
        "/v1/models".into(),
        "/admin/users".into(),
        "/admin/models".into(),
        "/no/such/route".into(),
    ];
    for path in paths {
        let get = send(app.bearer(Method::GET, &path, &admin.access_token)).await;
        let head = send(app.bearer(Method::HEAD, &path, &admin.access_token)).await;
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        for name in ["content-type", "cache-control", "x-content-type-options"] {
            assert_eq!(header(&head, name), header(&get, name), "HEAD {path}: {name}");
        }
        let length = get.bytes().await.unwrap().len().to_string();
        assert_eq!(header(&head, "content-length"), Some(length), "HEAD {path}: content-length");
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} has a body");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn private_answers_are_no_store_and_public_ones_cacheable() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let private = ["/auth/me", "/auth/api-keys", "/sessions", "/admin/users", "/admin/audit", "/v1/models"];
    for path in private.into_iter().chain(["/sessions/nope", "/auth/nothing"]) {
        let resp = send(app.bearer(Method::GET, path, &admin.access_token)).await;
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"), "{path}");
    }
    for path in ["/auth/jwks.json", "/openapi.json"] {
        let resp = send(app.request(Method::GET, path)).await;
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("public, max-age=300"), "{path}");
    }
}

/// A small tmpfs, unmounted when dropped; `None` where this machine does not allow
/// mounting one (not root, no mount namespace).
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("a mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs(dir))
    }

    fn path(&self) -> &std::path::Path {
        self.0.path()
    }

    /// Writes a file until the disk refuses more.
    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path().join("filler")).expect("create filler");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).and_then(|()| file.sync_all()).is_ok() {}
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_data_dir_still_serves_reads_but_not_credentials() {
    let Some(disk) = Tmpfs::mount("16m") else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let data_dir = disk.path().join("data");
    let app = spawn_app_with(&[("CONFAB_DATA_DIR", data_dir.to_str().unwrap())]).await;
    let user = app.register("ada@example.com").await;
    app.create_session(&user.access_token, json!({"title": "before"})).await;
    disk.fill();
    // Every request counts toward the per-IP limit; a store that cannot count lets it
    // through rather than refusing everyone.
    let sessions =
        assert_json(send(app.bearer(Method::GET, "/sessions", &user.access_token)).await, StatusCode::OK)
            .await;
    assert_eq!(sessions["items"][0]["title"], "before");
    assert_json(send(app.bearer(Method::GET, "/auth/me", &user.access_token)).await, StatusCode::OK).await;
    assert_json(send(app.request(Method::GET, "/auth/health")).await, StatusCode::OK).await;
    // Credential throttles stay closed: no uncounted password guessing.
    let login = app.login_raw(&user.email, &user.password).await;
    assert_error(login, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    let register = app.register_raw("bob@example.com", PASSWORD).await;
    assert_error(register, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
}

/// A store that cannot be reached: every call fails as a down DynamoDB's would.
struct Unreachable;

#[async_trait::async_trait]
impl confab_core::ports::Store for Unreachable {
    async fn get(&self, _: &str, _: &str) -> Result<Option<Item>, StoreError> {
        Err(down())
    }
    async fn put(&self, _: Item, _: Condition) -> Result<u64, StoreError> {
        Err(down())
    }
    async fn delete(&self, _: &str, _: &str, _: Condition) -> Result<(), StoreError> {
        Err(down())
    }
    async fn query(&self, _: Query) -> Result<Page, StoreError> {
        Err(down())
    }
    async fn add(&self, _: &str, _: &str, _: &[(&str, i64)], _: Option<i64>) -> Result<Item, StoreError> {
        Err(down())
    }
    async fn transact(&self, _: Vec<Write>) -> Result<(), StoreError> {
        Err(down())
    }
    async fn scan(&self, _: Option<String>, _: u32) -> Result<Page, StoreError> {
        Err(down())
    }
    async fn restore(&self, _: Item) -> Result<bool, StoreError> {
        Err(down())
    }
}

fn down() -> StoreError {
    StoreError::Unavailable("injected: connection refused".into())
}

/// The core on the store above (the other ports real), requests served in-process.
fn app_on_unreachable_store(dir: &std::path::Path) -> std::sync::Arc<confab_core::App> {
    use confab_native::{OsRandom, ReqwestClient, SystemClock, TokioSpawner};
    use std::sync::Arc;
    let secrets = confab_embedded::LocalSecrets::open(&dir.join("secrets.json"), || {
        confab_core::auth::keys::initial_secrets(&OsRandom, &SystemClock)
    })
    .expect("key file");
    let ports = confab_core::Ports {
        store: Arc::new(Unreachable),
        blobs: Arc::new(confab_embedded::LocalBlobs::open(dir.join("blobs")).expect("blobs")),
        secrets: Arc::new(secrets),
        clock: Arc::new(SystemClock),
        random: Arc::new(OsRandom),
        http: Arc::new(ReqwestClient::new(std::time::Duration::from_secs(1)).expect("http client")),
        spawner: Arc::new(TokioSpawner),
    };
    let config = confab_core::Config::from_settings(&Default::default()).expect("default config");
    Arc::new(confab_core::App::new(ports, config))
}

async fn status_on(app: &std::sync::Arc<confab_core::App>, method: Method, path: &str, body: &str) -> u16 {
    let mut req = confab_core::http::Request::new(bytes::Bytes::from(body.to_string()));
    *req.method_mut() = method;
    *req.uri_mut() = path.parse().unwrap();
    req.headers_mut().insert("content-type", "application/json".parse().unwrap());
    req.extensions_mut().insert(confab_core::http::ClientIp([127, 0, 0, 1].into()));
    let function = confab_core::Function::for_path(path).unwrap();
    confab_core::serve(app, function, req).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_store_fails_health_opens_the_ip_limit_and_closes_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_on_unreachable_store(dir.path());
    for path in ["/auth/health", "/chat/health", "/sessions/health", "/admin/health"] {
        assert_eq!(status_on(&app, Method::GET, path, "").await, 503, "{path}");
    }
    // Past the per-IP limit (which cannot count) to authentication, which finds no
    // credentials.
    assert_eq!(status_on(&app, Method::GET, "/sessions", "").await, 401);
    assert_eq!(status_on(&app, Method::GET, "/openapi.json", "").await, 200);
    let credentials = r#"{"email":"ada@example.com","password":"correct horse battery"}"#;
    for path in ["/auth/login", "/auth/register"] {
        assert_eq!(status_on(&app, Method::POST, path, credentials).await, 503, "{path}");
    }
}

/// What the server answers to `raw` bytes, as text.
async fn raw_exchange(app: &TestApp, raw: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base_url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(raw).await.expect("send");
    let mut answer = Vec::new();
    let read = conn.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(5), read).await.expect("an answer").expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_hyper_refuses_itself_get_the_security_headers_too() {
    let app = spawn_app().await;
    let malformed: [&[u8]; 4] = [
        b"GET /auth/he alth HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /auth/health HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
        b"GET /auth/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET /auth/health HTTP/9.1\r\nHost: x\r\n\r\n",
    ];
    for raw in malformed {
        let answer = raw_exchange(&app, raw).await;
        let ctx = String::from_utf8_lossy(raw);
        assert!(answer.starts_with("HTTP/1.1 400 "), "[{ctx}] {answer}");
        let head = answer.to_ascii_lowercase();
        for expected in
            ["x-content-type-options: nosniff", "x-frame-options: deny", "content-security-policy: "]
        {
            assert!(head.contains(expected), "[{ctx}] no {expected}: {answer}");
        }
    }
    // Well-formed requests on the same kind of connection are untouched.
    let answer =
        raw_exchange(&app, b"GET /auth/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 ") && answer.matches("nosniff").count() == 1, "{answer}");
}

/// The local server holds at most `CONFAB_MAX_BODIES_IN_MEMORY_BYTES` of request bodies
/// at once, and one client at most a quarter of that: it reads a body before anyone
/// knows who sent it, so a body that would not fit is not read and is answered 503, to
/// be retried. (Every client here is 127.0.0.1; the room of all clients together is
/// checked in `bodies.rs`'s unit test.)
#[tokio::test(flavor = "multi_thread")]
async fn request_bodies_held_at_once_are_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(&[("CONFAB_MAX_BODIES_IN_MEMORY_BYTES", "8000000")]).await;
    let post = |size: usize| {
        app.client
            .post(format!("{}/auth/login", app.base_url))
            .header("content-type", "application/json")
            .body(vec![b' '; size])
            .send()
    };
    // An upload of 2 MB announced and sent slowly holds this client's share (2 MB of
    // 8) meanwhile (to a session that does not exist: its body is read all the same).
    let addr = app.base_url.trim_start_matches("http://");
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = "POST /sessions/x/attachments?filename=a.txt HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
                Content-Length: 2000000\r\nConnection: close\r\n\r\n";
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&[b'a'; 1000]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let refused = post(1_000_000).await.unwrap();
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    let health = app.client.get(format!("{}/auth/health", app.base_url)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "a request without a body needs no room");

    slow.write_all(&vec![b'a'; 1_999_000]).await.unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 404 "), "read whole, then answered: {answer}");
    assert_ne!(post(1_000_000).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE, "room again");
}

/// A body must arrive within 10 s and a second for each 32 KiB: one sent too slowly is
/// answered 408 and its room given back.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_sent_too_slowly_is_answered_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let addr = app.base_url.trim_start_matches("http://");
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\nConnection: close\r\n\r\n{\"email\":";
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = String::new();
    let read = slow.read_to_string(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(30), read).await.expect("an answer").unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(9), "not before the deadline");
}
