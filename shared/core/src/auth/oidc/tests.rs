//! The flow against a scripted provider (FakeHttp) on a manual clock: discovery and key
//! caching, PKCE and state, and every ID token check.

use super::discovery::{self, Keys};
use super::id_token::{self, Expected};
use super::settings::{ClientSecret, OidcProvider};
use super::*;
use crate::auth::keys::new_key;
use crate::auth::passwords;
use crate::config::Config;
use crate::testing::{self, ManualClock, Reply, SeededRandom, TestApp};
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use std::time::Duration;

const ISSUER: &str = "https://id.example.com";
const NOW: i64 = 1_750_000_000;

fn corp() -> OidcProvider {
    OidcProvider {
        name: "corp".into(),
        display_name: "Corp".into(),
        issuer: ISSUER.into(),
        client_id: "confab".into(),
        client_secret: ClientSecret::Value("s3cret".into()),
        scopes: "openid email".into(),
        allowed_domains: vec![],
        link_by_email: false,
    }
}

fn test_app() -> TestApp {
    let config = Config {
        public_url: Some("https://chat.example.com".into()),
        oidc_providers: vec![corp()],
        ..Config::default()
    };
    testing::app().with_clock(ManualClock::at(NOW)).with_config(config).build()
}

fn discovery_doc() -> Value {
    json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://id.example.com/authorize",
        "token_endpoint": "https://id.example.com/token",
        "jwks_uri": "https://id.example.com/jwks",
        "id_token_signing_alg_values_supported": ["EdDSA", "HS256", "none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    })
}

fn reply(body: &Value) -> Reply {
    Reply::new(200).body(body.to_string())
}

/// A provider signing key: its private half, for tokens, and its JWK.
struct Key {
    encoding: EncodingKey,
    jwk: Value,
    kid: String,
}

fn key(seed: u64) -> Key {
    let (entry, jwk) = new_key(&SeededRandom::new(seed), &ManualClock::at(NOW));
    let der = STANDARD.decode(entry.private_key_pkcs8).unwrap();
    Key { encoding: EncodingKey::from_ed_der(&der), jwk: serde_json::to_value(&jwk).unwrap(), kid: entry.kid }
}

fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

fn claims(nonce: &str) -> Value {
    json!({
        "iss": ISSUER, "sub": "user-1", "aud": "confab", "exp": NOW + 300, "iat": NOW,
        "nonce": nonce, "email": "Ada@Example.com", "email_verified": true, "name": "Ada",
    })
}

fn sign(key: &Key, claims: &Value) -> String {
    let header = Header { kid: Some(key.kid.clone()), ..Header::new(Algorithm::EdDSA) };
    encode(&header, claims, &key.encoding).unwrap()
}

fn expected(nonce: &str) -> Expected<'_> {
    Expected { issuer: ISSUER, client_id: "confab", nonce, now: NOW, algorithms: &[Algorithm::EdDSA] }
}

fn check(token: &str, keys: &Keys) -> Result<id_token::Identity, Failure> {
    let expected = expected("n-1");
    let header = id_token::header(token, &expected)?;
    id_token::verify(token, &header, keys, &expected)
}

fn rejected(token: &str, keys: &Keys, what: &str) {
    assert!(matches!(check(token, keys), Err(Failure::InvalidToken(_))), "{what} was accepted");
}

#[test]
fn discovery_is_cached_for_its_ttl_and_checked() {
    let t = test_app();
    let corp = corp();
    t.http.reply(reply(&discovery_doc()));
    let found = t.run(discovery::discovery(&t.app, &corp)).unwrap();
    assert_eq!(found.algorithms, [Algorithm::EdDSA], "HMAC and none are never allowed");
    assert!(found.basic_auth);
    t.clock.advance(Duration::from_secs(3599));
    t.run(discovery::discovery(&t.app, &corp)).unwrap();
    assert_eq!(t.http.sent().len(), 1, "served from the cache");
    assert_eq!(t.http.sent()[0].uri, "https://id.example.com/.well-known/openid-configuration");
    t.clock.advance(Duration::from_secs(1));
    let mut wrong = discovery_doc();
    wrong["issuer"] = json!("https://evil.example.com");
    t.http.reply(reply(&wrong));
    assert!(matches!(t.run(discovery::discovery(&t.app, &corp)), Err(Failure::Provider(_))));
    let mut plain = discovery_doc();
    plain["token_endpoint"] = json!("http://id.example.com/token");
    t.http.reply(reply(&plain));
    assert!(matches!(t.run(discovery::discovery(&t.app, &corp)), Err(Failure::Provider(_))));
    t.http.reply(Reply::new(200).body(vec![b' '; 300 * 1024]));
    assert!(matches!(t.run(discovery::discovery(&t.app, &corp)), Err(Failure::Provider(_))), "oversized");
}

#[test]
fn a_loopback_issuer_names_plain_http_endpoints_on_this_machine_only() {
    let t = test_app();
    let local = OidcProvider { issuer: "http://127.0.0.1:4000".into(), ..corp() };
    let doc = |token_endpoint: &str| {
        let mut doc = discovery_doc();
        doc["issuer"] = json!(local.issuer);
        for (key, url) in [
            ("authorization_endpoint", "http://127.0.0.1:4000/auth"),
            ("token_endpoint", token_endpoint),
            ("jwks_uri", "http://localhost:4000/jwks"),
        ] {
            doc[key] = json!(url);
        }
        doc
    };
    t.http.reply(reply(&doc("http://id.example.com/token")));
    assert!(matches!(t.run(discovery::discovery(&t.app, &local)), Err(Failure::Provider(_))));
    t.http.reply(reply(&doc("http://[::1]:4000/token")));
    t.run(discovery::discovery(&t.app, &local)).expect("every endpoint on loopback");
}

#[test]
fn keys_are_fetched_again_for_an_unknown_kid_at_most_once_a_minute() {
    let t = test_app();
    let corp = corp();
    let (k1, k2) = (key(1), key(2));
    t.http.reply(reply(&discovery_doc()));
    let found = t.run(discovery::discovery(&t.app, &corp)).unwrap();
    t.http.reply(reply(&jwks(&[&k1])));
    let keys = t.run(discovery::keys(&t.app, &corp, &found, Some(&k1.kid))).unwrap();
    assert!(keys.find(Some(&k1.kid)).is_some());
    t.clock.advance(Duration::from_secs(30));
    let keys = t.run(discovery::keys(&t.app, &corp, &found, Some(&k2.kid))).unwrap();
    assert!(keys.find(Some(&k2.kid)).is_none(), "an unknown kid within a minute is not fetched again");
    assert_eq!(t.http.sent().len(), 2);
    t.clock.advance(Duration::from_secs(30));
    t.http.reply(reply(&jwks(&[&k1, &k2])));
    let keys = t.run(discovery::keys(&t.app, &corp, &found, Some(&k2.kid))).unwrap();
    assert!(keys.find(Some(&k2.kid)).is_some(), "a rotated key is picked up");
    t.run(discovery::keys(&t.app, &corp, &found, Some(&k1.kid))).unwrap();
    assert_eq!(t.http.sent().len(), 3);
}

#[test]
fn a_good_token_names_the_identity() {
    let k = key(1);
    let keys = Keys::parse(&jwks(&[&k]));
    let identity = check(&sign(&k, &claims("n-1")), &keys).unwrap();
    assert_eq!((identity.iss.as_str(), identity.sub.as_str()), (ISSUER, "user-1"));
    assert_eq!(identity.verified_email.as_deref(), Some("Ada@Example.com"));
    let mut unverified = claims("n-1");
    unverified["email_verified"] = json!(false);
    assert_eq!(check(&sign(&k, &unverified), &keys).unwrap().verified_email, None);
    let mut several = claims("n-1");
    several["aud"] = json!(["other", "confab"]);
    several["azp"] = json!("confab");
    assert!(check(&sign(&k, &several), &keys).is_ok());
}

#[test]
fn bad_tokens_are_refused() {
    let (k, stranger) = (key(1), key(2));
    let keys = Keys::parse(&jwks(&[&k]));
    let changed = |field: &str, value: Value| {
        let mut c = claims("n-1");
        c[field] = value;
        sign(&k, &c)
    };
    rejected(&changed("nonce", json!("n-2")), &keys, "a wrong nonce");
    rejected(&changed("nonce", Value::Null), &keys, "no nonce");
    rejected(&changed("aud", json!("other")), &keys, "another audience");
    rejected(&changed("aud", json!(["other", "confab"])), &keys, "several audiences without azp");
    rejected(&changed("azp", json!("other")), &keys, "another authorized party");
    rejected(&changed("iss", json!("https://evil.example.com")), &keys, "another issuer");
    rejected(&changed("exp", json!(NOW - 61)), &keys, "an expired token");
    rejected(&changed("iat", json!(NOW + 120)), &keys, "a token from the future");
    rejected(&changed("exp", json!(i64::MIN)), &keys, "an overflowing exp");
    rejected(&changed("sub", json!("")), &keys, "an empty subject");
    rejected(&sign(&stranger, &claims("n-1")), &keys, "a key not in the JWKS");
    let mut forged_kid = Header::new(Algorithm::EdDSA);
    forged_kid.kid = Some(k.kid.clone());
    rejected(&encode(&forged_kid, &claims("n-1"), &stranger.encoding).unwrap(), &keys, "a forged signature");
    let mut tampered = sign(&k, &claims("n-1"));
    tampered.push('A');
    rejected(&tampered, &keys, "a tampered signature");
}

#[test]
fn none_and_hmac_with_the_public_key_are_refused() {
    let k = key(1);
    let keys = Keys::parse(&jwks(&[&k]));
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "kid": k.kid})), b64(&claims("n-1")));
    rejected(&unsigned, &keys, "alg none");
    let public = k.jwk["x"].as_str().unwrap();
    for secret in [public.as_bytes(), jwks(&[&k]).to_string().as_bytes()] {
        let header = Header { kid: Some(k.kid.clone()), ..Header::new(Algorithm::HS256) };
        let token = encode(&header, &claims("n-1"), &EncodingKey::from_secret(secret)).unwrap();
        rejected(&token, &keys, "HS256 keyed with the public key");
        // Even a provider that lists HS256 and publishes an `oct` key gets no HMAC.
        let oct = json!({"keys": [{"kty": "oct", "kid": k.kid, "k": URL_SAFE_NO_PAD.encode(secret)}]});
        let all = [Algorithm::EdDSA, Algorithm::HS256];
        let expected = Expected { algorithms: &all, ..expected("n-1") };
        let header = id_token::header(&token, &expected).unwrap();
        let verified = id_token::verify(&token, &header, &Keys::parse(&oct), &expected);
        assert!(matches!(verified, Err(Failure::InvalidToken(_))), "HMAC with an oct key");
    }
}

#[test]
fn start_and_finish_with_pkce_state_and_nonce() {
    let t = test_app();
    let corp = corp();
    let k = key(1);
    t.http.reply(reply(&discovery_doc()));
    let started = t.run(start(&t.app, &corp, "/chat?x=1".into())).unwrap();
    let query = started.location.strip_prefix("https://id.example.com/authorize?").unwrap();
    let params: std::collections::HashMap<String, String> = serde_urlencoded::from_str(query).unwrap();
    assert_eq!(params["state"], started.state);
    assert_eq!(params["redirect_uri"], "https://chat.example.com/auth/oidc/corp/callback");
    assert_eq!(
        (params["response_type"].as_str(), params["code_challenge_method"].as_str()),
        ("code", "S256")
    );
    assert!(
        t.run(take_state(&t.app, &corp, Some("other"), Some(&started.state))).is_err(),
        "cookie mismatch"
    );
    assert!(t.run(take_state(&t.app, &corp, None, Some(&started.state))).is_err(), "no cookie");
    let pending = t.run(take_state(&t.app, &corp, Some(&started.state), Some(&started.state))).unwrap();
    assert_eq!(params["code_challenge"], challenge(&pending.verifier));
    assert_eq!((params["nonce"].as_str(), pending.return_to.as_str()), (pending.nonce.as_str(), "/chat?x=1"));
    let replayed = t.run(take_state(&t.app, &corp, Some(&started.state), Some(&started.state)));
    assert!(matches!(replayed, Err(Failure::InvalidState)), "a state works once");

    t.http.reply(reply(&json!({ "id_token": sign(&k, &claims(&pending.nonce)), "access_token": "at" })));
    t.http.reply(reply(&jwks(&[&k])));
    let identity = t.run(finish(&t.app, &corp, "the-code", &pending)).unwrap();
    assert_eq!(identity.sub, "user-1");
    let token_request = &t.http.sent()[1];
    assert_eq!(token_request.uri, "https://id.example.com/token");
    let form: std::collections::HashMap<String, String> =
        serde_urlencoded::from_bytes(&token_request.body).unwrap();
    assert_eq!(
        (form["code"].as_str(), form["code_verifier"].as_str()),
        ("the-code", pending.verifier.as_str())
    );
    assert!(!form.contains_key("client_secret"), "basic auth when the provider takes it");
    let auth = token_request.headers["authorization"].to_str().unwrap();
    assert_eq!(auth, format!("Basic {}", STANDARD.encode("confab:s3cret")));
}

#[test]
fn an_expired_state_is_refused() {
    let t = test_app();
    let corp = corp();
    t.http.reply(reply(&discovery_doc()));
    let started = t.run(start(&t.app, &corp, "/".into())).unwrap();
    t.clock.advance(Duration::from_secs(STATE_SECONDS as u64));
    let state = Some(started.state.as_str());
    assert!(matches!(t.run(take_state(&t.app, &corp, state, state)), Err(Failure::InvalidState)));
}

#[test]
fn client_secret_post_when_basic_is_not_offered() {
    let t = test_app();
    let corp = corp();
    let k = key(1);
    let mut doc = discovery_doc();
    doc["token_endpoint_auth_methods_supported"] = json!(["client_secret_post"]);
    t.http.reply(reply(&doc));
    let started = t.run(start(&t.app, &corp, "/".into())).unwrap();
    let state = Some(started.state.as_str());
    let pending = t.run(take_state(&t.app, &corp, state, state)).unwrap();
    t.http.reply(reply(&json!({ "id_token": sign(&k, &claims(&pending.nonce)) })));
    t.http.reply(reply(&jwks(&[&k])));
    t.run(finish(&t.app, &corp, "c", &pending)).unwrap();
    let form: std::collections::HashMap<String, String> =
        serde_urlencoded::from_bytes(&t.http.sent()[1].body).unwrap();
    assert_eq!((form["client_id"].as_str(), form["client_secret"].as_str()), ("confab", "s3cret"));
    assert!(!t.http.sent()[1].headers.contains_key("authorization"));
}

#[test]
fn return_to_stays_on_this_site() {
    assert_eq!(safe_return_to(None).unwrap(), "/");
    assert_eq!(safe_return_to(Some("/sessions/1?tab=a")).unwrap(), "/sessions/1?tab=a");
    let long = format!("/{}", "a".repeat(600));
    for bad in [
        "//evil.com",
        "/\\evil.com",
        "https://evil.com",
        "evil.com",
        "",
        "/a\r\nSet-Cookie: x=1",
        "/a b",
        &long,
    ] {
        assert!(matches!(safe_return_to(Some(bad)), Err(Failure::InvalidReturnTo)), "{bad:?}");
    }
}

#[test]
fn an_empty_password_hash_never_matches() {
    let t = test_app();
    for password in ["", "anything"] {
        assert!(!t.run(passwords::verify(&t.app, password, Some(""))).unwrap());
    }
}
