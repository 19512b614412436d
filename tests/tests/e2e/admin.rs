//! /admin: user listing, role changes, disabling, audit log, access control.

use confab_tests::*;

const ADMIN_USER_KEYS: [&str; 8] =
    ["created_at", "disabled", "email", "id", "mfa_enabled", "name", "quota", "role"];
const AUDIT_KEYS: [&str; 9] =
    ["action", "actor_id", "created_at", "detail", "id", "ip", "request_id", "trace_id", "user_id"];

async fn register_named(app: &TestApp, email: &str, name: &str) -> Value {
    let body = json!({"email": email, "password": PASSWORD, "name": name});
    assert_json(app.post_json("/auth/register", &body).await, StatusCode::CREATED).await
}

async fn emails_matching(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let items = app.collect_pages(token, "/admin/users", &[("query", query)], 100).await;
    let mut emails: Vec<String> = items.iter().map(|u| str_field(u, "email")).collect();
    emails.sort();
    emails
}

async fn audit(app: &TestApp, token: &str, query: &[(&str, &str)]) -> Vec<Value> {
    app.collect_pages(token, "/admin/audit", query, 100).await
}

fn actions(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| str_field(i, "action")).collect()
}

async fn assert_patch_ok(app: &TestApp, admin: &Registered, id: &str, body: Value) -> Value {
    let updated = assert_json(app.patch_user(&admin.access_token, id, body).await, StatusCode::OK).await;
    assert_eq!(keys(&updated), ADMIN_USER_KEYS);
    assert_eq!(updated["id"], id);
    updated
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_lists_users_with_query_and_pagination() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    register_named(&app, "alice@example.com", "Alice Smith").await;
    register_named(&app, "bob@example.com", "Bobby Tables").await;
    register_named(&app, "carol@corp.test", "Carol").await;
    register_named(&app, "dave@corp.test", "Dave Alison").await;
    let token = &admin.access_token;

    let everyone = app.get_ok(token, "/admin/users?limit=100").await;
    let items = everyone["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(everyone["next_cursor"].is_null());
    for u in items {
        assert_eq!(keys(u), ADMIN_USER_KEYS, "{u}");
        assert_eq!(u["disabled"], false);
    }
    // (query, expected emails): email or name substring, case-insensitive.
    let table: [(&str, &[&str]); 5] = [
        ("ALICE", &["alice@example.com"]),
        ("ali", &["alice@example.com", "dave@corp.test"]),
        ("bobby", &["bob@example.com"]),
        ("CORP.test", &["carol@corp.test", "dave@corp.test"]),
        ("no-such-user", &[]),
    ];
    for (query, expected) in table {
        assert_eq!(emails_matching(&app, token, query).await, expected, "query {query}");
    }

    let walked = app.collect_pages(token, "/admin/users", &[], 2).await;
    let mut walked_ids = ids(&walked);
    let mut all_ids = ids(items);
    walked_ids.sort();
    all_ids.sort();
    assert_eq!(walked_ids, all_ids, "pages cover every user once");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_changes_a_users_role() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    let promoted = assert_patch_ok(&app, &admin, &user.id, json!({"role": "admin"})).await;
    assert_eq!(promoted["role"], "admin");
    app.get_ok(&user.access_token, "/admin/users").await;
    assert_eq!(app.get_ok(&user.access_token, "/auth/me").await["user"]["role"], "admin");

    let demoted = assert_patch_ok(&app, &admin, &user.id, json!({"role": "user"})).await;
    assert_eq!(demoted["role"], "user");
    let resp = send(app.bearer(Method::GET, "/admin/users", &user.access_token)).await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;

    let events = audit(&app, &admin.access_token, &[("action", "admin.user_updated")]).await;
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        assert_eq!((&e["user_id"], &e["actor_id"]), (&json!(user.id), &json!(admin.id)));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_cannot_demote_or_disable_themselves() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    for body in [json!({"role": "user"}), json!({"disabled": true})] {
        let resp = app.patch_user(&admin.access_token, &admin.id, body.clone()).await;
        assert_error_ctx(resp, StatusCode::CONFLICT, "conflict", &body.to_string()).await;
    }
    let me = app.get_ok(&admin.access_token, "/auth/me").await;
    assert_eq!(me["user"]["role"], "admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_user_loses_access_at_once() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    let other_device = app.login(&user.email, PASSWORD).await;
    let key = str_field(&app.create_api_key(&user.access_token, "k").await, "key");

    let disabled = assert_patch_ok(&app, &admin, &user.id, json!({"disabled": true})).await;
    assert_eq!(disabled["disabled"], true);

    for (case, token) in [("access token", &user.access_token), ("API key", &key)] {
        let resp = send(app.bearer(Method::GET, "/auth/me", token)).await;
        assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", case).await;
    }
    let by_cookie = app.with_cookies(Method::GET, "/auth/me", &user.cookies, &[ACCESS_COOKIE], None);
    assert_error_ctx(send(by_cookie).await, StatusCode::UNAUTHORIZED, "unauthorized", "cookie").await;
    for (case, cookies) in [("refresh", &user.cookies), ("other refresh", &other_device.cookies)] {
        let resp = app.refresh_raw(cookies).await;
        assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", case).await;
    }
    let resp = app.login_raw(&user.email, PASSWORD).await;
    assert_error(resp, StatusCode::FORBIDDEN, "account_disabled").await;

    // Re-enabling lets them log in again, but what disabling revoked stays revoked.
    let enabled = assert_patch_ok(&app, &admin, &user.id, json!({"disabled": false})).await;
    assert_eq!(enabled["disabled"], false);
    let fresh = app.login(&user.email, PASSWORD).await;
    app.get_ok(&fresh.access_token, "/auth/me").await;
    let resp = send(app.bearer(Method::GET, "/auth/me", &user.access_token)).await;
    assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", "access token from before").await;
    let resp = send(app.bearer(Method::GET, "/auth/me", &key)).await;
    assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", "revoked key").await;
    let resp = app.refresh_raw(&user.cookies).await;
    assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", "revoked refresh").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_routes_reject_users_and_anonymous() {
    let app = spawn_app().await;
    let (_admin, user) = app.admin_and_user().await;
    let key = str_field(&app.create_api_key(&user.access_token, "k").await, "key");
    let target = format!("/admin/users/{}", user.id);
    let table = [
        (Method::GET, "/admin/users"),
        (Method::GET, "/admin/users?query=admin"),
        (Method::PATCH, target.as_str()),
        (Method::GET, "/admin/audit"),
        (Method::GET, "/admin/metrics"),
    ];
    let callers = [
        ("user token", Some(user.access_token.as_str()), StatusCode::FORBIDDEN, "forbidden"),
        ("user API key", Some(key.as_str()), StatusCode::FORBIDDEN, "insufficient_scope"),
        ("anonymous", None, StatusCode::UNAUTHORIZED, "unauthorized"),
    ];
    for (method, path) in &table {
        for (who, token, status, code) in &callers {
            let mut req = app.request(method.clone(), path);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if *method == Method::PATCH {
                req = req.json(&json!({"role": "admin"}));
            }
            let ctx = format!("{who}: {method} {path}");
            assert_error_ctx(send(req).await, *status, code, &ctx).await;
        }
    }
    let me = app.get_ok(&user.access_token, "/auth/me").await;
    assert_eq!(me["user"]["role"], "user", "no escalation happened");
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_records_events_with_filters_and_pagination() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let resp = send(
        app.request(Method::POST, "/auth/register")
            .header("x-request-id", "audit-trace-0001")
            .json(&json!({"email": "user@example.com", "password": PASSWORD})),
    )
    .await;
    let user_id = str_field(&assert_json(resp, StatusCode::CREATED).await["user"], "id");
    let user = app.login("user@example.com", PASSWORD).await;
    let resp = app.login_raw("user@example.com", "wrong password!").await;
    let failed_request_id = header(&resp, "x-request-id").expect("x-request-id");
    assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let key_id = str_field(&app.create_api_key(&user.access_token, "k").await, "id");
    let resp =
        send(app.bearer(Method::DELETE, &format!("/auth/api-keys/{key_id}"), &user.access_token)).await;
    assert_no_content(resp).await;
    assert_patch_ok(&app, &admin, &user_id, json!({"role": "admin"})).await;
    let token = &admin.access_token;

    let all = audit(&app, token, &[]).await;
    for item in &all {
        assert_eq!(keys(item), AUDIT_KEYS, "{item}");
    }
    let oldest = all.last().expect("events");
    assert_eq!(
        (&oldest["action"], &oldest["user_id"]),
        (&json!("auth.register"), &json!(admin.id)),
        "newest first: the admin's registration is the oldest event"
    );
    assert_eq!(all[0]["action"], "admin.user_updated", "newest first");

    let about_user = audit(&app, token, &[("user_id", &user_id)]).await;
    assert!(about_user.iter().all(|i| i["user_id"] == user_id.as_str()));
    let mut got = actions(&about_user);
    got.sort();
    got.dedup();
    let expected = [
        "admin.user_updated",
        "auth.api_key_created",
        "auth.api_key_revoked",
        "auth.login",
        "auth.login_failed",
        "auth.register",
    ];
    assert_eq!(got, expected);
    let registration = about_user.iter().find(|i| i["action"] == "auth.register").unwrap();
    assert_eq!(registration["request_id"], "audit-trace-0001");

    let failed = audit(&app, token, &[("action", "auth.login_failed")]).await;
    assert_eq!(actions(&failed), ["auth.login_failed"]);
    assert_eq!(
        (&failed[0]["user_id"], &failed[0]["request_id"], &failed[0]["ip"]),
        (&json!(user_id), &json!(failed_request_id), &json!("127.0.0.1")),
        "the event names its user, request and client"
    );

    // from/to are RFC 3339 bounds. (query, expected count)
    let (past, future) = ("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z");
    let table: [(&[(&str, &str)], usize); 5] = [
        (&[("from", past)], all.len()),
        (&[("to", future)], all.len()),
        (&[("from", future)], 0),
        (&[("to", past)], 0),
        (&[("from", past), ("to", future), ("action", "auth.register")], 2),
    ];
    for (query, count) in table {
        assert_eq!(audit(&app, token, query).await.len(), count, "{query:?}");
    }

    let walked = app.collect_pages(token, "/admin/audit", &[], 1).await;
    assert_eq!(ids(&walked), ids(&all), "limit=1 pages match the full list");
}
