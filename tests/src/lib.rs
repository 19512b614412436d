//! Shared harness for confab's HTTP integration tests.
//!
//! Every test starts its own server with [`spawn_app`] / [`spawn_app_with`]: the real
//! `confab_local::start` on `127.0.0.1:0` with a fresh temporary data directory, kept
//! alive by the returned [`TestApp`]. The helpers below are the only way the tests talk
//! to the server, so that each request shape is written once.

pub mod files;
pub mod lambda;
pub mod mock;
pub mod oidc;
pub mod process;
pub mod python;
pub mod scenario;
pub mod sse;
pub mod totp;
pub mod user;
pub mod web;
pub mod webapp;
pub mod workers;

pub use user::{Call, Expect, TestUser};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
pub use reqwest::{Method, RequestBuilder, Response, StatusCode};
pub use serde_json::{Value, json};

/// A password that passes validation; every test user has it unless a test says otherwise.
pub const PASSWORD: &str = "correct horse battery staple";
pub const ISSUER: &str = "confab";
pub const AUDIENCE: &str = "confab-api";
pub const ACCESS_COOKIE: &str = "confab_access";
pub const REFRESH_COOKIE: &str = "confab_refresh";
pub const CSRF_COOKIE: &str = "confab_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A well-formed ULID that names nothing.
pub const UNKNOWN_ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/// Limits high enough that no ordinary test trips them; tests of the limits override them.
pub(crate) const HIGH_LIMITS: &[(&str, &str)] = &[
    ("CONFAB_RATE_LIMIT_PER_MINUTE", "100000"),
    ("CONFAB_LOGIN_MAX_PER_MINUTE", "100000"),
    ("CONFAB_LOGIN_MAX_FAILURES", "100000"),
];

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    /// Under `cargo lambda watch` each function has its own URL prefix.
    lambda_urls: bool,
    data_dir: tempfile::TempDir,
    _server: Option<confab_local::Server>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts a server with the default test settings overridden by `overrides`.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let data_dir = tempfile::tempdir().expect("create temp data dir");
    let mut env: BTreeMap<String, String> =
        HIGH_LIMITS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.insert("CONFAB_LISTEN".into(), "127.0.0.1:0".into());
    env.insert("CONFAB_DATA_DIR".into(), data_dir.path().display().to_string());
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    let server = confab_local::start(env).await.unwrap_or_else(|e| panic!("server failed to start: {e:?}"));
    TestApp {
        base_url: format!("http://{}", server.addr()),
        client: http_client(),
        lambda_urls: false,
        data_dir,
        _server: Some(server),
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("build http client")
}

/// One cookie from a `Set-Cookie` header: its value and its raw attributes.
#[derive(Clone, Debug)]
pub struct SetCookie {
    pub value: String,
    pub attributes: Vec<String>,
}

impl SetCookie {
    /// Whether a flag attribute (`HttpOnly`, `Secure`) is present.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(flag))
    }

    /// The value of a `Key=Value` attribute (`Path`, `Max-Age`, `SameSite`).
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find_map(|a| {
            let (k, v) = a.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then_some(v.trim())
        })
    }
}

/// The cookies a response set, by name.
#[derive(Clone, Debug, Default)]
pub struct Cookies(pub BTreeMap<String, SetCookie>);

impl Cookies {
    pub fn from_response(resp: &Response) -> Self {
        let mut map = BTreeMap::new();
        for raw in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let raw = raw.to_str().expect("Set-Cookie is ASCII");
            let mut parts = raw.split(';').map(str::trim);
            let (name, value) = parts
                .next()
                .and_then(|nv| nv.split_once('='))
                .unwrap_or_else(|| panic!("malformed Set-Cookie: {raw}"));
            let cookie = SetCookie {
                value: value.to_string(),
                attributes: parts.filter(|p| !p.is_empty()).map(String::from).collect(),
            };
            map.insert(name.to_string(), cookie);
        }
        Cookies(map)
    }

    pub fn get(&self, name: &str) -> &SetCookie {
        self.0.get(name).unwrap_or_else(|| panic!("cookie {name} was not set; got {:?}", self.0.keys()))
    }

    pub fn value(&self, name: &str) -> &str {
        &self.get(name).value
    }

    /// Later cookies replace earlier ones of the same name (as a browser would).
    pub fn merge(&mut self, newer: Cookies) {
        self.0.extend(newer.0);
    }

    /// A `Cookie` request header carrying the named cookies.
    pub fn header(&self, names: &[&str]) -> String {
        names.iter().map(|n| format!("{n}={}", self.value(n))).collect::<Vec<_>>().join("; ")
    }
}

/// A logged-in user: what register or login returned.
#[derive(Clone, Debug)]
pub struct Registered {
    pub id: String,
    pub email: String,
    pub password: String,
    pub body: Value,
    pub access_token: String,
    pub cookies: Cookies,
}

impl Registered {
    fn from_body(email: &str, password: &str, body: Value, cookies: Cookies) -> Self {
        Registered {
            id: str_field(&body["user"], "id"),
            email: email.to_string(),
            password: password.to_string(),
            access_token: str_field(&body, "access_token"),
            body,
            cookies,
        }
    }

    pub fn csrf(&self) -> &str {
        self.cookies.value(CSRF_COOKIE)
    }

    /// The login (refresh family) their access token belongs to.
    pub fn login_id(&self) -> String {
        str_field(&peek_claims(&self.access_token), "sid")
    }

    pub fn user(&self) -> &Value {
        &self.body["user"]
    }
}

impl TestApp {
    /// The functions behind `cargo lambda watch` at `base_url`.
    pub fn for_lambda_urls(base_url: &str) -> TestApp {
        TestApp::remote(base_url, true)
    }

    /// Every function behind one URL (the edge router under `wrangler dev`).
    pub fn at(base_url: &str) -> TestApp {
        TestApp::remote(base_url, false)
    }

    fn remote(base_url: &str, lambda_urls: bool) -> TestApp {
        let data_dir = tempfile::tempdir().expect("create temp dir");
        TestApp { base_url: base_url.into(), client: http_client(), lambda_urls, data_dir, _server: None }
    }

    /// Where `path` is served: as is locally; under `cargo lambda watch` behind the
    /// function URL of the function the CDN would route it to.
    pub fn url(&self, path: &str) -> String {
        match confab_core::Function::for_path(path) {
            Some(function) if self.lambda_urls => {
                format!("{}/lambda-url/confab-{}{path}", self.base_url, function.name())
            }
            _ => format!("{}{path}", self.base_url),
        }
    }

    /// Waits until every function answers its health check (its processes or Workers
    /// are up), failing with `logs()` after `within`.
    pub(crate) async fn wait_healthy(&self, within: Duration, logs: impl Fn() -> String) {
        let every_function = ["/auth/health", "/chat/health", "/sessions/health", "/admin/health"];
        self.wait_healthy_at(&every_function, within, logs).await
    }

    /// Waits until each of `paths` answers with success.
    pub(crate) async fn wait_healthy_at(&self, paths: &[&str], within: Duration, logs: impl Fn() -> String) {
        let deadline = Instant::now() + within;
        for &path in paths {
            loop {
                let answer = self.client.get(self.url(path)).timeout(Duration::from_secs(5)).send().await;
                if answer.is_ok_and(|r| r.status().is_success()) {
                    break;
                }
                assert!(Instant::now() < deadline, "{path} not healthy within {within:?}:\n{}", logs());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Where the server serves `GET /metrics` (with `CONFAB_METRICS_LISTEN`).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self._server.as_ref()?.metrics_addr
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// An anonymous request.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request with `Authorization: Bearer <token>` (an access token or an API key).
    pub fn bearer(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(token)
    }

    /// A request carrying the named cookies and, when given, an `X-CSRF-Token` header.
    pub fn with_cookies(
        &self,
        method: Method,
        path: &str,
        cookies: &Cookies,
        names: &[&str],
        csrf_header: Option<&str>,
    ) -> RequestBuilder {
        let builder = self.request(method, path).header(reqwest::header::COOKIE, cookies.header(names));
        match csrf_header {
            Some(token) => builder.header(CSRF_HEADER, token),
            None => builder,
        }
    }

    /// A request authenticated the browser way: access + CSRF cookies and the CSRF header.
    pub fn cookie_authed(&self, method: Method, path: &str, who: &Registered) -> RequestBuilder {
        self.with_cookies(method, path, &who.cookies, &[ACCESS_COOKIE, CSRF_COOKIE], Some(who.csrf()))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        send(self.request(Method::POST, path).json(body)).await
    }

    /// A Bearer GET that must answer 200; returns the JSON body.
    pub async fn get_ok(&self, token: &str, path: &str) -> Value {
        assert_json(send(self.bearer(Method::GET, path, token)).await, StatusCode::OK).await
    }

    pub async fn register_raw(&self, email: &str, password: &str) -> Response {
        self.post_json("/auth/register", &json!({"email": email, "password": password})).await
    }

    /// Registers a user (asserting 201) with [`PASSWORD`].
    pub async fn register(&self, email: &str) -> Registered {
        self.register_with_password(email, PASSWORD).await
    }

    pub async fn register_with_password(&self, email: &str, password: &str) -> Registered {
        let resp = self.register_raw(email, password).await;
        self.logged_in(resp, StatusCode::CREATED, email, password).await
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> Response {
        self.post_json("/auth/login", &json!({"email": email, "password": password})).await
    }

    /// Logs in (asserting 200).
    pub async fn login(&self, email: &str, password: &str) -> Registered {
        let resp = self.login_raw(email, password).await;
        self.logged_in(resp, StatusCode::OK, email, password).await
    }

    async fn logged_in(&self, resp: Response, status: StatusCode, email: &str, password: &str) -> Registered {
        let cookies = Cookies::from_response(&resp);
        let body = assert_json(resp, status).await;
        Registered::from_body(email, password, body, cookies)
    }

    /// The actions of the audit entries about `user_id`, newest first, as `admin` lists them.
    pub async fn audit_actions(&self, admin: &Registered, user_id: &str) -> Vec<String> {
        let page =
            self.get_ok(&admin.access_token, &format!("/admin/audit?user_id={user_id}&limit=100")).await;
        page["items"].as_array().expect("items").iter().map(|i| str_field(i, "action")).collect()
    }

    /// The first account registered (the admin) and a second one (a plain user).
    pub async fn admin_and_user(&self) -> (Registered, Registered) {
        let admin = self.register("admin@example.com").await;
        let user = self.register("user@example.com").await;
        (admin, user)
    }

    /// POST /auth/refresh with the refresh + CSRF cookies and the CSRF header.
    pub async fn refresh_raw(&self, cookies: &Cookies) -> Response {
        send(self.with_cookies(
            Method::POST,
            "/auth/refresh",
            cookies,
            &[REFRESH_COOKIE, CSRF_COOKIE],
            Some(cookies.value(CSRF_COOKIE)),
        ))
        .await
    }

    pub async fn create_session(&self, token: &str, body: Value) -> Value {
        let resp = send(self.bearer(Method::POST, "/sessions", token).json(&body)).await;
        assert_json(resp, StatusCode::CREATED).await
    }

    pub async fn create_api_key(&self, token: &str, name: &str) -> Value {
        let resp =
            send(self.bearer(Method::POST, "/auth/api-keys", token).json(&json!({"name": name}))).await;
        assert_json(resp, StatusCode::CREATED).await
    }

    pub async fn patch_user(&self, token: &str, user_id: &str, body: Value) -> Response {
        send(self.bearer(Method::PATCH, &format!("/admin/users/{user_id}"), token).json(&body)).await
    }

    /// Walks a paginated list with `limit`, following `next_cursor` to the end.
    pub async fn collect_pages(
        &self,
        token: &str,
        path: &str,
        query: &[(&str, &str)],
        limit: usize,
    ) -> Vec<Value> {
        let limit_s = limit.to_string();
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let mut params: Vec<(&str, &str)> = query.to_vec();
            params.push(("limit", &limit_s));
            if let Some(c) = &cursor {
                params.push(("cursor", c));
            }
            let resp = send(self.bearer(Method::GET, path, token).query(&params)).await;
            let page = assert_json(resp, StatusCode::OK).await;
            let page_items = page["items"].as_array().expect("items array");
            assert!(page_items.len() <= limit, "page larger than limit: {page}");
            items.extend(page_items.iter().cloned());
            match &page["next_cursor"] {
                Value::String(c) => {
                    assert!(!page_items.is_empty(), "empty page with a next_cursor");
                    cursor = Some(c.clone());
                }
                Value::Null => return items,
                other => panic!("next_cursor must be a string or null, got {other}"),
            }
        }
        panic!("pagination of {path} did not end");
    }

    /// The user's tokens counted today against their quota, as stored (reservations
    /// included). The local server writes its counts every second.
    pub async fn tokens_counted(&self, user: &Registered) -> i64 {
        let today = time::OffsetDateTime::now_utc().date().to_string();
        let item = stored_item(self.data_dir(), &format!("QUOTA#{}", user.id), &today).await;
        item.and_then(|i| i.int("tokens")).unwrap_or(0)
    }

    /// The user's stored count once `settled` says so, or after 5 s: settlements and
    /// releases land just after the responses end, and the local server writes its
    /// counts every second.
    pub async fn tokens_once(&self, user: &Registered, settled: impl Fn(i64) -> bool) -> i64 {
        for _ in 0..100 {
            let counted = self.tokens_counted(user).await;
            if settled(counted) {
                return counted;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.tokens_counted(user).await
    }

    pub async fn assert_tokens_settle_at(&self, user: &Registered, expected: i64) {
        assert_eq!(self.tokens_once(user, |n| n == expected).await, expected, "the day's tokens");
    }

    /// The server's current Ed25519 signing key, read from `<data_dir>/secrets.json`.
    pub fn read_signing_key(&self) -> ServerKey {
        let path = self.data_dir().join("secrets.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let secrets: Value = serde_json::from_str(&text).expect("secrets.json is JSON");
        let keys: Value = serde_json::from_str(
            secrets["confab-signing-keys"].as_str().expect("confab-signing-keys is a string"),
        )
        .expect("confab-signing-keys holds JSON");
        let kid = str_field(&keys, "current");
        let entry = keys["keys"]
            .as_array()
            .expect("keys array")
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .expect("current kid is among the keys");
        let pkcs8_der =
            STANDARD.decode(str_field(entry, "private_key_pkcs8")).expect("private key is standard base64");
        ServerKey { kid, pkcs8_der }
    }
}

/// The server's signing key as stored in its secrets.
pub struct ServerKey {
    pub kid: String,
    pub pkcs8_der: Vec<u8>,
}

/// An item as the server stored it, read straight from the SQLite file in `data_dir`
/// (for what the API does not show, and to look without triggering readers).
pub async fn stored_item(data_dir: &Path, pk: &str, sk: &str) -> Option<confab_core::ports::Item> {
    use confab_core::ports::Store;
    let store = confab_embedded::SqliteStore::open(data_dir.join("confab.db")).expect("open the store");
    store.get(pk, sk).await.expect("read the store")
}

/// Writes an item straight into the SQLite file in `data_dir`, as an older version of
/// the server (or a direct edit) could have left it.
pub async fn put_stored_item(data_dir: &Path, item: confab_core::ports::Item) {
    use confab_core::ports::{Condition, Store};
    let store = confab_embedded::SqliteStore::open(data_dir.join("confab.db")).expect("open the store");
    store.put(item, Condition::Always).await.expect("write the store");
}

/// Sends a request; a transport failure fails the test.
/// The metric lines (`"kind":"metrics"`) among a harness's log lines, parsed; a line
/// may carry a prefix before its JSON (wrangler's).
pub fn metric_lines(logs: &str) -> Vec<Value> {
    let parsed = logs.lines().filter_map(|l| serde_json::from_str::<Value>(&l[l.find('{')?..]).ok());
    parsed.filter(|line| line["kind"] == "metrics").collect()
}

/// Asserts that the logs hold a metric line for a chat turn, and one counting its tokens.
pub fn assert_chat_metrics_logged(logs: &str) -> Vec<Value> {
    let lines = metric_lines(logs);
    let turn = lines.iter().find(|l| {
        l["route"] == "/chat/sessions/{id}/messages" && l["status_class"] == "2xx" && l["function"] == "chat"
    });
    assert!(turn.is_some_and(|l| l["confab_http_requests_total"] == 1.0), "no chat turn among {lines:?}");
    assert!(
        lines.iter().any(|l| l["confab_output_tokens_total"].as_f64() > Some(0.0)),
        "no tokens: {lines:?}"
    );
    lines
}

pub async fn send(builder: RequestBuilder) -> Response {
    builder.send().await.expect("request reached the server")
}

pub fn str_field(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("field {key} must be a string in {v}")).to_string()
}

fn describe(resp: &Response) -> String {
    format!("{} {}", resp.status(), resp.url().path())
}

/// A response read to the end: a label, its status, content type and body text.
struct Read {
    what: String,
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Read {
    async fn from(resp: Response, ctx: &str) -> Self {
        let what = format!("[{ctx}] {}", describe(&resp));
        let status = resp.status();
        let content_type = header(&resp, "content-type").unwrap_or_default();
        let text = resp.text().await.expect("read body");
        Read { what, status, content_type, text }
    }

    fn json(&self) -> Value {
        let Read { what, content_type, text, .. } = self;
        assert!(content_type.starts_with("application/json"), "{what}: content-type {content_type:?}");
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {text}"))
    }
}

/// Asserts the status and a JSON body; returns the body.
pub async fn assert_json(resp: Response, status: StatusCode) -> Value {
    let read = Read::from(resp, "").await;
    assert_eq!(read.status, status, "{}: unexpected status; body: {}", read.what, read.text);
    read.json()
}

/// Asserts a status with an empty body (204).
pub async fn assert_no_content(resp: Response) {
    let read = Read::from(resp, "").await;
    assert_eq!(read.status, StatusCode::NO_CONTENT, "{}: body {}", read.what, read.text);
    assert!(read.text.is_empty(), "{}: 204 with a body: {}", read.what, read.text);
}

/// Asserts the contract's error shape `{"error":{"code","message"}}` with a JSON
/// content type; returns the body.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_error_ctx(resp, status, code, "").await
}

/// [`assert_error`] with a label for table-driven tests.
pub async fn assert_error_ctx(resp: Response, status: StatusCode, code: &str, ctx: &str) -> Value {
    let read = Read::from(resp, ctx).await;
    let Read { what, text, .. } = &read;
    assert_eq!(
        (read.status, error_code(text).as_str()),
        (status, code),
        "{what}: expected {status} {code}; body: {text}"
    );
    let body = read.json();
    assert!(body["error"]["message"].is_string(), "{what}: error.message missing: {text}");
    body
}

/// For tables mixing outcomes: an empty `code` expects a JSON success with `status`,
/// anything else the error `code`.
pub async fn assert_outcome(resp: Response, status: StatusCode, code: &str, ctx: &str) -> Value {
    if code.is_empty() {
        let read = Read::from(resp, ctx).await;
        assert_eq!(read.status, status, "{}: body {}", read.what, read.text);
        read.json()
    } else {
        assert_error_ctx(resp, status, code, ctx).await
    }
}

fn error_code(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(String::from))
        .unwrap_or_else(|| "<no error.code>".into())
}

/// A response header as a string.
pub fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers().get(name).map(|v| v.to_str().expect("ASCII header").to_string())
}

/// Asserts a 429 with the given code and a positive numeric Retry-After; returns it.
pub async fn assert_throttled(resp: Response, code: &str) -> u64 {
    let retry = header(&resp, "retry-after")
        .unwrap_or_else(|| panic!("{}: 429 without Retry-After", describe(&resp)));
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, code).await;
    let secs: u64 = retry.parse().unwrap_or_else(|_| panic!("Retry-After is not seconds: {retry}"));
    assert!(secs > 0, "Retry-After must be positive");
    secs
}

/// Runs racing requests at once. Counts those answered `winner`; every other one must
/// be the error `status` + `code` (with a Retry-After when 429).
pub async fn race<F>(
    attempts: impl IntoIterator<Item = F>,
    winner: StatusCode,
    status: StatusCode,
    code: &str,
) -> usize
where
    F: std::future::Future<Output = Response>,
{
    let mut winners = 0;
    for resp in futures::future::join_all(attempts).await {
        if resp.status() == winner {
            winners += 1;
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            assert_throttled(resp, code).await;
        } else {
            assert_error(resp, status, code).await;
        }
    }
    winners
}

/// The sorted keys of a JSON object.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> =
        v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect();
    k.sort();
    k
}

/// The `id` of each item.
pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| str_field(i, "id")).collect()
}

/// Waits out the last seconds of a wall-clock minute, so that a test of a per-minute
/// limit does not straddle two fixed windows.
pub async fn avoid_minute_edge() {
    let into_minute = now().rem_euclid(60);
    if into_minute >= 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - into_minute) as u64)).await;
    }
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// Claims the server should accept for `sub` in the login `sid` (valid for ten minutes).
pub fn access_claims(sub: &str, sid: &str) -> Value {
    let t = now();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "sid": sid,
        "exp": t + 600, "nbf": t - 10, "iat": t - 10,
        "jti": format!("test-{t}-{sub}"),
    })
}

/// Signs `claims` with an Ed25519 PKCS#8 key under the given header `kid` and `typ`.
pub fn sign_eddsa(pkcs8_der: &[u8], kid: &str, typ: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    header.typ = Some(typ.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(pkcs8_der)).expect("sign")
}

/// Signs `claims` with HS256 using `secret` as the HMAC key.
pub fn sign_hs256(secret: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    header.typ = Some("at+jwt".to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign")
}

/// A token with the given raw header and claims and no signature (`alg: none` style).
pub fn unsigned_token(header: &Value, claims: &Value) -> String {
    format!("{}.{}.", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()))
}

/// An Ed25519 key that is not the server's, as PKCS#8 DER (v1, 48 bytes: the fixed
/// RFC 8410 prefix followed by the 32-byte seed).
pub fn foreign_ed25519_pkcs8() -> Vec<u8> {
    const PREFIX: [u8; 16] =
        [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    let seed: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
    [PREFIX.as_slice(), &seed].concat()
}

/// Replaces the claims segment of a signed token, keeping its header and signature.
pub fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a JWS compact token: {token}");
    format!("{}.{}.{}", parts[0], b64url(claims.to_string().as_bytes()), parts[2])
}

/// Decodes the claims segment of a token without verifying it.
pub fn peek_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("token has a payload");
    serde_json::from_slice(&b64url_decode(payload)).expect("claims are JSON")
}
