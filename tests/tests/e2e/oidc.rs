//! Sign-in from identity providers: the whole redirect flow against a real, certified
//! provider (node-oidc-provider), and every refusal against a hostile one. A refusal is
//! always a redirect to `/?auth_error=<code>` with no session cookie and nothing stored.

use confab_core::repo::identities::item_key;
use confab_tests::oidc::*;
use confab_tests::*;

fn settings(pairs: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = pairs.to_vec();
    all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

async fn app_with(settings: &[(String, String)]) -> TestApp {
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_with(&pairs).await
}

/// The query parameter `name` of `url`.
fn param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).expect("a URL");
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Asserts a failed sign-in's answer: to `/?auth_error=<code>`, no session cookie.
fn assert_refused(resp: &Response, code: &str, ctx: &str) {
    assert_eq!(resp.status(), StatusCode::FOUND, "{ctx}");
    let location = header(resp, "location").unwrap_or_default();
    assert_eq!(location, format!("/?auth_error={code}"), "{ctx}");
    let cookies = Cookies::from_response(resp);
    for name in [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE] {
        assert!(!cookies.0.contains_key(name), "{ctx}: {name} was set");
    }
}

async fn nothing_stored(app: &TestApp, iss: &str, sub: &str, email: &str) {
    let (pk, sk) = item_key(iss, sub);
    assert!(stored_item(app.data_dir(), &pk, sk).await.is_none(), "an identity was stored");
    assert!(
        stored_item(app.data_dir(), &format!("EMAIL#{email}"), "EMAIL").await.is_none(),
        "a user was stored"
    );
}

// ---------------------------------------------------------------------------------------
// Against node-oidc-provider.

async fn real_app(provider: &RealProvider) -> TestApp {
    let base = provider_settings("corp", &provider.issuer, &provider.client_secret);
    app_with(&settings(&base, &[("CONFAB_OIDC_CORP_DISPLAY_NAME", "Corp SSO")])).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_provider_signs_in_creates_the_account_once_and_the_login_works() {
    let provider = RealProvider::start("corp", accounts());
    let app = real_app(&provider).await;
    let admin = app.register("admin@example.com").await;
    let list =
        assert_json(send(app.request(Method::GET, "/auth/oidc/providers")).await, StatusCode::OK).await;
    assert_eq!(list, json!({"items": [{"name": "corp", "display_name": "Corp SSO"}]}));

    let mut browser = Browser::new();
    let resp = sign_in(&mut browser, &app, "alice", "/sessions?tab=1").await;
    let cookies = assert_signed_in(&resp, "/sessions?tab=1");
    let user = me(&app, &cookies).await;
    assert_eq!(
        (user["email"].as_str(), user["name"].as_str(), user["role"].as_str()),
        (Some(ALICE), Some("Alice"), Some("user"))
    );
    let refreshed = app.refresh_raw(&cookies).await;
    assert_json(refreshed, StatusCode::OK).await;

    // Again, in another browser: the same account.
    let resp = sign_in(&mut Browser::new(), &app, "alice", "/").await;
    let again = me(&app, &assert_signed_in(&resp, "/")).await;
    assert_eq!(again["id"], user["id"]);
    // No password was ever set: password login cannot open the account.
    for password in ["", PASSWORD] {
        assert_error(app.login_raw(ALICE, password).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
            .await;
    }

    let user_id = str_field(&user, "id");
    let actions = app.audit_actions(&admin, &user_id).await;
    for action in ["auth.oidc_registered", "auth.oidc_login"] {
        assert!(actions.contains(&action.to_string()), "{action} in {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_provider_requires_pkce_and_its_refusals_reach_the_browser() {
    let provider = RealProvider::start("corp", accounts());
    let app = real_app(&provider).await;
    let mut browser = Browser::new();

    // A code obtained with a challenge cannot be redeemed without its verifier.
    let authorize = start(&mut browser, &app, "corp", "/").await;
    let callback = browser.sign_in_at_provider(&app, &authorize, "alice").await;
    let code = param(&callback, "code").expect("a code");
    let redirect_uri = format!("{PUBLIC_URL}/auth/oidc/corp/callback");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
    ];
    let resp = reqwest::Client::new()
        .post(format!("{}/token", provider.issuer))
        .basic_auth(CLIENT_ID, Some(&provider.client_secret))
        .form(&form)
        .send()
        .await
        .expect("token endpoint");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"], "invalid_grant");

    // An authorization request without a challenge is refused by the provider, and
    // confab turns its error redirect into a refusal.
    let authorize = start(&mut browser, &app, "corp", "/").await;
    let mut stripped = reqwest::Url::parse(&authorize).expect("url");
    let kept: Vec<(String, String)> = stripped
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    stripped.query_pairs_mut().clear().extend_pairs(&kept);
    let resp = browser.get(stripped.as_str()).await;
    let back = location(&resp, stripped.as_str());
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"), "{back}");
    let back = back.replacen(PUBLIC_URL, &app.base_url, 1);
    assert_refused(&browser.get(&back).await, "provider_error", "no PKCE challenge");

    // An unverified email never makes an account (a new browser: no provider session).
    let resp = sign_in(&mut Browser::new(), &app, "mallory", "/").await;
    assert_refused(&resp, "email_not_verified", "unverified email");
    nothing_stored(&app, &provider.issuer, "mallory", "mallory@corp.example").await;
}

// ---------------------------------------------------------------------------------------
// Against a hostile provider.

struct Hostile {
    app: TestApp,
    idp: HostileProvider,
}

async fn hostile(extra: &[(&str, &str)]) -> Hostile {
    let idp = HostileProvider::start().await;
    let base = provider_settings("evil", &idp.issuer, "evil-secret");
    let app = app_with(&settings(&base, extra)).await;
    Hostile { app, idp }
}

/// A started sign-in: the state and the nonce the provider would see.
struct Attempt {
    state: String,
    nonce: String,
}

impl Hostile {
    async fn start(&self) -> Attempt {
        let resp = send(self.app.request(Method::GET, "/auth/oidc/evil/start")).await;
        let authorize = header(&resp, "location").expect("a redirect");
        assert!(authorize.starts_with(&format!("{}/authorize?", self.idp.issuer)), "{authorize}");
        let state = param(&authorize, "state").expect("state");
        assert_eq!(Cookies::from_response(&resp).value(STATE_COOKIE), state);
        Attempt { state, nonce: param(&authorize, "nonce").expect("nonce") }
    }

    /// The callback for `attempt`, with `cookie` as the state cookie.
    async fn callback_with(&self, state: &str, cookie: Option<&str>) -> Response {
        let path = format!("/auth/oidc/evil/callback?code=the-code&state={state}");
        let req = self.app.request(Method::GET, &path);
        let req = match cookie {
            Some(value) => req.header("cookie", format!("{STATE_COOKIE}={value}")),
            None => req,
        };
        send(req).await
    }

    async fn callback(&self, attempt: &Attempt) -> Response {
        self.callback_with(&attempt.state, Some(&attempt.state)).await
    }

    /// A sign-in whose token is `claims` changed by `change`, signed with the good key.
    async fn with_claims(&self, email: &str, change: impl FnOnce(&mut Value)) -> Response {
        let attempt = self.start().await;
        let mut claims = self.idp.claims(&attempt.nonce, email);
        change(&mut claims);
        self.idp.answer(self.idp.key.sign(&claims));
        self.callback(&attempt).await
    }

    async fn refused_claims(&self, change: impl FnOnce(&mut Value), code: &str, ctx: &str) {
        let resp = self.with_claims("eve@evil.example", change).await;
        assert_refused(&resp, code, ctx);
        self.nothing_stored("eve@evil.example").await;
    }

    async fn refused_token(
        &self,
        token: impl FnOnce(&HostileProvider, &str) -> String,
        code: &str,
        ctx: &str,
    ) {
        let attempt = self.start().await;
        self.idp.answer(token(&self.idp, &attempt.nonce));
        assert_refused(&self.callback(&attempt).await, code, ctx);
        self.nothing_stored("eve@evil.example").await;
    }

    async fn nothing_stored(&self, email: &str) {
        nothing_stored(&self.app, &self.idp.issuer, &format!("sub-{email}"), email).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_token_from_the_hostile_provider_signs_in() {
    let h = hostile(&[]).await;
    let resp = h.with_claims("eve@evil.example", |_| {}).await;
    let cookies = assert_signed_in(&resp, "/");
    assert_eq!(me(&h.app, &cookies).await["email"], "eve@evil.example");
    let state_cleared = Cookies::from_response(&resp);
    assert_eq!(state_cleared.get(STATE_COOKIE).attr("Max-Age"), Some("0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_nonce_is_refused() {
    let h = hostile(&[]).await;
    h.refused_claims(|c| c["nonce"] = json!("another"), "invalid_token", "wrong nonce").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_audience_is_refused() {
    let h = hostile(&[]).await;
    h.refused_claims(|c| c["aud"] = json!("another-client"), "invalid_token", "wrong aud").await;
    h.refused_claims(|c| c["aud"] = json!(["another-client", CLIENT_ID]), "invalid_token", "no azp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_issuer_is_refused() {
    let h = hostile(&[]).await;
    h.refused_claims(|c| c["iss"] = json!("https://accounts.google.com"), "invalid_token", "wrong iss").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_refused() {
    let h = hostile(&[]).await;
    h.refused_claims(|c| c["exp"] = json!(now() - 3600), "invalid_token", "expired").await;
    h.refused_claims(|c| c["iat"] = json!(now() + 3600), "invalid_token", "issued in the future").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_token_is_refused() {
    let h = hostile(&[]).await;
    let unsigned = |idp: &HostileProvider, nonce: &str| {
        let header = json!({"alg": "none", "typ": "JWT", "kid": idp.key.kid});
        let claims = idp.claims(nonce, "eve@evil.example");
        format!("{}.{}.", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()))
    };
    h.refused_token(unsigned, "invalid_token", "alg none").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_signed_by_a_key_not_in_the_jwks_is_refused() {
    let h = hostile(&[]).await;
    let stranger = TestKey::new();
    h.refused_token(
        |idp, nonce| stranger.sign(&idp.claims(nonce, "eve@evil.example")),
        "invalid_token",
        "unknown key",
    )
    .await;
    let forged = |idp: &HostileProvider, nonce: &str| {
        let header = jsonwebtoken::Header {
            kid: Some(idp.key.kid.clone()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA)
        };
        jsonwebtoken::encode(&header, &idp.claims(nonce, "eve@evil.example"), &stranger.encoding)
            .expect("sign")
    };
    h.refused_token(forged, "invalid_token", "another key under the provider's kid").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hs256_keyed_with_the_public_key_is_refused() {
    let h = hostile(&[]).await;
    let jwks = json!({ "keys": [h.idp.key.jwk] }).to_string();
    let x = h.idp.key.jwk["x"].as_str().expect("x").to_string();
    for secret in [jwks, x] {
        let hmac = |idp: &HostileProvider, nonce: &str| {
            let header = jsonwebtoken::Header {
                kid: Some(idp.key.kid.clone()),
                ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
            };
            let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
            jsonwebtoken::encode(&header, &idp.claims(nonce, "eve@evil.example"), &key).expect("sign")
        };
        h.refused_token(hmac, "invalid_token", "HS256 with the public key").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_state_is_refused() {
    let h = hostile(&[]).await;
    let attempt = h.start().await;
    h.idp.answer(h.idp.key.sign(&h.idp.claims(&attempt.nonce, "eve@evil.example")));
    assert_refused(
        &h.callback_with(&attempt.state, Some("another-state")).await,
        "invalid_state",
        "cookie mismatch",
    );
    assert_refused(&h.callback_with(&attempt.state, None).await, "invalid_state", "no cookie");
    let unknown = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_refused(&h.callback_with(unknown, Some(unknown)).await, "invalid_state", "unknown state");
    h.nothing_stored("eve@evil.example").await;
    // The attempt itself is still good: refusals did not consume it.
    assert_signed_in(&h.callback(&attempt).await, "/");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_state_is_refused() {
    let h = hostile(&[]).await;
    let attempt = h.start().await;
    h.idp.answer(h.idp.key.sign(&h.idp.claims(&attempt.nonce, "eve@evil.example")));
    assert_signed_in(&h.callback(&attempt).await, "/");
    assert_refused(&h.callback(&attempt).await, "invalid_state", "the same callback twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unverified_email_is_refused() {
    let h = hostile(&[]).await;
    h.refused_claims(|c| c["email_verified"] = json!(false), "email_not_verified", "unverified").await;
    h.refused_claims(|c| c["email_verified"] = json!("yes"), "email_not_verified", "not a boolean").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_not_allowed_is_refused() {
    let h = hostile(&[("CONFAB_OIDC_EVIL_ALLOWED_DOMAINS", "corp.example")]).await;
    h.refused_claims(|_| {}, "domain_not_allowed", "evil.example").await;
    let resp = h.with_claims("Bob@Corp.Example", |_| {}).await;
    assert_eq!(me(&h.app, &assert_signed_in(&resp, "/")).await["email"], "bob@corp.example");
    // A full-width lookalike folds to the allowed domain, but it is another mailbox.
    let lookalike = "mallory@\u{ff43}orp.example";
    assert_refused(&h.with_claims(lookalike, |_| {}).await, "invalid_token", "a lookalike domain");
    nothing_stored(&h.app, &h.idp.issuer, &format!("sub-{lookalike}"), "mallory@corp.example").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_accounts_email_is_not_linked_by_default() {
    let h = hostile(&[]).await;
    let owner = h.app.register("eve@evil.example").await;
    let resp = h.with_claims("eve@evil.example", |_| {}).await;
    assert_refused(&resp, "account_exists", "existing account");
    let (pk, sk) = item_key(&h.idp.issuer, "sub-eve@evil.example");
    assert!(stored_item(h.app.data_dir(), &pk, sk).await.is_none(), "no link was made");
    let actions = h.app.audit_actions(&owner, &owner.id).await;
    assert!(actions.contains(&"auth.oidc_failed".to_string()), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_accounts_email_is_linked_with_link_by_email() {
    let h = hostile(&[("CONFAB_OIDC_EVIL_LINK_BY_EMAIL", "true")]).await;
    let admin = h.app.register("admin@example.com").await;
    // Anyone may register any address: this password account may be a squatter's.
    let squatter = h.app.register("eve@evil.example").await;
    let key = str_field(&h.app.create_api_key(&squatter.access_token, "kept").await, "key");
    // Cutoffs are whole seconds: the link must come in a later one than the squatter's logins.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resp = h.with_claims("EVE@evil.example", |_| {}).await;
    let owner = assert_signed_in(&resp, "/");
    assert_eq!(me(&h.app, &owner).await["id"], squatter.user()["id"]);
    let actions = h.app.audit_actions(&admin, &squatter.id).await;
    assert!(actions.contains(&"auth.oidc_linked".to_string()), "{actions:?}");
    // Linking ended the password and everything signed in with it.
    assert_error(
        h.app.login_raw("eve@evil.example", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    for token in [squatter.access_token.as_str(), key.as_str()] {
        let resp = send(h.app.bearer(Method::GET, "/auth/me", token)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(h.app.refresh_raw(&squatter.cookies).await.status(), StatusCode::UNAUTHORIZED);
    // The link is used from now on.
    let resp = h.with_claims("eve@evil.example", |_| {}).await;
    assert_eq!(me(&h.app, &assert_signed_in(&resp, "/")).await["id"], squatter.user()["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_without_a_password_is_deleted_after_a_fresh_sign_in() {
    let h = hostile(&[]).await;
    let cookies = assert_signed_in(&h.with_claims("eve@evil.example", |_| {}).await, "/");
    let token = cookies.value(ACCESS_COOKIE).to_string();
    // A sign-in older than ten minutes is not proof enough: sign in again.
    let family = format!("FAMILY#{}", str_field(&peek_claims(&token), "sid"));
    let mut record = stored_item(h.app.data_dir(), &family, "FAMILY").await.expect("the login");
    let created = record.data["created_at"].as_i64().expect("created_at");
    record.data.insert("created_at".into(), json!(created - 601));
    put_stored_item(h.app.data_dir(), record).await;
    let resp = send(h.app.bearer(Method::DELETE, "/auth/me", &token).json(&json!({}))).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "sign_in_again").await;

    let cookies = assert_signed_in(&h.with_claims("eve@evil.example", |_| {}).await, "/");
    let token = cookies.value(ACCESS_COOKIE).to_string();
    assert_no_content(send(h.app.bearer(Method::DELETE, "/auth/me", &token).json(&json!({}))).await).await;
    assert_eq!(send(h.app.bearer(Method::GET, "/auth/me", &token)).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_account_with_mfa_is_refused() {
    let h = hostile(&[]).await;
    let resp = h.with_claims("eve@evil.example", |_| {}).await;
    let cookies = assert_signed_in(&resp, "/");
    let user = me(&h.app, &cookies).await;
    // Given a password (a reset link) and then MFA, the account may not skip its code.
    let mut record = stored_item(h.app.data_dir(), &format!("USER#{}", str_field(&user, "id")), "USER")
        .await
        .expect("the user");
    record.data.insert("mfa_enabled".into(), json!(true));
    put_stored_item(h.app.data_dir(), record).await;
    assert_refused(&h.with_claims("eve@evil.example", |_| {}).await, "mfa_required", "mfa on");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_account_is_refused() {
    let h = hostile(&[("CONFAB_OIDC_EVIL_LINK_BY_EMAIL", "true")]).await;
    let admin = h.app.register("admin@example.com").await;
    let resp = h.with_claims("eve@evil.example", |_| {}).await;
    let user = me(&h.app, &assert_signed_in(&resp, "/")).await;
    let user_id = str_field(&user, "id");
    assert_eq!(
        h.app.patch_user(&admin.access_token, &user_id, json!({"disabled": true})).await.status(),
        StatusCode::OK
    );
    assert_refused(&h.with_claims("eve@evil.example", |_| {}).await, "account_disabled", "disabled");
}

#[tokio::test(flavor = "multi_thread")]
async fn return_to_must_stay_on_this_site() {
    let h = hostile(&[]).await;
    for bad in [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "evil",
        "/a\r\nSet-Cookie:x=1",
        "/a\u{7f}",
    ] {
        let query = serde_urlencoded_pair("return_to", bad);
        let resp = send(h.app.request(Method::GET, &format!("/auth/oidc/evil/start?{query}"))).await;
        assert_refused(&resp, "invalid_return_to", bad);
        assert!(
            !Cookies::from_response(&resp).0.contains_key(STATE_COOKIE),
            "{bad:?}: a state cookie was set"
        );
    }
    let resp = send(h.app.request(Method::GET, "/auth/oidc/nobody/start")).await;
    assert_refused(&resp, "unknown_provider", "unknown provider");
    let resp = send(h.app.request(Method::GET, "/auth/oidc/evil/start?return_to=/chat%3Fa%3D1")).await;
    let state = Cookies::from_response(&resp).value(STATE_COOKIE).to_string();
    let nonce = param(&header(&resp, "location").expect("location"), "nonce").expect("nonce");
    h.idp.answer(h.idp.key.sign(&h.idp.claims(&nonce, "eve@evil.example")));
    assert_signed_in(&h.callback_with(&state, Some(&state)).await, "/chat?a=1");
}
