//! Identity providers for the OIDC sign-in tests, and a browser to drive the redirects:
//!
//! - [`RealProvider`]: panva/node-oidc-provider (certified) from tests/oidc-provider,
//!   run with Node. `scripts/test` installs it and sets `CONFAB_OIDC_PROVIDER_MODULES`
//!   (its node_modules) and `CONFAB_NODE` (Node 22, from scripts/edge-tools).
//! - [`HostileProvider`]: discovery, keys and a token endpoint that answers whatever ID
//!   token the test scripts, to try every bad token on confab.
//! - [`Browser`]: keeps cookies per origin and follows redirects by hand.

use crate::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use confab_native::{OsRandom, SystemClock};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The address confab believes it is served at: its redirect URIs name it. The
/// browser maps it to the test server.
pub const PUBLIC_URL: &str = "http://confab.test";
pub const CLIENT_ID: &str = "confab-test";
pub const STATE_COOKIE: &str = "confab_oidc_state";

/// A random URL-safe value (client secrets, account ids).
pub fn random_token() -> String {
    use confab_core::ports::Random;
    let mut bytes = [0u8; 24];
    OsRandom.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The settings that configure `name` as a provider at `issuer` with `secret`.
pub fn provider_settings(name: &str, issuer: &str, secret: &str) -> Vec<(String, String)> {
    let upper = name.to_uppercase();
    vec![
        ("CONFAB_PUBLIC_URL".into(), PUBLIC_URL.into()),
        ("CONFAB_OIDC_PROVIDERS".into(), name.into()),
        (format!("CONFAB_OIDC_{upper}_ISSUER"), issuer.into()),
        (format!("CONFAB_OIDC_{upper}_CLIENT_ID"), CLIENT_ID.into()),
        (format!("CONFAB_OIDC_{upper}_CLIENT_SECRET"), secret.into()),
    ]
}

/// node-oidc-provider on a free port, with one client for confab; killed when dropped.
pub struct RealProvider {
    pub issuer: String,
    pub client_secret: String,
    child: Child,
}

impl RealProvider {
    /// Starts it for provider `name` with `accounts` (account id → claims), for an app
    /// at [`PUBLIC_URL`].
    pub fn start(name: &str, accounts: Value) -> RealProvider {
        RealProvider::start_for(name, accounts, PUBLIC_URL)
    }

    /// The same, for an app at `public_url` (its callback is the registered redirect).
    pub fn start_for(name: &str, accounts: Value, public_url: &str) -> RealProvider {
        let modules = required_path("CONFAB_OIDC_PROVIDER_MODULES", "oidc-provider/lib/index.js");
        let node = std::env::var("CONFAB_NODE").unwrap_or_else(|_| {
            panic!("CONFAB_NODE is not set: run scripts/test, or eval \"$(scripts/edge-tools)\" for Node 22")
        });
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc-provider/provider.mjs");
        let client_secret = random_token();
        let mut child = Command::new(node)
            .arg(script)
            .env("OIDC_PROVIDER_MODULES", modules)
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", &client_secret)
            .env("OIDC_REDIRECT_URI", format!("{public_url}/auth/oidc/{name}/callback"))
            .env("OIDC_ACCOUNTS", accounts.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node tests/oidc-provider/provider.mjs");
        let stdout = child.stdout.take().expect("the provider's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads stdout to its end: a closed pipe would kill the provider at its next write.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let issuer = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v["issuer"].as_str().map(String::from));
                if let Some(issuer) = issuer {
                    let _ = tx.send(issuer);
                }
            }
        });
        let issuer = rx.recv_timeout(Duration::from_secs(30)).ok();
        let Some(issuer) = issuer else {
            let _ = child.kill();
            panic!("tests/oidc-provider/provider.mjs did not print its issuer within 30 s");
        };
        RealProvider { issuer, client_secret, child }
    }
}

impl Drop for RealProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path in environment variable `name`, which must hold `inside`.
fn required_path(name: &str, inside: &str) -> PathBuf {
    let path = std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{name} is not set: scripts/test installs tests/oidc-provider (npm ci under ~/.cache/confab) and sets \
             it to that node_modules folder"
        )
    });
    assert!(
        path.join(inside).exists(),
        "{name}={} holds no {inside}: run scripts/test to install it",
        path.display()
    );
    path
}

/// A provider signing key made for the test: its private half and its public JWK.
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    pub fn new() -> TestKey {
        let (entry, jwk) = confab_core::auth::keys::new_key(&OsRandom, &SystemClock);
        let der = STANDARD.decode(entry.private_key_pkcs8).expect("pkcs8");
        TestKey { kid: entry.kid, encoding: EncodingKey::from_ed_der(&der), jwk: json!(jwk) }
    }

    /// `claims` signed with this key (EdDSA), naming it by kid.
    pub fn sign(&self, claims: &Value) -> String {
        let header = Header { kid: Some(self.kid.clone()), ..Header::new(Algorithm::EdDSA) };
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

impl Default for TestKey {
    fn default() -> Self {
        TestKey::new()
    }
}

/// A provider that serves well-formed discovery and keys, and at its token endpoint
/// whatever ID token the test set last. Its discovery lists `HS256` and `none` too,
/// which confab must ignore.
pub struct HostileProvider {
    pub issuer: String,
    pub key: Arc<TestKey>,
    id_token: Arc<Mutex<String>>,
    _server: tokio::task::JoinHandle<()>,
}

impl HostileProvider {
    pub async fn start() -> HostileProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("address"));
        let key = Arc::new(TestKey::new());
        let id_token = Arc::new(Mutex::new(String::new()));
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "id_token_signing_alg_values_supported": ["EdDSA", "HS256", "none"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
        });
        let jwks = json!({ "keys": [key.jwk] });
        let token = id_token.clone();
        let router = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { json_body(&discovery) }),
            )
            .route("/jwks", axum::routing::get(move || async move { json_body(&jwks) }))
            .route(
                "/token",
                axum::routing::post(move || async move {
                    let id_token = token.lock().unwrap().clone();
                    json_body(&json!({ "access_token": "at", "token_type": "Bearer", "id_token": id_token }))
                }),
            );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        HostileProvider { issuer, key, id_token, _server: server }
    }

    /// The ID token the token endpoint answers from now on.
    pub fn answer(&self, id_token: String) {
        *self.id_token.lock().unwrap() = id_token;
    }

    /// Claims that pass every check, for a sign-in with `nonce`.
    pub fn claims(&self, nonce: &str, email: &str) -> Value {
        let now = crate::now();
        json!({
            "iss": self.issuer, "sub": format!("sub-{email}"), "aud": CLIENT_ID, "exp": now + 300, "iat": now,
            "nonce": nonce, "email": email, "email_verified": true, "name": "Eve",
        })
    }
}

fn json_body(value: &Value) -> ([(reqwest::header::HeaderName, &'static str); 1], String) {
    ([(reqwest::header::CONTENT_TYPE, "application/json")], value.to_string())
}

/// Cookies per origin (scheme, host and port: unlike a browser, which shares cookies
/// across ports, so the provider and confab never see each other's), and redirects
/// followed by hand.
pub struct Browser {
    client: reqwest::Client,
    jars: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Browser { client, jars: BTreeMap::new() }
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        self.send(self.client.get(url), url).await
    }

    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.send(self.client.post(url).form(form), url).await
    }

    async fn send(&mut self, builder: reqwest::RequestBuilder, url: &str) -> reqwest::Response {
        let origin = origin(url);
        let jar = self.jars.entry(origin).or_default();
        let cookie = jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let builder = if cookie.is_empty() { builder } else { builder.header(COOKIE, cookie) };
        let resp = builder.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        for raw in resp.headers().get_all(SET_COOKIE) {
            let raw = raw.to_str().expect("ASCII cookie");
            let (pair, attributes) = raw.split_once(';').unwrap_or((raw, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() || attributes.to_ascii_lowercase().contains("max-age=0") {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().into(), value.into());
            }
        }
        resp
    }

    /// The browser's cookie `name` for `url`'s origin.
    pub fn cookie(&self, url: &str, name: &str) -> Option<&str> {
        self.jars.get(&origin(url))?.get(name).map(String::as_str)
    }

    /// Signs in at the provider from its authorization URL, as `account` (dev
    /// interactions: the login form, then consent), and returns the redirect back to
    /// confab with its [`PUBLIC_URL`] replaced by `app`'s real address.
    pub async fn sign_in_at_provider(&mut self, app: &TestApp, authorize: &str, account: &str) -> String {
        let mut url = authorize.to_string();
        for _ in 0..20 {
            let resp = self.get(&url).await;
            let resp = if resp.status().is_redirection() {
                resp
            } else {
                let page = resp.text().await.expect("interaction page");
                let prompt = if page.contains(r#"name="login""#) { "login" } else { "consent" };
                assert!(page.contains(r#"name="prompt""#), "not an interaction page at {url}: {page}");
                self.post_form(&url, &[("prompt", prompt), ("login", account), ("password", "any")]).await
            };
            let next = location(&resp, &url);
            if let Some(back) = next.strip_prefix(PUBLIC_URL) {
                return app.url(back);
            }
            url = next;
        }
        panic!("the provider did not redirect back to confab");
    }
}

/// Asserts a successful sign-in's answer: to `return_to`, with the login's cookies.
pub fn assert_signed_in(resp: &Response, return_to: &str) -> Cookies {
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(header(resp, "location").as_deref(), Some(return_to));
    let cookies = Cookies::from_response(resp);
    assert!(cookies.get(ACCESS_COOKIE).has_flag("HttpOnly"));
    assert_eq!(cookies.get(REFRESH_COOKIE).attr("Path"), Some("/auth"));
    assert!(!cookies.get(CSRF_COOKIE).has_flag("HttpOnly"));
    cookies
}

pub async fn me(app: &TestApp, cookies: &Cookies) -> Value {
    let resp = send(app.with_cookies(Method::GET, "/auth/me", cookies, &[ACCESS_COOKIE], None)).await;
    assert_json(resp, StatusCode::OK).await["user"].clone()
}

/// Starts a sign-in at confab in `browser`; the provider's authorization URL.
pub async fn start(browser: &mut Browser, app: &TestApp, provider: &str, return_to: &str) -> String {
    let query = serde_urlencoded_pair("return_to", return_to);
    let url = app.url(&format!("/auth/oidc/{provider}/start?{query}"));
    let resp = browser.get(&url).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let cookie = Cookies::from_response(&resp);
    let state = cookie.get(STATE_COOKIE);
    assert!(state.has_flag("HttpOnly") && !state.has_flag("Secure"), "Secure only over https");
    assert_eq!(
        (state.attr("Path"), state.attr("SameSite"), state.attr("Max-Age")),
        (Some("/auth/oidc/"), Some("Lax"), Some("600"))
    );
    location(&resp, &url)
}

pub fn serde_urlencoded_pair(name: &str, value: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[(name, value)])
        .expect("url")
        .query()
        .unwrap_or("")
        .to_string()
}

/// The whole flow as `account`: the callback's answer.
pub async fn sign_in(browser: &mut Browser, app: &TestApp, account: &str, return_to: &str) -> Response {
    let authorize = start(browser, app, "corp", return_to).await;
    let callback = browser.sign_in_at_provider(app, &authorize, account).await;
    browser.get(&callback).await
}

/// Alice's verified email, as confab stores it.
pub const ALICE: &str = "alice@corp.example";

/// The provider's test accounts: Alice (verified, mixed-case email) and Mallory (unverified).
pub fn accounts() -> Value {
    json!({
        "alice": { "email": "Alice@Corp.Example", "email_verified": true, "name": "Alice" },
        "mallory": { "email": "mallory@corp.example", "email_verified": false },
    })
}

/// Signing in with the provider `corp` (a [`RealProvider`] with [`accounts`]) as Alice,
/// across a deployment: the start and the callback (auth) with the state cookie through
/// the provider, the session's cookies on `/auth/me` and on another function, and the
/// same callback refused a second time.
pub async fn sign_in_across(app: &TestApp) {
    let list =
        assert_json(send(app.request(Method::GET, "/auth/oidc/providers")).await, StatusCode::OK).await;
    assert_eq!(list["items"][0]["name"], "corp", "{list}");
    let mut browser = Browser::new();
    let authorize = start(&mut browser, app, "corp", "/sessions").await;
    let callback = browser.sign_in_at_provider(app, &authorize, "alice").await;
    let cookies = assert_signed_in(&browser.get(&callback).await, "/sessions");
    assert_eq!(me(app, &cookies).await["email"], ALICE);
    let resp = send(app.with_cookies(Method::GET, "/sessions", &cookies, &[ACCESS_COOKIE], None)).await;
    assert_json(resp, StatusCode::OK).await;
    let replayed = browser.get(&callback).await;
    assert_eq!(header(&replayed, "location").as_deref(), Some("/?auth_error=invalid_state"));
}

/// `resp`'s Location, made absolute against `base`.
pub fn location(resp: &reqwest::Response, base: &str) -> String {
    let raw = resp
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("{} from {base} has no Location", resp.status()))
        .to_str()
        .expect("ASCII Location");
    reqwest::Url::parse(base).and_then(|b| b.join(raw)).expect("a URL").to_string()
}

fn origin(url: &str) -> String {
    reqwest::Url::parse(url).map(|u| u.origin().ascii_serialization()).expect("a URL")
}
