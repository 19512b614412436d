//! A logged-in user of a test app, and the requests tests make as one: each request
//! shape is written here once. A test reads `user.post(path, &body).await.good().await`.

use crate::sse::{Event, all_events};
use crate::totp::{MARGIN, code_at, settled_now};
use crate::*;
use std::future::Future;
use std::ops::Deref;

/// A user and the app they use; requests carry their access token.
pub struct TestUser<'a> {
    pub app: &'a TestApp,
    pub account: Registered,
}

impl Deref for TestUser<'_> {
    type Target = Registered;

    fn deref(&self) -> &Registered {
        &self.account
    }
}

impl TestApp {
    /// Registers a user with [`PASSWORD`] (asserting 201).
    pub async fn user(&self, email: &str) -> TestUser<'_> {
        TestUser { app: self, account: self.register(email).await }
    }

    /// Requests as `account`.
    pub fn as_user(&self, account: Registered) -> TestUser<'_> {
        TestUser { app: self, account }
    }
}

impl TestUser<'_> {
    pub fn token(&self) -> &str {
        &self.account.access_token
    }

    /// A request with their `Authorization: Bearer` token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app.bearer(method, path, self.token())
    }

    pub async fn get(&self, path: &str) -> Response {
        send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        send(self.request(Method::PATCH, path).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        send(self.request(Method::PUT, path).json(body)).await
    }

    /// `POST /sessions/{session}/attachments?filename=` with `bytes` as the body, typed
    /// `content_type` (none when `None`).
    pub async fn upload(
        &self,
        session: &str,
        filename: &str,
        content_type: Option<&str>,
        bytes: Vec<u8>,
    ) -> Response {
        let mut request = self
            .request(Method::POST, &format!("/sessions/{session}/attachments"))
            .query(&[("filename", filename)])
            .body(bytes);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        send(request).await
    }

    /// Uploads a file that must be accepted; its id.
    pub async fn attach(&self, session: &str, filename: &str, content_type: &str, bytes: Vec<u8>) -> String {
        let file = self.upload(session, filename, Some(content_type), bytes).await.created().await;
        str_field(&file, "id")
    }

    /// Makes `call`.
    pub async fn call(&self, call: &Call) -> Response {
        let request = self.request(call.method.clone(), &call.path);
        send(match &call.body {
            Some(body) => request.json(body),
            None => request,
        })
        .await
    }

    /// `POST /auth/mfa/totp/setup`; the new secret (base32).
    pub async fn setup_mfa(&self) -> String {
        let body = self.post("/auth/mfa/totp/setup", &json!({"password": PASSWORD})).await.good().await;
        let url = str_field(&body, "otpauth_url");
        assert!(url.starts_with("otpauth://totp/confab:"), "{url}");
        str_field(&body, "secret")
    }

    /// Sets TOTP up and enables it with the current code; its secret and recovery codes.
    pub async fn enable_mfa(&self) -> (String, Vec<String>) {
        let secret = self.setup_mfa().await;
        let now = settled_now(MARGIN).await;
        let body = json!({"code": code_at(&secret, now)});
        let codes = self.post("/auth/mfa/totp/enable", &body).await.good().await;
        (secret, serde_json::from_value(codes["recovery_codes"].clone()).expect("recovery codes"))
    }

    /// A new session made with `body`; returns its id.
    pub async fn create_session(&self, body: Value) -> String {
        str_field(&self.app.create_session(self.token(), body).await, "id")
    }

    /// `POST /chat/sessions/{session}/messages` with `body` (`{"content": …}` and any
    /// other fields).
    pub async fn send_message(&self, session: &str, body: &Value) -> Response {
        self.post(&format!("/chat/sessions/{session}/messages"), body).await
    }

    /// Sends `content` and reads the whole reply.
    pub async fn chat(&self, session: &str, content: &str) -> Vec<Event> {
        all_events(self.send_message(session, &json!({ "content": content })).await).await
    }

    /// The session's messages, oldest first (the first page).
    pub async fn messages(&self, session: &str) -> Vec<Value> {
        let page = self.get(&format!("/sessions/{session}/messages")).await.good().await;
        page["items"].as_array().expect("items array").clone()
    }

    /// The session's last message once it is no longer streaming: a reply is saved just
    /// after its stream ends.
    pub async fn settled_reply(&self, session: &str) -> Value {
        for _ in 0..200 {
            let reply = self.messages(session).await.last().cloned().expect("a message");
            if reply["status"] != "streaming" {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the reply never settled");
    }
}

/// One request of a test table: its method, path and, for writes, JSON body.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
}

impl Call {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Call { method, path: path.into(), body: None }
    }

    pub fn with_body(self, body: Value) -> Self {
        Call { body: Some(body), ..self }
    }

    /// `METHOD path`, to label an assertion.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What a test expects of a response; each asserts and returns the JSON body.
pub trait Expect {
    /// 200 with a JSON body.
    fn good(self) -> impl Future<Output = Value>;
    /// 201 with a JSON body.
    fn created(self) -> impl Future<Output = Value>;
}

impl Expect for Response {
    fn good(self) -> impl Future<Output = Value> {
        assert_json(self, StatusCode::OK)
    }

    fn created(self) -> impl Future<Output = Value> {
        assert_json(self, StatusCode::CREATED)
    }
}
