//! Scoped API keys over HTTP: what each scope reaches on every function, the model
//! allowlist (through /chat, /v1 and the official `openai` client), expiry, the record of
//! the last use, keys stored before scopes existed, and the requests refused at creation.

use confab_tests::*;
use time::format_description::well_known::Rfc3339;

/// `POST /auth/api-keys` with `body`; the created key's JSON.
async fn new_key(user: &TestUser<'_>, body: Value) -> Value {
    user.post("/auth/api-keys", &body).await.created().await
}

async fn key_with(user: &TestUser<'_>, body: Value) -> String {
    str_field(&new_key(user, body).await, "key")
}

async fn call_with(app: &TestApp, key: &str, call: &Call) -> Response {
    let request = app.bearer(call.method.clone(), &call.path, key);
    send(match &call.body {
        Some(body) => request.json(body),
        None => request,
    })
    .await
}

async fn listed(user: &TestUser<'_>) -> Vec<Value> {
    user.get("/auth/api-keys").await.good().await["items"].as_array().expect("items").clone()
}

/// An RFC 3339 time `seconds` from now.
fn from_now(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(now() + seconds).unwrap().format(&Rfc3339).unwrap()
}

fn completion(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello"}]})
}

/// The stored item of API key `id`, as the server wrote it.
async fn stored_key(app: &TestApp, id: &str) -> confab_core::ports::Item {
    stored_item(app.data_dir(), &format!("APIKEY#{id}"), "APIKEY").await.expect("the key is stored")
}

#[tokio::test(flavor = "multi_thread")]
async fn each_scope_reaches_its_routes_and_no_others() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    let (admin, user) = (app.as_user(admin), app.as_user(user));
    let session = user.create_session(json!({"title": "mine"})).await;
    let keys = [
        ("chat", key_with(&user, json!({"name": "c", "scopes": ["chat"]})).await),
        ("sessions:read", key_with(&user, json!({"name": "r", "scopes": ["sessions:read"]})).await),
        ("sessions:write", key_with(&user, json!({"name": "w", "scopes": ["sessions:write"]})).await),
        ("admin", key_with(&admin, json!({"name": "a", "scopes": ["admin"]})).await),
    ];
    let routes = [
        ("chat", Call::new(Method::GET, "/v1/models")),
        ("chat", Call::new(Method::POST, "/v1/chat/completions").with_body(completion("echo"))),
        (
            "chat",
            Call::new(Method::POST, format!("/chat/sessions/{session}/messages"))
                .with_body(json!({"content": "hi"})),
        ),
        ("sessions:read", Call::new(Method::GET, "/sessions")),
        ("sessions:read", Call::new(Method::GET, format!("/sessions/{session}"))),
        ("sessions:read", Call::new(Method::GET, format!("/sessions/{session}/messages"))),
        ("sessions:write", Call::new(Method::POST, "/sessions").with_body(json!({"title": "by key"}))),
        (
            "sessions:write",
            Call::new(Method::PATCH, format!("/sessions/{session}")).with_body(json!({"title": "t"})),
        ),
        (
            "sessions:write",
            Call::new(Method::POST, format!("/sessions/{session}/export"))
                .with_body(json!({"format": "json"})),
        ),
        ("admin", Call::new(Method::GET, "/admin/users")),
        ("admin", Call::new(Method::GET, "/admin/audit")),
        ("admin", Call::new(Method::GET, "/admin/models")),
    ];
    for (scope, key) in &keys {
        for (needed, call) in &routes {
            let ctx = format!("a {scope} key: {}", call.label());
            let resp = call_with(&app, key, call).await;
            if scope == needed {
                assert!(resp.status().is_success(), "{ctx}: {}", resp.status());
            } else {
                assert_error_ctx(resp, StatusCode::FORBIDDEN, "insufficient_scope", &ctx).await;
            }
        }
        app.get_ok(key, "/auth/me").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_key_manages_the_account_whatever_its_scopes() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let all = json!({"name": "all", "scopes": ["chat", "sessions:read", "sessions:write", "admin"]});
    let created = new_key(&admin, all).await;
    let (key, id) = (str_field(&created, "key"), str_field(&created, "id"));
    let attempts = [
        Call::new(Method::GET, "/auth/api-keys"),
        Call::new(Method::POST, "/auth/api-keys").with_body(json!({"name": "more"})),
        Call::new(Method::DELETE, format!("/auth/api-keys/{id}")),
        Call::new(Method::POST, "/auth/mfa/totp/setup").with_body(json!({"password": PASSWORD})),
        Call::new(Method::POST, "/auth/logout"),
        // Routes of other branches, refused by the same rule whether or not they exist.
        Call::new(Method::DELETE, "/auth/me").with_body(json!({"password": PASSWORD})),
        Call::new(Method::POST, "/auth/password").with_body(json!({"current_password": PASSWORD})),
        Call::new(Method::GET, "/auth/logins"),
        Call::new(Method::GET, "/auth/oidc/providers"),
    ];
    for call in &attempts {
        let resp = call_with(&app, &key, call).await;
        assert_error_ctx(resp, StatusCode::FORBIDDEN, "insufficient_scope", &call.label()).await;
    }
    assert_eq!(listed(&admin).await.len(), 1, "no key was made or revoked");
    assert_eq!(app.get_ok(&key, "/auth/me").await["user"]["id"], admin.id.as_str());
    app.get_ok(&key, "/admin/users").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_scope_is_for_admins_and_never_by_default() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    let (admin, user) = (app.as_user(admin), app.as_user(user));
    let resp = user.post("/auth/api-keys", &json!({"name": "k", "scopes": ["chat", "admin"]})).await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(listed(&user).await, Vec::<Value>::new());

    let default = new_key(&admin, json!({"name": "default"})).await;
    assert_eq!(default["scopes"], json!(["chat", "sessions:read", "sessions:write"]));
    let resp = send(app.bearer(Method::GET, "/admin/users", &str_field(&default, "key"))).await;
    assert_error(resp, StatusCode::FORBIDDEN, "insufficient_scope").await;

    // The role is checked again at each use: a demoted admin's admin key stops working.
    let target = format!("/admin/users/{}", user.id);
    admin.call(&Call::new(Method::PATCH, &target).with_body(json!({"role": "admin"}))).await.good().await;
    let key = key_with(&user, json!({"name": "ops", "scopes": ["admin"]})).await;
    app.get_ok(&key, "/admin/users").await;
    admin.call(&Call::new(Method::PATCH, &target).with_body(json!({"role": "user"}))).await.good().await;
    let resp = send(app.bearer(Method::GET, "/admin/users", &key)).await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_key_cannot_hand_out_a_way_into_an_account() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    let admin = app.as_user(admin);
    let key = key_with(&admin, json!({"name": "ops", "scopes": ["admin"]})).await;
    app.get_ok(&key, "/admin/users").await;
    for who in [&admin.id, &user.id] {
        let calls = [
            (Method::POST, format!("/admin/users/{who}/password-reset"), None),
            (Method::DELETE, format!("/admin/users/{who}"), None),
            (Method::PATCH, format!("/admin/users/{who}"), Some(json!({"role": "admin"}))),
        ];
        for (method, path, body) in calls {
            let request = app.bearer(method.clone(), &path, &key);
            let resp = send(match body {
                Some(b) => request.json(&b),
                None => request,
            })
            .await;
            assert_error_ctx(resp, StatusCode::FORBIDDEN, "insufficient_scope", &format!("{method} {path}"))
                .await;
        }
    }
    // Quotas are an admin key's work.
    let quota = json!({"quota": {"tokens_per_day": 1000}});
    let resp = send(app.bearer(Method::PATCH, &format!("/admin/users/{}", user.id), &key).json(&quota)).await;
    assert_json(resp, StatusCode::OK).await;
}

/// Routes `parrot` too, an echo model under another name.
async fn add_parrot(admin: &TestUser<'_>) {
    let mut config = admin.get("/admin/models").await.good().await;
    let mut parrot = config["models"][0].clone();
    parrot["name"] = json!("parrot");
    config["models"].as_array_mut().unwrap().push(parrot);
    admin.put("/admin/models", &config).await.good().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_uses_only_the_models_it_lists() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    let (admin, user) = (app.as_user(admin), app.as_user(user));
    add_parrot(&admin).await;
    let created = new_key(&user, json!({"name": "parrot only", "models": ["parrot"]})).await;
    assert_eq!(created["models"], json!(["parrot"]));
    let key = str_field(&created, "key");

    let ids = |list: Value| -> Vec<Value> {
        list["data"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect()
    };
    assert_eq!(ids(app.get_ok(&key, "/v1/models").await), [json!("parrot")]);
    assert_eq!(ids(user.get("/v1/models").await.good().await), [json!("echo"), json!("parrot")]);

    let completions = |model| Call::new(Method::POST, "/v1/chat/completions").with_body(completion(model));
    let resp = call_with(&app, &key, &completions("echo")).await;
    assert_error(resp, StatusCode::FORBIDDEN, "model_not_allowed").await;
    assert_json(call_with(&app, &key, &completions("parrot")).await, StatusCode::OK).await;

    let create = |body| Call::new(Method::POST, "/sessions").with_body(body);
    let resp = call_with(&app, &key, &create(json!({"model": "echo"}))).await;
    assert_error(resp, StatusCode::FORBIDDEN, "model_not_allowed").await;
    let parrot_session = call_with(&app, &key, &create(json!({"model": "parrot"}))).await;
    let parrot_session = str_field(&assert_json(parrot_session, StatusCode::CREATED).await, "id");
    // A session with no model chats with the default (echo), which the key may not use.
    let default_session = str_field(
        &assert_json(call_with(&app, &key, &create(json!({}))).await, StatusCode::CREATED).await,
        "id",
    );
    let chat = |session: &str, body| {
        Call::new(Method::POST, format!("/chat/sessions/{session}/messages")).with_body(body)
    };
    for body in [json!({"content": "hi"}), json!({"content": "hi", "model": "echo"})] {
        let resp = call_with(&app, &key, &chat(&default_session, body.clone())).await;
        assert_error_ctx(resp, StatusCode::FORBIDDEN, "model_not_allowed", &body.to_string()).await;
    }
    for (session, body) in [
        (&default_session, json!({"content": "hi", "model": "parrot"})),
        (&parrot_session, json!({"content": "hi"})),
    ] {
        let resp = call_with(&app, &key, &chat(session, body)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.text().await.unwrap().contains("message_end"));
    }
    user.send_message(&default_session, &json!({"content": "the user's own token may"}))
        .await
        .error_for_status()
        .unwrap();

    openai_client_sees_only(&app, &key).await;
}

/// The official `openai` client with a `parrot`-only key: the list holds parrot alone,
/// and echo is a `PermissionDeniedError` with the code `model_not_allowed`.
async fn openai_client_sees_only(app: &TestApp, key: &str) {
    const SCRIPT: &str = r#"
import sys, openai
client = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key=sys.argv[2], max_retries=0)
assert [m.id for m in client.models.list()] == ["parrot"]
messages = [{"role": "user", "content": "hi"}]
assert client.chat.completions.create(model="parrot", messages=messages).choices[0].message.content
try:
    client.chat.completions.create(model="echo", messages=messages)
    raise AssertionError("echo must be refused")
except openai.PermissionDeniedError as e:
    assert e.status_code == 403 and e.code == "model_not_allowed", (e.status_code, e.code)
"#;
    run_python(None, vec!["-c".into(), SCRIPT.into(), app.base_url.clone(), key.to_string()]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_key_is_refused() {
    let app = spawn_app().await;
    let user = app.user("ada@example.com").await;
    let expires_at = from_now(3600);
    let created = new_key(&user, json!({"name": "short", "expires_at": expires_at})).await;
    let (key, id) = (str_field(&created, "key"), str_field(&created, "id"));
    let shown = time::OffsetDateTime::parse(&str_field(&created, "expires_at"), &Rfc3339).unwrap();
    assert_eq!(shown.unix_timestamp(), now_from(&expires_at));
    assert_eq!(listed(&user).await[0]["expires_at"], created["expires_at"]);
    app.get_ok(&key, "/sessions").await;

    let mut item = stored_key(&app, &id).await;
    item.data.insert("expires_at".into(), json!(from_now(-1)));
    put_stored_item(app.data_dir(), item).await;
    for path in ["/sessions", "/auth/me", "/v1/models"] {
        let resp = send(app.bearer(Method::GET, path, &key)).await;
        assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "api_key_expired", path).await;
    }
}

fn now_from(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap().unix_timestamp()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_use_is_listed_and_not_rewritten_within_a_minute() {
    let app = spawn_app().await;
    let user = app.user("ada@example.com").await;
    let created = new_key(&user, json!({"name": "k"})).await;
    let (key, id) = (str_field(&created, "key"), str_field(&created, "id"));
    assert_eq!(listed(&user).await[0]["last_used_at"], Value::Null);

    app.get_ok(&key, "/sessions").await;
    let first_use = listed(&user).await[0]["last_used_at"].clone();
    assert!((now_from(first_use.as_str().expect("last_used_at")) - now()).abs() <= 5, "{first_use}");
    let version = stored_key(&app, &id).await.version;
    for _ in 0..3 {
        app.get_ok(&key, "/sessions").await;
    }
    assert_eq!(stored_key(&app, &id).await.version, version, "no write within the minute");
    assert_eq!(listed(&user).await[0]["last_used_at"], first_use);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_stored_before_scopes_keeps_its_old_reach_but_admin() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let created = new_key(&admin, json!({"name": "old"})).await;
    let (key, id) = (str_field(&created, "key"), str_field(&created, "id"));
    let mut item = stored_key(&app, &id).await;
    for field in ["scopes", "models", "expires_at", "last_used_at"] {
        item.data.remove(field);
    }
    put_stored_item(app.data_dir(), item).await;

    let listed = listed(&admin).await;
    assert_eq!(listed[0]["scopes"], json!(["chat", "sessions:read", "sessions:write"]));
    assert_eq!((&listed[0]["models"], &listed[0]["expires_at"]), (&Value::Null, &Value::Null));
    let session = app.create_session(&key, json!({"title": "old key"})).await;
    app.get_ok(&key, &format!("/sessions/{}", str_field(&session, "id"))).await;
    let resp =
        call_with(&app, &key, &Call::new(Method::POST, "/v1/chat/completions").with_body(completion("echo")))
            .await;
    assert_json(resp, StatusCode::OK).await;
    // Admin keys no longer do admin work without the admin scope.
    let resp = send(app.bearer(Method::GET, "/admin/users", &key)).await;
    assert_error(resp, StatusCode::FORBIDDEN, "insufficient_scope").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_key_requests_are_refused_and_nothing_is_made() {
    let app = spawn_app().await;
    let user = app.user("ada@example.com").await;
    let too_many: Vec<String> = (0..51).map(|i| format!("m{i}")).collect();
    let unprocessable = [
        json!({"name": "k", "scopes": ["chat", "write"]}),
        json!({"name": "k", "scopes": []}),
        json!({"name": "k", "scopes": ["chat", "chat"]}),
        json!({"name": "k", "models": []}),
        json!({"name": "k", "models": too_many}),
        json!({"name": "k", "models": ["echo", "echo"]}),
        json!({"name": "k", "models": ["x".repeat(101)]}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "k", "expires_at": from_now(-60)}),
        json!({"name": "k", "expires_at": from_now(10 * 366 * 86_400)}),
        json!({"name": "k", "expires_at": "tomorrow"}),
        json!({"name": "k", "expires_at": "+999999-01-01T00:00:00Z"}),
    ];
    for body in unprocessable {
        let resp = user.post("/auth/api-keys", &body).await;
        let err =
            assert_error_ctx(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", &body.to_string())
                .await;
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }
    let wrong_shapes = [
        json!({"name": "k", "scopes": "chat"}),
        json!({"name": "k", "models": "echo"}),
        json!({"name": "k", "expires_at": 4_102_444_800u64}),
        json!({"name": "k", "scope": ["chat"]}),
    ];
    for body in wrong_shapes {
        let resp = user.post("/auth/api-keys", &body).await;
        assert_error_ctx(resp, StatusCode::BAD_REQUEST, "invalid_request", &body.to_string()).await;
    }
    assert_eq!(listed(&user).await, Vec::<Value>::new());
}
