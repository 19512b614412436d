//! /auth: register, login, me, JWKS, refresh rotation, logout, API keys, throttling.

use confab_tests::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Without the refresh grace period, a rotated token presented again is reuse at once.
const NO_GRACE: &[(&str, &str)] = &[("CONFAB_REFRESH_GRACE_SECONDS", "0")];

const USER_KEYS: [&str; 6] = ["created_at", "email", "id", "mfa_enabled", "name", "role"];

/// The shape register, login and refresh answer with.
fn assert_login_shape(body: &Value) {
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["expires_in"], 900, "{body}");
    assert!(!str_field(body, "access_token").is_empty(), "empty access token");
    assert_eq!(keys(&body["user"]), USER_KEYS, "user exposes exactly {USER_KEYS:?}");
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.get_ok(token, "/auth/me").await["user"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn register_first_account_is_admin_and_later_ones_are_users() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    for (who, role) in [(&admin, "admin"), (&user, "user")] {
        assert_login_shape(&who.body);
        assert_eq!(who.user()["role"], role);
        assert_eq!(who.user()["email"], who.email.as_str());
        assert!(who.user()["name"].is_null(), "name defaults to null");
        assert_eq!(&me(&app, &who.access_token).await, who.user());
    }
    assert_ne!(admin.id, user.id);
    let third = app.register("third@example.com").await;
    assert_eq!(third.user()["role"], "user");
}

#[tokio::test(flavor = "multi_thread")]
async fn register_accepts_an_optional_name() {
    let app = spawn_app().await;
    let body = json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada Lovelace"});
    let resp = app.post_json("/auth/register", &body).await;
    let created = assert_json(resp, StatusCode::CREATED).await;
    assert_login_shape(&created);
    assert_eq!(created["user"]["name"], "Ada Lovelace");
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_cookies_have_the_contract_attributes() {
    let app = spawn_app().await;
    app.register("first@example.com").await;
    let login = app.login("first@example.com", PASSWORD).await;
    // (cookie, HttpOnly, SameSite, Path)
    let table = [
        (ACCESS_COOKIE, true, "Lax", "/"),
        (REFRESH_COOKIE, true, "Strict", "/auth"),
        (CSRF_COOKIE, false, "Strict", "/"),
    ];
    for (name, http_only, same_site, path) in table {
        let c = login.cookies.get(name);
        assert!(!c.value.is_empty(), "{name} empty");
        assert!(c.has_flag("Secure"), "{name} must be Secure: {c:?}");
        assert_eq!(c.has_flag("HttpOnly"), http_only, "{name} HttpOnly: {c:?}");
        assert_eq!(c.attr("SameSite"), Some(same_site), "{name}: {c:?}");
        assert_eq!(c.attr("Path"), Some(path), "{name}: {c:?}");
    }
    assert_eq!(login.cookies.get(ACCESS_COOKIE).attr("Max-Age"), Some("900"));
    let refresh_age: i64 = login
        .cookies
        .get(REFRESH_COOKIE)
        .attr("Max-Age")
        .expect("refresh Max-Age")
        .parse()
        .expect("numeric Max-Age");
    assert!(refresh_age > 900, "refresh outlives access: {refresh_age}");
}

#[tokio::test(flavor = "multi_thread")]
async fn emails_are_unique_case_insensitively_and_stored_lowercase() {
    let app = spawn_app().await;
    let alice = app.register("Alice@Example.COM").await;
    assert_eq!(alice.user()["email"], "alice@example.com");
    for variant in ["alice@example.com", "ALICE@EXAMPLE.COM", "aLiCe@example.com"] {
        let resp = app.register_raw(variant, PASSWORD).await;
        assert_error_ctx(resp, StatusCode::CONFLICT, "email_taken", variant).await;
    }
    let again = app.login("ALICE@example.com", PASSWORD).await;
    assert_eq!(again.id, alice.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_returns_a_fresh_session() {
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;
    let login = app.login("first@example.com", PASSWORD).await;
    assert_login_shape(&login.body);
    assert_eq!(login.user(), reg.user());
    assert_ne!(login.cookies.value(REFRESH_COOKIE), reg.cookies.value(REFRESH_COOKIE));
    assert_eq!(me(&app, &login.access_token).await["id"], reg.id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn login_rejects_bad_credentials() {
    let app = spawn_app().await;
    app.register("first@example.com").await;
    let table = [
        ("wrong password", "first@example.com", "not the password"),
        ("unknown email", "nobody@example.com", PASSWORD),
    ];
    for (case, email, password) in table {
        let resp = app.login_raw(email, password).await;
        assert!(Cookies::from_response(&resp).0.is_empty(), "{case}: cookies set");
        assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "invalid_credentials", case).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn me_accepts_bearer_and_cookie_and_rejects_anonymous() {
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;
    assert_eq!(&me(&app, &reg.access_token).await, reg.user());
    // A GET authenticated by cookie needs no CSRF header.
    let resp = send(app.with_cookies(Method::GET, "/auth/me", &reg.cookies, &[ACCESS_COOKIE], None)).await;
    assert_eq!(&assert_json(resp, StatusCode::OK).await["user"], reg.user());
    let resp = send(app.request(Method::GET, "/auth/me")).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_publishes_the_key_that_verifies_access_tokens() {
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;
    let resp = send(app.request(Method::GET, "/auth/jwks.json")).await;
    let jwks = assert_json(resp, StatusCode::OK).await;
    let jwk_list = jwks["keys"].as_array().expect("keys array");
    assert!(!jwk_list.is_empty());
    for jwk in jwk_list {
        assert_eq!(keys(jwk), ["alg", "crv", "kid", "kty", "use", "x"], "{jwk}");
        assert_eq!(
            (&jwk["kty"], &jwk["crv"], &jwk["alg"], &jwk["use"]),
            (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"), &json!("sig"))
        );
        assert_eq!(b64url_decode(&str_field(jwk, "x")).len(), 32);
    }
    let header = jsonwebtoken::decode_header(&reg.access_token).expect("JWS header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("kid");
    assert_eq!(kid, app.read_signing_key().kid);
    let jwk = jwk_list.iter().find(|k| k["kid"] == kid.as_str()).expect("token kid published");
    let key = DecodingKey::from_ed_components(&str_field(jwk, "x")).expect("Ed25519 key");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(&reg.access_token, &key, &validation)
        .expect("access token verifies with the JWKS key")
        .claims;
    assert_eq!(claims["sub"], reg.id.as_str());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    assert!(claims["jti"].is_string(), "jti: {claims}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_the_refresh_token() {
    let app = spawn_app_with(NO_GRACE).await;
    let reg = app.register("first@example.com").await;
    let original = reg.cookies.clone();

    let mut current = original.clone();
    let mut seen = vec![original.value(REFRESH_COOKIE).to_string()];
    for round in 0..2 {
        let resp = app.refresh_raw(&current).await;
        let rotated = Cookies::from_response(&resp);
        let body = assert_json(resp, StatusCode::OK).await;
        assert_login_shape(&body);
        assert_eq!(body["user"]["id"], reg.id.as_str(), "round {round}");
        let token = str_field(&body, "access_token");
        assert_eq!(me(&app, &token).await["id"], reg.id.as_str());
        let new_refresh = rotated.value(REFRESH_COOKIE).to_string();
        assert!(!seen.contains(&new_refresh), "refresh token not rotated");
        seen.push(new_refresh);
        current.merge(rotated);
    }
    // The first refresh token was rotated away and no longer works.
    let resp = app.refresh_raw(&original).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_rotated_refresh_token_revokes_its_family() {
    let app = spawn_app_with(NO_GRACE).await;
    let admin = app.register("admin@example.com").await;
    let victim = app.register("victim@example.com").await;
    let other_device = app.login("victim@example.com", PASSWORD).await;

    let resp = app.refresh_raw(&victim.cookies).await;
    let mut newest = victim.cookies.clone();
    newest.merge(Cookies::from_response(&resp));
    assert_json(resp, StatusCode::OK).await;

    // The attacker replays the old token: rejected, and the family dies.
    let resp = app.refresh_raw(&victim.cookies).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let resp = app.refresh_raw(&newest).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Another family (another login) is not affected.
    assert_json(app.refresh_raw(&other_device.cookies).await, StatusCode::OK).await;
    let actions = app.audit_actions(&admin, &victim.id).await;
    assert!(actions.iter().any(|a| a == "auth.refresh_reuse"), "audit lacks auth.refresh_reuse: {actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rejects_missing_unknown_and_unprotected_requests() {
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;

    let resp = send(app.request(Method::POST, "/auth/refresh")).await;
    assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", "no cookie").await;

    let mut forged = reg.cookies.clone();
    forged.0.get_mut(REFRESH_COOKIE).unwrap().value = "not-a-real-refresh-token".into();
    let resp = app.refresh_raw(&forged).await;
    assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", "unknown").await;

    let resp = send(app.with_cookies(
        Method::POST,
        "/auth/refresh",
        &reg.cookies,
        &[REFRESH_COOKIE, CSRF_COOKIE],
        None,
    ))
    .await;
    assert_error_ctx(resp, StatusCode::FORBIDDEN, "csrf_failed", "no csrf").await;

    // The refused attempts did not consume the token.
    assert_json(app.refresh_raw(&reg.cookies).await, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_family_and_clears_cookies() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let user = app.register("user@example.com").await;
    let other_device = app.login("user@example.com", PASSWORD).await;
    let all = [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE];

    let resp = send(app.with_cookies(Method::POST, "/auth/logout", &user.cookies, &all, None)).await;
    assert_error_ctx(resp, StatusCode::FORBIDDEN, "csrf_failed", "logout w/o csrf").await;

    let resp =
        send(app.with_cookies(Method::POST, "/auth/logout", &user.cookies, &all, Some(user.csrf()))).await;
    let cleared = Cookies::from_response(&resp);
    assert_no_content(resp).await;
    for name in [ACCESS_COOKIE, REFRESH_COOKIE] {
        assert_eq!(cleared.get(name).attr("Max-Age"), Some("0"), "{name} not cleared");
    }
    let resp = app.refresh_raw(&user.cookies).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_json(app.refresh_raw(&other_device.cookies).await, StatusCode::OK).await;
    let actions = app.audit_actions(&admin, &user.id).await;
    assert!(actions.iter().any(|a| a == "auth.logout"), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_can_be_created_listed_used_and_revoked() {
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;
    let created = app.create_api_key(&reg.access_token, "ci").await;
    assert_eq!(
        keys(&created),
        ["created_at", "expires_at", "id", "key", "last_used_at", "models", "name", "scopes"]
    );
    assert_eq!(created["name"], "ci");
    let key = str_field(&created, "key");
    let key_id = str_field(&created, "id");
    assert!(key.starts_with("cfk_"), "{key}");

    let list = app.get_ok(&reg.access_token, "/auth/api-keys").await;
    let items = list["items"].as_array().expect("items").clone();
    assert_eq!(ids(&items), vec![key_id.clone()]);
    assert_eq!(
        keys(&items[0]),
        ["created_at", "expires_at", "id", "last_used_at", "models", "name", "scopes"],
        "never the key"
    );

    // The key does what an access token does.
    assert_eq!(me(&app, &key).await["id"], reg.id.as_str());
    app.create_session(&key, json!({"title": "via key"})).await;

    let path = format!("/auth/api-keys/{key_id}");
    assert_no_content(send(app.bearer(Method::DELETE, &path, &reg.access_token)).await).await;
    let resp = send(app.bearer(Method::GET, "/auth/me", &key)).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let list = app.get_ok(&reg.access_token, "/auth/api-keys").await;
    assert_eq!(list["items"], json!([]));
    let resp = send(app.bearer(Method::DELETE, &path, &reg.access_token)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_api_key_cannot_be_revoked() {
    let app = spawn_app().await;
    let (owner, intruder) = app.admin_and_user().await;
    let created = app.create_api_key(&owner.access_token, "mine").await;
    let path = format!("/auth/api-keys/{}", str_field(&created, "id"));
    let resp = send(app.bearer(Method::DELETE, &path, &intruder.access_token)).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(me(&app, &str_field(&created, "key")).await["id"], owner.id.as_str());
    let list = app.get_ok(&owner.access_token, "/auth/api-keys").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let list = app.get_ok(&intruder.access_token, "/auth/api-keys").await;
    assert_eq!(list["items"], json!([]), "keys are per user");
}

#[tokio::test(flavor = "multi_thread")]
async fn protected_routes_reject_anonymous_requests() {
    let app = spawn_app().await;
    let id = UNKNOWN_ID;
    let table: Vec<(Method, String)> = vec![
        (Method::GET, "/auth/me".into()),
        (Method::GET, "/auth/api-keys".into()),
        (Method::POST, "/auth/api-keys".into()),
        (Method::DELETE, format!("/auth/api-keys/{id}")),
        (Method::GET, "/sessions".into()),
        (Method::POST, "/sessions".into()),
        (Method::GET, format!("/sessions/{id}")),
        (Method::PATCH, format!("/sessions/{id}")),
        (Method::DELETE, format!("/sessions/{id}")),
        (Method::GET, format!("/sessions/{id}/messages")),
    ];
    for (method, path) in table {
        let ctx = format!("{method} {path}");
        let mut req = app.request(method.clone(), &path);
        if method == Method::POST || method == Method::PATCH {
            req = req.json(&json!({"name": "x", "title": "x"}));
        }
        assert_error_ctx(send(req).await, StatusCode::UNAUTHORIZED, "unauthorized", &ctx).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let attempts = (0..20).map(|i| {
        let email = if i % 2 == 0 { "race@example.com" } else { "RACE@Example.com" };
        app.register_raw(email, PASSWORD)
    });
    let created = race(attempts, StatusCode::CREATED, StatusCode::CONFLICT, "email_taken").await;
    assert_eq!(created, 1, "exactly one registration wins");
    let users = app.get_ok(&admin.access_token, "/admin/users?query=race&limit=100").await;
    let emails: Vec<String> =
        users["items"].as_array().unwrap().iter().map(|u| str_field(u, "email")).collect();
    assert_eq!(emails, ["race@example.com"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_first_registrations_make_exactly_one_admin() {
    let app = spawn_app().await;
    let emails: Vec<String> = (0..8).map(|i| format!("early{i}@example.com")).collect();
    let attempts = emails.iter().map(|e| app.register_raw(e, PASSWORD));
    let mut admins = 0;
    for resp in futures::future::join_all(attempts).await {
        let body = assert_json(resp, StatusCode::CREATED).await;
        admins += usize::from(body["user"]["role"] == "admin");
    }
    assert_eq!(admins, 1, "only the first account is admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn login_attempts_are_throttled_per_ip() {
    let app = spawn_app_with(&[("CONFAB_LOGIN_MAX_PER_MINUTE", "5")]).await;
    avoid_minute_edge().await;
    let reg = app.register("first@example.com").await; // attempt 1
    for _ in 0..4 {
        app.login("first@example.com", PASSWORD).await; // attempts 2..=5
    }
    let retry = assert_throttled(app.login_raw("first@example.com", PASSWORD).await, "rate_limited").await;
    assert!(retry <= 60, "Retry-After within the minute window: {retry}");
    assert_throttled(app.register_raw("second@example.com", PASSWORD).await, "rate_limited").await;
    // Other routes are not throttled by the login limit.
    assert_eq!(me(&app, &reg.access_token).await["id"], reg.id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_lock_the_account() {
    let app = spawn_app_with(&[("CONFAB_LOGIN_MAX_FAILURES", "3")]).await;
    let admin = app.register("admin@example.com").await;
    let victim = app.register("victim@example.com").await;
    for attempt in 0..3 {
        let resp = app.login_raw("victim@example.com", "wrong password!").await;
        let ctx = format!("failure {attempt}");
        assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "invalid_credentials", &ctx).await;
    }
    let resp = app.login_raw("victim@example.com", PASSWORD).await;
    let retry = assert_throttled(resp, "account_locked").await;
    assert!(retry <= 900, "Retry-After within the lockout: {retry}");
    // Only that account is locked.
    app.login("admin@example.com", PASSWORD).await;
    let actions = app.audit_actions(&admin, &victim.id).await;
    let failures = actions.iter().filter(|a| *a == "auth.login_failed").count();
    assert!(failures >= 3, "login failures audited: {actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn account_lockout_expires() {
    let app = spawn_app_with(&[("CONFAB_LOGIN_MAX_FAILURES", "2"), ("CONFAB_LOCKOUT_SECONDS", "2")]).await;
    app.register("first@example.com").await;
    for _ in 0..2 {
        let resp = app.login_raw("first@example.com", "wrong password!").await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let retry = assert_throttled(app.login_raw("first@example.com", PASSWORD).await, "account_locked").await;
    assert!(retry <= 2, "Retry-After {retry} exceeds the 2 s lockout");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    app.login("first@example.com", PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_refreshes_of_one_token_share_one_successor() {
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;
    // Two tabs (here five) refresh at once with one cookie: all stay signed in.
    let answers = futures::future::join_all((0..5).map(|_| app.refresh_raw(&reg.cookies))).await;
    let mut successors = std::collections::BTreeSet::new();
    let mut latest = reg.cookies.clone();
    for resp in answers {
        let cookies = Cookies::from_response(&resp);
        let body = assert_json(resp, StatusCode::OK).await;
        me(&app, &str_field(&body, "access_token")).await;
        successors.insert(cookies.value(REFRESH_COOKIE).to_string());
        latest.merge(cookies);
    }
    assert_eq!(successors.len(), 1, "one token has one successor: {successors:?}");
    assert_json(app.refresh_raw(&latest).await, StatusCode::OK).await;
    me(&app, &reg.access_token).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_token_presented_after_the_grace_period_revokes_the_login() {
    let app = spawn_app_with(&[("CONFAB_REFRESH_GRACE_SECONDS", "1")]).await;
    let reg = app.register("first@example.com").await;
    let resp = app.refresh_raw(&reg.cookies).await;
    let mut newest = reg.cookies.clone();
    newest.merge(Cookies::from_response(&resp));
    assert_json(resp, StatusCode::OK).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_error(app.refresh_raw(&reg.cookies).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_error(app.refresh_raw(&newest).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let resp = send(app.bearer(Method::GET, "/auth/me", &reg.access_token)).await;
    assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", "access token of the revoked login")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_logins_access_tokens_at_once() {
    let app = spawn_app().await;
    let user = app.register("first@example.com").await;
    let other_device = app.login("first@example.com", PASSWORD).await;
    let all = [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE];
    let resp =
        send(app.with_cookies(Method::POST, "/auth/logout", &user.cookies, &all, Some(user.csrf()))).await;
    assert_no_content(resp).await;
    let resp = send(app.bearer(Method::GET, "/auth/me", &user.access_token)).await;
    assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", "bearer after logout").await;
    let by_cookie = app.with_cookies(Method::GET, "/auth/me", &user.cookies, &[ACCESS_COOKIE], None);
    assert_error_ctx(send(by_cookie).await, StatusCode::UNAUTHORIZED, "unauthorized", "cookie").await;
    // A program logs out with its access token alone (a stale refresh cookie beside it
    // changes nothing); the other login lives on.
    let third = app.login("first@example.com", PASSWORD).await;
    let stale = format!("{REFRESH_COOKIE}=no-such-token");
    let logout = app.bearer(Method::POST, "/auth/logout", &third.access_token).header("cookie", stale);
    assert_no_content(send(logout).await).await;
    let resp = send(app.bearer(Method::GET, "/auth/me", &third.access_token)).await;
    assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", "bearer logout").await;
    me(&app, &other_device.access_token).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_csrf_token_is_bound_to_the_login() {
    let app = spawn_app().await;
    let (admin, user) = app.admin_and_user().await;
    let create = |csrf_cookie: &str, csrf_header: &str| {
        let cookie =
            format!("{ACCESS_COOKIE}={}; {CSRF_COOKIE}={csrf_cookie}", user.cookies.value(ACCESS_COOKIE));
        let req =
            app.request(Method::POST, "/sessions").header("cookie", cookie).header(CSRF_HEADER, csrf_header);
        send(req.json(&json!({})))
    };
    for (case, cookie, header) in
        [("planted pair", "x", "x"), ("another login's", admin.csrf(), admin.csrf())]
    {
        assert_error_ctx(create(cookie, header).await, StatusCode::FORBIDDEN, "csrf_failed", case).await;
    }
    assert_json(create(user.csrf(), user.csrf()).await, StatusCode::CREATED).await;
    // Refreshing keeps the login's CSRF token.
    let refreshed = Cookies::from_response(&app.refresh_raw(&user.cookies).await);
    assert_eq!(refreshed.value(CSRF_COOKIE), user.csrf());
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_cannot_manage_api_keys() {
    let app = spawn_app().await;
    let user = app.register("first@example.com").await;
    let created = app.create_api_key(&user.access_token, "ci");
    let key = str_field(&created.await, "key");
    let own_id = str_field(&app.get_ok(&user.access_token, "/auth/api-keys").await["items"][0], "id");
    let attempts = [
        (Method::POST, "/auth/api-keys".to_string(), Some(json!({"name": "more"}))),
        (Method::GET, "/auth/api-keys".to_string(), None),
        (Method::DELETE, format!("/auth/api-keys/{own_id}"), None),
    ];
    for (method, path, body) in attempts {
        let mut req = app.bearer(method.clone(), &path, &key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        assert_error_ctx(send(req).await, StatusCode::FORBIDDEN, "insufficient_scope", &path).await;
    }
    let keys = app.get_ok(&user.access_token, "/auth/api-keys").await;
    assert_eq!(keys["items"].as_array().map(Vec::len), Some(1), "no key was made or revoked: {keys}");
    app.get_ok(&key, "/auth/me").await;
}

/// A login from another loopback address: another client, as far as the server knows.
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> Response {
    let client = reqwest::Client::builder().local_address(ip.parse::<std::net::IpAddr>().ok()).build();
    let req = client.expect("client").post(app.url("/auth/login"));
    send(req.json(&json!({"email": email, "password": password}))).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_client_cannot_lock_the_owner_out() {
    let app = spawn_app_with(&[("CONFAB_LOGIN_MAX_FAILURES", "3")]).await;
    app.register("victim@example.com").await;
    for _ in 0..3 {
        let resp = login_from(&app, "127.0.0.2", "victim@example.com", "wrong password!").await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let resp = login_from(&app, "127.0.0.2", "victim@example.com", PASSWORD).await;
    assert_throttled(resp, "account_locked").await;
    // Past the account's limit, a second failing client backs off after one failure…
    let resp = login_from(&app, "127.0.0.3", "victim@example.com", "wrong password!").await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let resp = login_from(&app, "127.0.0.3", "victim@example.com", "wrong password!").await;
    let retry = assert_throttled(resp, "account_locked").await;
    assert!(retry <= 2, "backoff after the first failure over the limit: {retry}");
    // …while the owner, who has not been failing, signs in.
    assert_json(login_from(&app, "127.0.0.4", "victim@example.com", PASSWORD).await, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lookalike_emails_name_one_account() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    for lookalike in ["ＡＤＡ@example.com", "ADA@EXAMPLE.COM", "ada@ｅｘａｍｐｌｅ.com"] {
        let resp = app.register_raw(lookalike, PASSWORD).await;
        assert_error_ctx(resp, StatusCode::CONFLICT, "email_taken", lookalike).await;
    }
    let fullwidth = app.login("ＡＤＡ@example.com", PASSWORD).await;
    assert_eq!(fullwidth.user()["email"], "ada@example.com");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let user = app.register("first@example.com").await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let header = format!("{scheme} {}", user.access_token);
        let resp = send(app.request(Method::GET, "/auth/me").header("authorization", header)).await;
        assert_json(resp, StatusCode::OK).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_wrong_passwords_cannot_outrun_the_lockout() {
    let app = spawn_app_with(&[("CONFAB_LOGIN_MAX_FAILURES", "3")]).await;
    app.register("victim@example.com").await;
    let guesses: Vec<String> = (0..12).map(|i| format!("guess number {i}")).collect();
    let attempts = guesses.iter().map(|g| app.login_raw("victim@example.com", g));
    // Password checks answered 401; the rest must have been refused as locked.
    let checked =
        race(attempts, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS, "account_locked").await;
    assert!(checked <= 3, "{checked} passwords were tried against a limit of 3 failures");
    assert_throttled(app.login_raw("victim@example.com", PASSWORD).await, "account_locked").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_logins_cannot_outrun_the_ip_limit() {
    let app = spawn_app_with(&[("CONFAB_LOGIN_MAX_PER_MINUTE", "5")]).await;
    avoid_minute_edge().await;
    app.register("first@example.com").await;
    let attempts = (0..10).map(|_| app.login_raw("first@example.com", PASSWORD));
    let allowed = race(attempts, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(allowed, 4, "5 attempts a minute, one spent on registering");
}
