//! Malformed requests on every JSON endpoint, bad ids, bad list parameters and
//! validation. After each batch of bad requests, nothing may have been written.

use confab_tests::*;

/// One JSON endpoint and the bodies to attack it with.
struct Endpoint {
    name: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
    /// A body the endpoint accepts.
    valid: Value,
    /// The valid body with fields of the wrong JSON type.
    wrong_types: Value,
    /// A body lacking a required field, where the endpoint has one.
    missing: Option<Value>,
    /// The status the valid body gets.
    ok: StatusCode,
}

/// Two users and one session of the plain user, plus the endpoints to attack.
struct Fixture {
    admin: Registered,
    user: Registered,
    session_id: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let (admin, user) = app.admin_and_user().await;
    let session = app.create_session(&user.access_token, json!({"title": "original"})).await;
    Fixture { session_id: str_field(&session, "id"), admin, user }
}

fn endpoints(fx: &Fixture) -> Vec<Endpoint> {
    let user = Some(fx.user.access_token.clone());
    vec![
        Endpoint {
            name: "register",
            method: Method::POST,
            path: "/auth/register".into(),
            token: None,
            valid: json!({"email": "new@example.com", "password": PASSWORD}),
            wrong_types: json!({"email": 42, "password": ["x"]}),
            missing: Some(json!({"email": "new@example.com"})),
            ok: StatusCode::CREATED,
        },
        Endpoint {
            name: "login",
            method: Method::POST,
            path: "/auth/login".into(),
            token: None,
            valid: json!({"email": fx.user.email, "password": PASSWORD}),
            wrong_types: json!({"email": true, "password": 12345678}),
            missing: Some(json!({"password": PASSWORD})),
            ok: StatusCode::OK,
        },
        Endpoint {
            name: "api key create",
            method: Method::POST,
            path: "/auth/api-keys".into(),
            token: user.clone(),
            valid: json!({"name": "k"}),
            wrong_types: json!({"name": 7}),
            missing: Some(json!({})),
            ok: StatusCode::CREATED,
        },
        Endpoint {
            name: "session create",
            method: Method::POST,
            path: "/sessions".into(),
            token: user.clone(),
            valid: json!({"title": "t"}),
            wrong_types: json!({"title": 1, "model": false}),
            missing: None,
            ok: StatusCode::CREATED,
        },
        Endpoint {
            name: "session patch",
            method: Method::PATCH,
            path: format!("/sessions/{}", fx.session_id),
            token: user.clone(),
            valid: json!({"title": "changed"}),
            wrong_types: json!({"archived": "yes"}),
            missing: None,
            ok: StatusCode::OK,
        },
        Endpoint {
            name: "session export",
            method: Method::POST,
            path: format!("/sessions/{}/export", fx.session_id),
            token: user,
            valid: json!({"format": "markdown"}),
            wrong_types: json!({"format": 3}),
            missing: Some(json!({})),
            ok: StatusCode::CREATED,
        },
        Endpoint {
            name: "admin user patch",
            method: Method::PATCH,
            path: format!("/admin/users/{}", fx.user.id),
            token: Some(fx.admin.access_token.clone()),
            valid: json!({"role": "admin"}),
            wrong_types: json!({"disabled": "true"}),
            missing: None,
            ok: StatusCode::OK,
        },
    ]
}

/// One bad request to send to an endpoint, and the error it must get.
struct BadRequest {
    case: &'static str,
    body: Vec<u8>,
    content_type: Option<&'static str>,
    status: StatusCode,
    code: &'static str,
}

/// A JSON body the endpoint must refuse with 400 invalid_request.
fn invalid(case: &'static str, body: impl Into<Vec<u8>>) -> BadRequest {
    BadRequest {
        case,
        body: body.into(),
        content_type: Some("application/json"),
        status: StatusCode::BAD_REQUEST,
        code: "invalid_request",
    }
}

/// A valid body under a content type the endpoint must refuse with 415.
fn unsupported(case: &'static str, body: &Value, content_type: Option<&'static str>) -> BadRequest {
    BadRequest {
        case,
        body: body.to_string().into_bytes(),
        content_type,
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: "unsupported_media_type",
    }
}

impl Endpoint {
    async fn send_raw(&self, app: &TestApp, body: Vec<u8>, content_type: Option<&str>) -> Response {
        let mut req = app.request(self.method.clone(), &self.path).body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        send(req).await
    }

    fn bad_requests(&self) -> Vec<BadRequest> {
        let mut with_unknown = self.valid.clone();
        with_unknown["unexpected_field"] = json!(true);
        let mut with_nulls = self.wrong_types.clone();
        for v in with_nulls.as_object_mut().unwrap().values_mut() {
            *v = Value::Null;
        }
        let mut invalid_utf8 = b"{\"name\": \"".to_vec();
        invalid_utf8.extend([0xff, 0xfe, b'"', b'}']);
        let mut cases = vec![
            invalid("malformed JSON", r#"{"title": "#),
            invalid("trailing garbage", format!("{} xyz", self.valid)),
            invalid("array body", "[1, 2]"),
            invalid("string body", r#""hello""#),
            invalid("deeply nested", format!("{}{}", "[".repeat(5000), "]".repeat(5000))),
            invalid("invalid UTF-8", invalid_utf8),
            invalid("wrong types", self.wrong_types.to_string()),
            invalid("unknown field", with_unknown.to_string()),
            unsupported("text/plain", &self.valid, Some("text/plain")),
            unsupported("form", &self.valid, Some("application/x-www-form-urlencoded")),
            unsupported("json lookalike", &self.valid, Some("application/jsonx")),
            unsupported("no content type", &self.valid, None),
        ];
        if let Some(missing) = &self.missing {
            cases.push(invalid("missing field", missing.to_string()));
            cases.push(invalid("null required fields", with_nulls.to_string()));
        }
        cases
    }
}

/// Everything the bad requests could have written, as seen through the API.
async fn snapshot(app: &TestApp, fx: &Fixture) -> Value {
    let (admin, user) = (&fx.admin.access_token, &fx.user.access_token);
    json!({
        "users": app.get_ok(admin, "/admin/users?limit=100").await,
        "active": app.get_ok(user, "/sessions?limit=100").await,
        "archived": app.get_ok(user, "/sessions?limit=100&archived=true").await,
        "keys": app.get_ok(user, "/auth/api-keys").await,
        "session": app.get_ok(user, &format!("/sessions/{}", fx.session_id)).await,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_are_rejected_and_write_nothing() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    for endpoint in endpoints(&fx) {
        let before = snapshot(&app, &fx).await;
        for bad in endpoint.bad_requests() {
            let resp = endpoint.send_raw(&app, bad.body, bad.content_type).await;
            let ctx = format!("{}: {}", endpoint.name, bad.case);
            assert_error_ctx(resp, bad.status, bad.code, &ctx).await;
        }
        assert_eq!(snapshot(&app, &fx).await, before, "{} wrote", endpoint.name);
        // The valid body is accepted: the matrix hit a working endpoint.
        let resp = endpoint
            .send_raw(&app, endpoint.valid.to_string().into_bytes(), Some("application/json; charset=utf-8"))
            .await;
        assert_eq!(resp.status(), endpoint.ok, "{} valid body", endpoint.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_413_and_write_nothing() {
    let app = spawn_app_with(&[("CONFAB_MAX_BODY_BYTES", "1024")]).await;
    let fx = fixture(&app).await;
    for endpoint in endpoints(&fx) {
        let before = snapshot(&app, &fx).await;
        // Valid JSON, only too big: whitespace padding changes nothing else.
        let body = format!("{}{}", endpoint.valid, " ".repeat(4096));
        let resp = endpoint.send_raw(&app, body.into_bytes(), Some("application/json")).await;
        let ctx = endpoint.name;
        assert_error_ctx(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", ctx).await;
        assert_eq!(snapshot(&app, &fx).await, before, "{ctx} wrote");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_and_unknown_ids_are_not_found() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let before = snapshot(&app, &fx).await;
    let long = "x".repeat(300);
    let bad_ids = ["not-a-valid-id", UNKNOWN_ID, long.as_str(), "%20", "0"];
    let (user, admin) = (app.as_user(fx.user.clone()), app.as_user(fx.admin.clone()));
    for id in bad_ids {
        let calls = [
            (&user, Call::new(Method::GET, format!("/sessions/{id}"))),
            (&user, Call::new(Method::PATCH, format!("/sessions/{id}")).with_body(json!({"title": "x"}))),
            (&user, Call::new(Method::DELETE, format!("/sessions/{id}"))),
            (&user, Call::new(Method::GET, format!("/sessions/{id}/messages"))),
            (
                &user,
                Call::new(Method::POST, format!("/sessions/{id}/export"))
                    .with_body(json!({"format": "json"})),
            ),
            (&user, Call::new(Method::GET, format!("/sessions/{id}/export/{id}"))),
            (&user, Call::new(Method::DELETE, format!("/auth/api-keys/{id}"))),
            (
                &admin,
                Call::new(Method::PATCH, format!("/admin/users/{id}")).with_body(json!({"role": "user"})),
            ),
        ];
        for (who, call) in calls {
            assert_error_ctx(who.call(&call).await, StatusCode::NOT_FOUND, "not_found", &call.label()).await;
        }
    }
    assert_eq!(snapshot(&app, &fx).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_list_parameters_are_rejected() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let (user, admin) = (&fx.user.access_token, &fx.admin.access_token);
    let messages = format!("/sessions/{}/messages", fx.session_id);
    let lists =
        [("/sessions", user), (messages.as_str(), user), ("/admin/users", admin), ("/admin/audit", admin)];
    let bad = StatusCode::BAD_REQUEST;
    // (query, expected status, expected code or "" for success)
    let table = [
        ("limit=0", bad, "invalid_request"),
        ("limit=101", bad, "invalid_request"),
        ("limit=1000000", bad, "invalid_request"),
        ("limit=99999999999999999999999999", bad, "invalid_request"),
        ("limit=-1", bad, "invalid_request"),
        ("limit=abc", bad, "invalid_request"),
        ("limit=1.5", bad, "invalid_request"),
        ("limit=", bad, "invalid_request"),
        ("cursor=garbage", bad, "invalid_cursor"),
        ("cursor=%21%21%21", bad, "invalid_cursor"),
        ("cursor=eyJmb28iOiJiYXIifQ", bad, "invalid_cursor"),
        ("limit=5&cursor=not-a-cursor", bad, "invalid_cursor"),
        ("limit=1", StatusCode::OK, ""),
        ("limit=100", StatusCode::OK, ""),
    ];
    for (path, token) in lists {
        for (query, status, code) in table {
            let url = format!("{path}?{query}");
            let resp = send(app.bearer(Method::GET, &url, token)).await;
            assert_outcome(resp, status, code, &url).await;
        }
    }
    let others = [
        ("/sessions?archived=maybe", user),
        ("/admin/audit?from=yesterday", admin),
        ("/admin/audit?to=2024-13-45T99:00:00Z", admin),
    ];
    for (url, token) in others {
        let resp = send(app.bearer(Method::GET, url, token)).await;
        assert_error_ctx(resp, StatusCode::BAD_REQUEST, "invalid_request", url).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_validation_fails_with_422_and_registers_nobody() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let long_name = "n".repeat(101);
    let table = [
        ("no at sign", json!({"email": "plainaddress", "password": PASSWORD})),
        ("no local part", json!({"email": "@example.com", "password": PASSWORD})),
        ("no domain", json!({"email": "user@", "password": PASSWORD})),
        ("empty email", json!({"email": "", "password": PASSWORD})),
        ("7-char password", json!({"email": "v@example.com", "password": "1234567"})),
        ("129-char password", json!({"email": "v@example.com", "password": "p".repeat(129)})),
        ("101-char name", json!({"email": "v@example.com", "password": PASSWORD, "name": long_name})),
    ];
    for (case, body) in table {
        let resp = app.post_json("/auth/register", &body).await;
        assert_error_ctx(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", case).await;
    }
    let users = app.get_ok(&admin.access_token, "/admin/users?limit=100").await;
    assert_eq!(users["items"].as_array().unwrap().len(), 1, "nobody registered");

    // The boundaries themselves are valid (lengths count characters).
    let ok = [
        ("8-char password", json!({"email": "a@example.com", "password": "12345678"})),
        ("128-char password", json!({"email": "b@example.com", "password": "p".repeat(128)})),
        ("100 two-byte chars", json!({"email": "c@example.com", "password": "é".repeat(100)})),
        ("100-char name", json!({"email": "d@example.com", "password": PASSWORD, "name": "n".repeat(100)})),
    ];
    for (case, body) in ok {
        let resp = app.post_json("/auth/register", &body).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn session_title_validation_fails_with_422_and_writes_nothing() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let token = &fx.user.access_token;
    let before = snapshot(&app, &fx).await;
    let too_long = json!({"title": "t".repeat(201)});
    let patch_path = format!("/sessions/{}", fx.session_id);
    for (method, path) in [(Method::POST, "/sessions"), (Method::PATCH, patch_path.as_str())] {
        let resp = send(app.bearer(method.clone(), path, token).json(&too_long)).await;
        let ctx = format!("{method} {path}");
        assert_error_ctx(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", &ctx).await;
    }
    assert_eq!(snapshot(&app, &fx).await, before);
    let at_limit = app.create_session(token, json!({"title": "t".repeat(200)})).await;
    assert_eq!(at_limit["title"].as_str().unwrap().len(), 200);
}
