//! Password change and reset links, the list of logins, and deleting an account with
//! everything it owns (checked by scanning the whole SQLite file and the blob folder).

use confab_tests::sse::all_events;
use confab_tests::totp::{code_at, settled_now};
use confab_tests::*;

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn delete(user: &TestUser<'_>, path: &str, body: &Value) -> Response {
    send(user.request(Method::DELETE, path).json(body)).await
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    send(app.bearer(Method::GET, "/auth/me", token)).await.status()
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_ends_every_other_login() {
    let app = spawn_app().await;
    let user = app.user("pw@example.com").await;
    let other = app.login("pw@example.com", PASSWORD).await;

    let resp = user
        .post("/auth/password", &json!({"current_password": "not it at all", "new_password": NEW_PASSWORD}))
        .await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let resp =
        user.post("/auth/password", &json!({"current_password": PASSWORD, "new_password": "short"})).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let resp = user.post("/auth/password", &json!({"current_password": PASSWORD})).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let key = app.create_api_key(user.token(), "k").await;
    let resp = send(
        app.bearer(Method::POST, "/auth/password", &str_field(&key, "key"))
            .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
    )
    .await;
    assert_error(resp, StatusCode::FORBIDDEN, "insufficient_scope").await;

    let resp = user
        .post("/auth/password", &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .await;
    assert_no_content(resp).await;
    // The other login is over: its access token at once, and its refresh token.
    assert_eq!(me_status(&app, &other.access_token).await, StatusCode::UNAUTHORIZED);
    assert_error(app.refresh_raw(&other.cookies).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The one that changed it goes on.
    assert_eq!(me_status(&app, user.token()).await, StatusCode::OK);
    assert_json(app.refresh_raw(&user.cookies).await, StatusCode::OK).await;
    assert_error(
        app.login_raw("pw@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    app.login("pw@example.com", NEW_PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_current_password_counts_toward_the_lockout() {
    let app = spawn_app_with(&[("CONFAB_LOGIN_MAX_FAILURES", "2")]).await;
    let user = app.user("lock@example.com").await;
    let wrong = json!({"current_password": "not it at all", "new_password": NEW_PASSWORD});
    for _ in 0..2 {
        assert_error(
            user.post("/auth/password", &wrong).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    assert_throttled(user.post("/auth/password", &wrong).await, "account_locked").await;
}

/// An admin's reset link for `user`: its token, from the URL's fragment.
async fn reset_link(app: &TestApp, admin: &Registered, user_id: &str) -> String {
    let resp = send(app.bearer(
        Method::POST,
        &format!("/admin/users/{user_id}/password-reset"),
        &admin.access_token,
    ))
    .await;
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    let body = resp.created().await;
    let url = str_field(&body, "url");
    let (base, token) = url.split_once("/reset-password#token=").expect("a reset URL");
    assert_eq!(base, app.url(""));
    assert!(!str_field(&body, "expires_at").is_empty());
    token.to_string()
}

async fn reset(app: &TestApp, token: &str, password: &str) -> Response {
    app.post_json("/auth/password/reset", &json!({"token": token, "new_password": password})).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_works_once_and_ends_every_login() {
    let app = spawn_app_with(&[("CONFAB_LOGIN_MAX_FAILURES", "2")]).await;
    let (admin, user) = app.admin_and_user().await;
    let resp = send(app.bearer(
        Method::POST,
        &format!("/admin/users/{}/password-reset", admin.id),
        &user.access_token,
    ))
    .await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let unknown = "01JD3QF2Z8N6WQ1ZQ6ZK4G9M7V";
    let resp = send(app.bearer(
        Method::POST,
        &format!("/admin/users/{unknown}/password-reset"),
        &admin.access_token,
    ))
    .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    // Lock the user out, then a newer link replaces an older one.
    for _ in 0..3 {
        app.login_raw("user@example.com", "not the password").await;
    }
    assert_throttled(app.login_raw("user@example.com", PASSWORD).await, "account_locked").await;
    let older = reset_link(&app, &admin, &user.id).await;
    let token = reset_link(&app, &admin, &user.id).await;
    assert_ne!(older, token);
    assert!(
        stored_item(app.data_dir(), &format!("PWRESET#{token}"), "PWRESET").await.is_none(),
        "only its hash"
    );
    assert_error(reset(&app, &older, NEW_PASSWORD).await, StatusCode::BAD_REQUEST, "invalid_reset_token")
        .await;
    assert_error(reset(&app, "made-up", NEW_PASSWORD).await, StatusCode::BAD_REQUEST, "invalid_reset_token")
        .await;
    assert_error(
        reset(&app, &"x".repeat(5000), NEW_PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "invalid_reset_token",
    )
    .await;
    assert_error(reset(&app, &token, "short").await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        .await;

    assert_no_content(reset(&app, &token, NEW_PASSWORD).await).await;
    assert_error(
        reset(&app, &token, "yet another password").await,
        StatusCode::BAD_REQUEST,
        "invalid_reset_token",
    )
    .await;
    assert_eq!(me_status(&app, &user.access_token).await, StatusCode::UNAUTHORIZED, "every login ends");
    assert_error(app.refresh_raw(&user.cookies).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The lockout is cleared: the new password works at once.
    app.login("user@example.com", NEW_PASSWORD).await;
    let actions = app.audit_actions(&admin, &user.id).await;
    for action in ["admin.password_reset_link", "auth.password_reset"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
    // Refusals of tokens that name no account are audited without one.
    let failed = app.get_ok(&admin.access_token, "/admin/audit?action=auth.password_reset_failed").await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 4, "{failed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_reset_link_is_refused() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    let token = reset_link(&app, &admin, &user.id).await;
    let pointer =
        stored_item(app.data_dir(), &format!("USER#{}", user.id), "PWRESET").await.expect("pointer");
    let hash = pointer.str("token_hash").expect("token_hash").to_string();
    let mut link = stored_item(app.data_dir(), &format!("PWRESET#{hash}"), "PWRESET").await.expect("link");
    // The store still holds it; the clock says its hour is over.
    link.data.insert("expires_at".into(), json!(now() - 1));
    put_stored_item(app.data_dir(), link).await;
    assert_error(reset(&app, &token, NEW_PASSWORD).await, StatusCode::BAD_REQUEST, "invalid_reset_token")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_are_listed_and_ended_one_by_one() {
    let app = spawn_app().await;
    let user = app.user("logins@example.com").await;
    let resp = send(
        app.request(Method::POST, "/auth/login")
            .header("user-agent", format!("Phone\t{}", "x".repeat(500)))
            .json(&json!({"email": "logins@example.com", "password": PASSWORD})),
    )
    .await;
    let phone = resp.good().await;
    let phone_token = str_field(&phone, "access_token");
    let phone_login = str_field(&peek_claims(&phone_token), "sid");

    let list = user.get("/auth/logins").await.good().await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let find =
        |id: &str| items.iter().find(|i| i["id"] == id).unwrap_or_else(|| panic!("{id} in {list}")).clone();
    let (mine, theirs) = (find(&user.login_id()), find(&phone_login));
    assert_eq!(mine["current"], true);
    assert_eq!(theirs["current"], false);
    assert_eq!(theirs["ip"], "127.0.0.1");
    let agent = str_field(&theirs, "user_agent");
    assert!(agent.starts_with("Phonexxx") && agent.chars().count() == 200, "{agent}");
    for field in ["created_at", "last_used_at"] {
        assert!(theirs[field].is_string(), "{field} in {theirs}");
    }

    let stranger = app.user("stranger@example.com").await;
    let resp = delete(&stranger, &format!("/auth/logins/{phone_login}"), &json!({})).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = delete(&user, "/auth/logins/01JD3QF2Z8N6WQ1ZQ6ZK4G9M7V", &json!({})).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(me_status(&app, &phone_token).await, StatusCode::OK);

    assert_no_content(delete(&user, &format!("/auth/logins/{phone_login}"), &json!({})).await).await;
    assert_eq!(me_status(&app, &phone_token).await, StatusCode::UNAUTHORIZED);
    let list = user.get("/auth/logins").await.good().await;
    assert_eq!(ids(list["items"].as_array().unwrap()), vec![user.login_id()]);
    let resp = delete(&user, &format!("/auth/logins/{phone_login}"), &json!({})).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

/// Every row of the SQLite file (expired ones included) and every blob path that
/// names `needle`, except audit entries.
fn leftovers(app: &TestApp, needle: &str) -> Vec<String> {
    let db = rusqlite::Connection::open(app.data_dir().join("confab.db")).expect("open the store");
    let mut query = db.prepare("SELECT pk, sk, gsi1pk, gsi1sk, data FROM items").expect("query");
    let text = |row: &rusqlite::Row, n: usize| -> String {
        match row.get_ref(n).expect("column") {
            rusqlite::types::ValueRef::Null => String::new(),
            value => String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned(),
        }
    };
    let rows = query
        .query_map([], |row| Ok((0..5).map(|n| text(row, n)).collect::<Vec<_>>().join(" ")))
        .expect("rows")
        .map(|row| row.expect("row"))
        .filter(|row| row.contains(needle) && !row.starts_with("AUDIT "));
    let mut found: Vec<String> = rows.collect();
    let blobs = walk(&app.data_dir().join("blobs"));
    found.extend(blobs.into_iter().filter(|path| path.contains(needle)));
    found
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    entries
        .flatten()
        .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path().display().to_string()] })
        .collect()
}

/// A user with a bit of everything: sessions, messages (one long enough to spill to a
/// blob, one with an attachment), an export, API keys, MFA and several logins.
async fn busy_user<'a>(app: &'a TestApp, email: &str) -> (TestUser<'a>, String) {
    let user = app.user(email).await;
    let session = user.create_session(json!({"title": "first"})).await;
    user.chat(&session, "hello there").await;
    user.chat(&session, &"long words ".repeat(7000)).await;
    let other = user.create_session(json!({"title": "second"})).await;
    user.chat(&other, "more").await;
    let file = user.attach(&other, "notes.txt", "text/plain", b"attached words".to_vec()).await;
    all_events(user.send_message(&other, &json!({"content": "see the file", "attachments": [file]})).await)
        .await;
    user.post(&format!("/sessions/{session}/export"), &json!({"format": "json"})).await.created().await;
    app.create_api_key(user.token(), "one").await;
    app.create_api_key(user.token(), "two").await;
    app.login(email, PASSWORD).await;
    app.login(email, PASSWORD).await;
    user.post(&format!("/sessions/{other}/share"), &json!({})).await.created().await;
    let (secret, _) = user.enable_mfa().await;
    (user, secret)
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_account_leaves_nothing_but_audit_entries() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let (user, secret) = busy_user(&app, "gone@example.com").await;
    assert!(leftovers(&app, &user.id).len() > 10, "{:?}", leftovers(&app, &user.id));
    assert!(!walk(&app.data_dir().join("blobs")).is_empty(), "a long message and an export");
    let key = app.create_api_key(user.token(), "three").await;
    let key = str_field(&key, "key");

    let resp = delete(&user, "/auth/me", &json!({"password": PASSWORD})).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "mfa_required").await;
    let resp = delete(&user, "/auth/me", &json!({"password": "not the password", "code": "123456"})).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let resp = send(app.bearer(Method::DELETE, "/auth/me", &key).json(&json!({"password": PASSWORD}))).await;
    assert_error(resp, StatusCode::FORBIDDEN, "insufficient_scope").await;

    let code = code_at(&secret, settled_now(10).await + 30);
    let resp = delete(&user, "/auth/me", &json!({"password": PASSWORD, "code": code})).await;
    assert_no_content(resp).await;

    assert_eq!(leftovers(&app, &user.id), Vec::<String>::new());
    assert_eq!(leftovers(&app, "gone@example.com"), Vec::<String>::new());
    assert_eq!(walk(&app.data_dir().join("blobs")), Vec::<String>::new());
    assert_eq!(me_status(&app, user.token()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &key).await, StatusCode::UNAUTHORIZED);
    assert_error(
        app.login_raw("gone@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let actions = app.audit_actions(&admin, &user.id).await;
    assert_eq!(actions.first().map(String::as_str), Some("account.deleted"), "{actions:?}");
    // The email is free again.
    app.register("gone@example.com").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_delete_other_accounts_but_not_their_own() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let (user, _) = busy_user(&app, "member@example.com").await;
    let path = format!("/admin/users/{}", user.id);
    let resp = send(app.bearer(Method::DELETE, &format!("/admin/users/{}", admin.id), user.token())).await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp =
        send(app.bearer(Method::DELETE, &format!("/admin/users/{}", admin.id), &admin.access_token)).await;
    assert_error(resp, StatusCode::CONFLICT, "conflict").await;

    assert_no_content(send(app.bearer(Method::DELETE, &path, &admin.access_token)).await).await;
    assert_eq!(leftovers(&app, &user.id), Vec::<String>::new());
    assert_eq!(walk(&app.data_dir().join("blobs")), Vec::<String>::new());
    assert_eq!(me_status(&app, user.token()).await, StatusCode::UNAUTHORIZED);
    let resp = send(app.bearer(Method::DELETE, &path, &admin.access_token)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let users = app.get_ok(&admin.access_token, "/admin/users").await;
    assert_eq!(users["items"].as_array().unwrap().len(), 1, "{users}");
    let actions = app.audit_actions(&admin, &user.id).await;
    assert_eq!(actions.first().map(String::as_str), Some("account.deleted"), "{actions:?}");
}
