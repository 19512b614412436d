//! ID token checks (OpenID Connect Core §3.1.3.7): the signature with a provider key
//! chosen by `kid` whose type fits the algorithm, an algorithm the provider's discovery
//! lists (asymmetric only), and the claims `iss`, `aud`/`azp`, `exp`, `iat` and `nonce`.
//! Time is the clock port's: `SystemTime` is unavailable on wasm32.

use super::Failure;
use super::discovery::Keys;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation, decode, decode_header};
use serde::Deserialize;
use std::collections::HashSet;

/// Tolerated clock difference with the provider, in seconds.
const LEEWAY: i64 = 60;
/// Longest `sub` OpenID Connect allows.
const MAX_SUB: usize = 255;

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: i64,
    pub algorithms: &'a [Algorithm],
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub iss: String,
    pub sub: String,
    /// Present only when the provider says it verified it.
    pub verified_email: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    azp: Option<String>,
    exp: i64,
    iat: i64,
    nonce: Option<String>,
    email: Option<String>,
    /// A boolean, or the string "true" from some providers.
    email_verified: Option<serde_json::Value>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The token's header, once its algorithm is one we accept.
pub fn header(token: &str, expected: &Expected) -> Result<Header, Failure> {
    let header = decode_header(token).map_err(|_| invalid("malformed token or unknown algorithm"))?;
    if !expected.algorithms.contains(&header.alg) {
        return Err(invalid(&format!("algorithm {:?} is not allowed", header.alg)));
    }
    Ok(header)
}

/// Checks `token` (whose `header` passed [`header`]) against `keys` and `expected`.
pub fn verify(token: &str, header: &Header, keys: &Keys, expected: &Expected) -> Result<Identity, Failure> {
    let jwk = keys.find(header.kid.as_deref()).ok_or_else(|| invalid("no provider key has this kid"))?;
    if !fits(jwk, header.alg) {
        return Err(invalid("the key does not fit the algorithm"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("unusable provider key"))?;
    let claims = decode::<Claims>(token, &key, &validation(header.alg))
        .map_err(|_| invalid("bad signature or claims"))?
        .claims;
    check_claims(claims, expected)
}

/// Signature only: every claim is checked by [`check_claims`], against the clock port.
fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims = HashSet::new();
    v
}

/// Whether `jwk` is a signing key of the type and curve `alg` needs.
fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let for_signing = jwk.common.public_key_use.as_ref().is_none_or(|u| *u == PublicKeyUse::Signature);
    let alg_ok = jwk.common.key_algorithm.is_none_or(|a| a == alg.into());
    let type_ok = match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), _) => alg.family() == jsonwebtoken::AlgorithmFamily::Rsa,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => ec.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => ec.curve == EllipticCurve::P384,
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => okp.curve == EllipticCurve::Ed25519,
        _ => false,
    };
    for_signing && alg_ok && type_ok
}

fn check_claims(claims: Claims, expected: &Expected) -> Result<Identity, Failure> {
    if claims.iss != expected.issuer {
        return Err(invalid("wrong issuer"));
    }
    let audiences = match &claims.aud {
        Audience::One(aud) => vec![aud.as_str()],
        Audience::Many(auds) => auds.iter().map(String::as_str).collect(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(invalid("not issued to this client"));
    }
    // With several audiences the token must say it was issued to us (§3.1.3.7, 4-5).
    let azp_ok = match claims.azp.as_deref() {
        Some(azp) => azp == expected.client_id,
        None => audiences.len() == 1,
    };
    if !azp_ok {
        return Err(invalid("authorized party is not this client"));
    }
    // Saturating: the numbers are the token's, and a forged one must not overflow.
    if claims.exp.saturating_add(LEEWAY) <= expected.now {
        return Err(invalid("expired"));
    }
    if claims.iat.saturating_sub(LEEWAY) > expected.now {
        return Err(invalid("issued in the future"));
    }
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| super::same(n, expected.nonce));
    if !nonce_ok {
        return Err(invalid("wrong nonce"));
    }
    if claims.sub.is_empty() || claims.sub.len() > MAX_SUB {
        return Err(invalid("bad subject"));
    }
    let verified = matches!(&claims.email_verified, Some(serde_json::Value::Bool(true)))
        || matches!(&claims.email_verified, Some(serde_json::Value::String(s)) if s == "true");
    Ok(Identity {
        iss: claims.iss,
        sub: claims.sub,
        verified_email: claims.email.filter(|_| verified),
        name: claims.name,
    })
}

fn invalid(why: &str) -> Failure {
    Failure::InvalidToken(why.to_string())
}
