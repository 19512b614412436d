//! /sessions: CRUD, listing, archive filter, messages, CSRF and IDOR.

use confab_tests::*;

const SESSION_KEYS: [&str; 8] =
    ["archived", "created_at", "current_leaf_id", "id", "model", "system_prompt", "title", "updated_at"];

fn session_path(session: &Value) -> String {
    format!("/sessions/{}", str_field(session, "id"))
}

async fn list_ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    ids(app.get_ok(token, &format!("/sessions{query}")).await["items"].as_array().expect("items"))
}

/// Creates `n` sessions one after another; returns their ids newest first.
async fn create_many(app: &TestApp, token: &str, n: usize) -> Vec<String> {
    let mut created = Vec::new();
    for i in 0..n {
        let s = app.create_session(token, json!({"title": format!("s{i}")})).await;
        created.push(str_field(&s, "id"));
    }
    created.reverse();
    created
}

async fn patch_session(app: &TestApp, token: &str, session: &Value, body: Value) -> Value {
    let resp = send(app.bearer(Method::PATCH, &session_path(session), token).json(&body)).await;
    assert_json(resp, StatusCode::OK).await
}

#[tokio::test(flavor = "multi_thread")]
async fn create_session_with_defaults_and_with_every_field() {
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;
    let bare = app.create_session(&reg.access_token, json!({})).await;
    assert_eq!(keys(&bare), SESSION_KEYS);
    assert_eq!(
        (&bare["title"], &bare["model"], &bare["system_prompt"], &bare["archived"]),
        (&json!(""), &Value::Null, &Value::Null, &json!(false))
    );
    let full = json!({"title": "Trip", "model": "small-model", "system_prompt": "Be brief."});
    let created = app.create_session(&reg.access_token, full.clone()).await;
    for field in ["title", "model", "system_prompt"] {
        assert_eq!(created[field], full[field], "{field}");
    }
    assert_ne!(created["id"], bare["id"]);
    let fetched = app.get_ok(&reg.access_token, &session_path(&created)).await;
    assert_eq!(fetched, created);
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_can_be_renamed_archived_and_deleted() {
    let app = spawn_app().await;
    let token = app.register("first@example.com").await.access_token;
    let s = app.create_session(&token, json!({"title": "Draft"})).await;
    let id = str_field(&s, "id");

    let renamed = patch_session(&app, &token, &s, json!({"title": "Final"})).await;
    assert_eq!(keys(&renamed), SESSION_KEYS);
    assert_eq!(
        (&renamed["id"], &renamed["title"], &renamed["archived"]),
        (&s["id"], &json!("Final"), &json!(false))
    );
    assert_eq!(app.get_ok(&token, &session_path(&s)).await, renamed);

    let archived = patch_session(&app, &token, &s, json!({"archived": true})).await;
    assert_eq!(archived["archived"], true);
    assert_eq!(archived["title"], "Final", "a partial patch keeps other fields");
    assert!(list_ids(&app, &token, "").await.is_empty());
    assert!(list_ids(&app, &token, "?archived=false").await.is_empty());
    assert_eq!(list_ids(&app, &token, "?archived=true").await, vec![id.clone()]);

    patch_session(&app, &token, &s, json!({"archived": false})).await;
    assert_eq!(list_ids(&app, &token, "").await, vec![id.clone()]);
    assert!(list_ids(&app, &token, "?archived=true").await.is_empty());

    let delete = || send(app.bearer(Method::DELETE, &session_path(&s), &token));
    assert_no_content(delete().await).await;
    let resp = send(app.bearer(Method::GET, &session_path(&s), &token)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(delete().await, StatusCode::NOT_FOUND, "not_found").await;
    assert!(list_ids(&app, &token, "").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_list_newest_first_with_pagination() {
    let app = spawn_app().await;
    let token = app.register("first@example.com").await.access_token;
    let created = create_many(&app, &token, 21).await;

    let walked = app.collect_pages(&token, "/sessions", &[], 4).await;
    assert_eq!(ids(&walked), created, "newest first, each once");

    let first_page = app.get_ok(&token, "/sessions").await;
    let items = first_page["items"].as_array().unwrap();
    assert_eq!(ids(items), created[..20], "default limit is 20");
    assert!(first_page["next_cursor"].is_string());

    let all = app.get_ok(&token, "/sessions?limit=100").await;
    assert_eq!(ids(all["items"].as_array().unwrap()), created);
    assert!(all["next_cursor"].is_null(), "no cursor on the last page");
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_per_user_are_capped_even_when_created_at_once() {
    let app = spawn_app_with(&[("CONFAB_MAX_SESSIONS_PER_USER", "3")]).await;
    let (ada, bob) = app.admin_and_user().await;
    let attempts =
        (0..6).map(|_| send(app.bearer(Method::POST, "/sessions", &ada.access_token).json(&json!({}))));
    let statuses: Vec<StatusCode> =
        futures::future::join_all(attempts).await.iter().map(|r| r.status()).collect();
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(created, 3, "{statuses:?}");
    assert!(statuses.iter().all(|s| [StatusCode::CREATED, StatusCode::CONFLICT].contains(s)), "{statuses:?}");
    assert_eq!(list_ids(&app, &ada.access_token, "").await.len(), 3);
    // Another user has a cap of their own; deleting makes room again.
    app.create_session(&bob.access_token, json!({})).await;
    let first = list_ids(&app, &ada.access_token, "").await.remove(0);
    assert_no_content(
        send(app.bearer(Method::DELETE, &format!("/sessions/{first}"), &ada.access_token)).await,
    )
    .await;
    app.create_session(&ada.access_token, json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn new_session_has_no_messages() {
    let app = spawn_app().await;
    let token = app.register("first@example.com").await.access_token;
    let s = app.create_session(&token, json!({})).await;
    for query in ["", "?limit=5"] {
        let path = format!("{}/messages{query}", session_path(&s));
        let page = app.get_ok(&token, &path).await;
        assert_eq!(page, json!({"items": [], "next_cursor": null}), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cookie_authenticated_writes_need_the_csrf_header() {
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;
    let s = app.create_session(&reg.access_token, json!({"title": "keep"})).await;
    let cookies = [ACCESS_COOKIE, CSRF_COOKIE];
    let body = json!({"title": "changed"});
    // (case, method, path, X-CSRF-Token)
    let refused = [
        ("POST without header", Method::POST, "/sessions".to_string(), None),
        ("POST with wrong header", Method::POST, "/sessions".into(), Some("wrong-token")),
        ("PATCH without header", Method::PATCH, session_path(&s), None),
        ("DELETE without header", Method::DELETE, session_path(&s), None),
    ];
    for (case, method, path, csrf) in refused {
        let req = app.with_cookies(method, &path, &reg.cookies, &cookies, csrf);
        let resp = send(req.json(&body)).await;
        assert_error_ctx(resp, StatusCode::FORBIDDEN, "csrf_failed", case).await;
    }
    // Header present but no confab_csrf cookie to match it.
    let req = app.with_cookies(Method::POST, "/sessions", &reg.cookies, &[ACCESS_COOKIE], Some(reg.csrf()));
    let resp = send(req.json(&body)).await;
    assert_error_ctx(resp, StatusCode::FORBIDDEN, "csrf_failed", "no csrf cookie").await;
    assert_eq!(app.get_ok(&reg.access_token, &session_path(&s)).await, s, "refused writes changed nothing");

    // Reads by cookie need no header; writes with it, or by Bearer, succeed.
    let resp = send(app.with_cookies(Method::GET, "/sessions", &reg.cookies, &cookies, None)).await;
    assert_eq!(assert_json(resp, StatusCode::OK).await["items"].as_array().unwrap().len(), 1);
    let resp = send(app.cookie_authed(Method::POST, "/sessions", &reg).json(&body)).await;
    assert_json(resp, StatusCode::CREATED).await;
    app.create_session(&reg.access_token, body).await;
    assert_eq!(list_ids(&app, &reg.access_token, "").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_session_is_not_found_on_every_route() {
    let app = spawn_app().await;
    let (owner, intruder) = app.admin_and_user().await;
    let s =
        app.create_session(&owner.access_token, json!({"title": "private", "system_prompt": "secret"})).await;
    let path = session_path(&s);
    let messages = format!("{path}/messages");
    let table = [
        (Method::GET, path.as_str(), None),
        (Method::PATCH, &path, Some(json!({"title": "pwned"}))),
        (Method::PATCH, &path, Some(json!({"archived": true}))),
        (Method::DELETE, &path, None),
        (Method::GET, &messages, None),
    ];
    let key = str_field(&app.create_api_key(&intruder.access_token, "k").await, "key");
    for token in [&intruder.access_token, &key] {
        for (method, route, body) in &table {
            let mut req = app.bearer(method.clone(), route, token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let ctx = format!("{method} {route}");
            assert_error_ctx(send(req).await, StatusCode::NOT_FOUND, "not_found", &ctx).await;
        }
    }
    assert!(list_ids(&app, &intruder.access_token, "?archived=true").await.is_empty());
    assert!(list_ids(&app, &intruder.access_token, "").await.is_empty());
    assert_eq!(app.get_ok(&owner.access_token, &path).await, s, "untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_cursor_reveals_nothing() {
    let app = spawn_app().await;
    let (owner, intruder) = app.admin_and_user().await;
    for i in 0..3 {
        app.create_session(&owner.access_token, json!({"title": format!("own {i}")})).await;
    }
    let page = app.get_ok(&owner.access_token, "/sessions?limit=1").await;
    let cursor = str_field(&page, "next_cursor");
    let resp =
        send(app.bearer(Method::GET, "/sessions", &intruder.access_token).query(&[("cursor", &cursor)]))
            .await;
    // Either refused as a foreign cursor or read as a position in the intruder's own (empty) list.
    if resp.status() == StatusCode::OK {
        let body = assert_json(resp, StatusCode::OK).await;
        assert_eq!(body["items"], json!([]), "owner's sessions leaked");
    } else {
        assert_error(resp, StatusCode::BAD_REQUEST, "invalid_cursor").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_created_back_to_back_list_newest_first() {
    let app = spawn_app().await;
    let token = app.register("first@example.com").await.access_token;
    let created = create_many(&app, &token, 100).await;
    assert_eq!(list_ids(&app, &token, "?limit=100").await, created, "newest first");
}
