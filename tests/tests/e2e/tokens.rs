//! Forged and misused Bearer tokens. A correctly signed control token proves the
//! forging method; every attack must then get 401.

use confab_tests::*;

struct Attack {
    name: &'static str,
    token: String,
}

/// Every token an attacker might try, given the server's key material and two users.
fn attacks(key: &ServerKey, jwks_x: &str, victim: &Registered, other: &Registered) -> Vec<Attack> {
    let claims = access_claims(&victim.id, &victim.login_id());
    let with = |patch: Value| with_claims(victim, patch);
    let t = now();
    let server = |typ: &str, c: &Value| sign_eddsa(&key.pkcs8_der, &key.kid, typ, c);
    let mut tampered = peek_claims(&victim.access_token);
    tampered["sub"] = json!(other.id);
    vec![
        Attack {
            name: "alg none",
            token: unsigned_token(&json!({"alg": "none", "typ": "at+jwt", "kid": key.kid}), &claims),
        },
        Attack {
            name: "alg none with the real signature",
            token: {
                let sig = victim.access_token.rsplit('.').next().unwrap();
                let none = unsigned_token(&json!({"alg": "none", "typ": "at+jwt", "kid": key.kid}), &claims);
                format!("{none}{sig}")
            },
        },
        Attack {
            name: "HS256 keyed with the public key bytes",
            token: sign_hs256(&b64url_decode(jwks_x), &key.kid, &claims),
        },
        Attack {
            name: "HS256 keyed with the base64url public key text",
            token: sign_hs256(jwks_x.as_bytes(), &key.kid, &claims),
        },
        Attack { name: "unknown kid", token: sign_eddsa(&key.pkcs8_der, "no-such-kid", "at+jwt", &claims) },
        Attack {
            name: "foreign Ed25519 key under the server's kid",
            token: sign_eddsa(&foreign_ed25519_pkcs8(), &key.kid, "at+jwt", &claims),
        },
        Attack {
            name: "expired",
            token: server("at+jwt", &with(json!({"exp": t - 3600, "iat": t - 4500, "nbf": t - 4500}))),
        },
        Attack {
            name: "nbf in the future",
            token: server("at+jwt", &with(json!({"nbf": t + 3600, "exp": t + 7200}))),
        },
        Attack { name: "wrong aud", token: server("at+jwt", &with(json!({"aud": "some-other-api"}))) },
        Attack { name: "wrong iss", token: server("at+jwt", &with(json!({"iss": "https://evil.example"}))) },
        Attack { name: "wrong typ", token: server("JWT", &claims) },
        Attack { name: "no login", token: server("at+jwt", &with(json!({"sid": null}))) },
        Attack { name: "unknown login", token: server("at+jwt", &with(json!({"sid": UNKNOWN_ID}))) },
        Attack {
            name: "another user's login",
            token: server("at+jwt", &with(json!({"sid": other.login_id()}))),
        },
        Attack {
            name: "tampered payload (sub swapped, signature kept)",
            token: with_payload(&victim.access_token, &tampered),
        },
        Attack { name: "refresh token as Bearer", token: victim.cookies.value(REFRESH_COOKIE).to_string() },
        Attack { name: "csrf token as Bearer", token: victim.csrf().to_string() },
        Attack { name: "API-key-looking garbage", token: format!("cfk_{}", "A1b2C3d4".repeat(5)) },
        Attack { name: "random garbage", token: "garbage".into() },
        Attack { name: "three garbage segments", token: "aaa.bbb.ccc".into() },
        Attack {
            name: "truncated signature",
            token: victim.access_token[..victim.access_token.len() - 4].to_string(),
        },
    ]
}

/// `who`'s valid claims with some replaced.
fn with_claims(who: &Registered, patch: Value) -> Value {
    let mut claims = access_claims(&who.id, &who.login_id());
    claims.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
    claims
}

async fn get_me(app: &TestApp, token: &str) -> Response {
    send(app.bearer(Method::GET, "/auth/me", token)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_misused_tokens_are_rejected() {
    let app = spawn_app().await;
    let (victim, other) = app.admin_and_user().await;
    let key = app.read_signing_key();
    let jwks = app.get_ok(&victim.access_token, "/auth/jwks.json").await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == key.kid.as_str())
        .expect("current key published")
        .clone();

    // Control: our own correctly signed token is accepted, for the right user.
    let control =
        sign_eddsa(&key.pkcs8_der, &key.kid, "at+jwt", &access_claims(&victim.id, &victim.login_id()));
    let body = assert_json(get_me(&app, &control).await, StatusCode::OK).await;
    assert_eq!(body["user"]["id"], victim.id.as_str());

    for attack in attacks(&key, &str_field(&jwk, "x"), &victim, &other) {
        let resp = get_me(&app, &attack.token).await;
        assert_error_ctx(resp, StatusCode::UNAUTHORIZED, "unauthorized", attack.name).await;
    }
    // Extreme time claims are judged without overflowing (a panic would drop the request).
    let extreme = with_claims(&victim, json!({"exp": i64::MAX, "nbf": i64::MIN}));
    let resp = get_me(&app, &sign_eddsa(&key.pkcs8_der, &key.kid, "at+jwt", &extreme)).await;
    assert_json(resp, StatusCode::OK).await;
    // An admin-only route is no easier to reach with a forged token.
    let none = unsigned_token(
        &json!({"alg": "none", "typ": "at+jwt"}),
        &access_claims(&victim.id, &victim.login_id()),
    );
    let resp = send(app.bearer(Method::GET, "/admin/users", &none)).await;
    assert_error(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_authorization_headers_are_rejected() {
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;
    let table = [
        ("empty bearer", "Bearer ".to_string()),
        ("basic scheme", "Basic Zm9vOmJhcg==".to_string()),
        ("token without scheme", reg.access_token.clone()),
        ("two tokens", format!("Bearer {} {}", reg.access_token, reg.access_token)),
    ];
    for (case, value) in table {
        let req = app.request(Method::GET, "/auth/me").header("authorization", value);
        assert_error_ctx(send(req).await, StatusCode::UNAUTHORIZED, "unauthorized", case).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_signature_for_an_unknown_user_is_rejected() {
    // A valid token for a user id that does not exist is no way in either.
    let app = spawn_app().await;
    let reg = app.register("first@example.com").await;
    let key = app.read_signing_key();
    let token = sign_eddsa(&key.pkcs8_der, &key.kid, "at+jwt", &access_claims(UNKNOWN_ID, &reg.login_id()));
    assert_error(get_me(&app, &token).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_settings_are_honoured() {
    let app = spawn_app_with(&[
        ("CONFAB_ACCESS_TTL_SECONDS", "120"),
        ("CONFAB_JWT_ISSUER", "issuer-x"),
        ("CONFAB_JWT_AUDIENCE", "audience-x"),
    ])
    .await;
    let reg = app.register("first@example.com").await;
    assert_eq!(reg.body["expires_in"], 120);
    assert_eq!(reg.cookies.get(ACCESS_COOKIE).attr("Max-Age"), Some("120"));
    let claims = peek_claims(&reg.access_token);
    assert_eq!((&claims["iss"], &claims["aud"]), (&json!("issuer-x"), &json!("audience-x")));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);

    let key = app.read_signing_key();
    let mut custom = access_claims(&reg.id, &reg.login_id());
    custom["iss"] = json!("issuer-x");
    custom["aud"] = json!("audience-x");
    let accepted = sign_eddsa(&key.pkcs8_der, &key.kid, "at+jwt", &custom);
    assert_json(get_me(&app, &accepted).await, StatusCode::OK).await;
    // The defaults are now the wrong issuer and audience.
    let defaults = sign_eddsa(&key.pkcs8_der, &key.kid, "at+jwt", &access_claims(&reg.id, &reg.login_id()));
    assert_error(get_me(&app, &defaults).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
}
