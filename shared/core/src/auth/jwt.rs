//! Access tokens: short-lived EdDSA JWTs (RFC 9068 `at+jwt`). The algorithm is fixed by
//! the server, never taken from the token; time claims are checked against the clock
//! port because `SystemTime` is unavailable on wasm32. Each token names the login
//! (refresh family) it belongs to, so logging out ends it at once.

use super::keys::{signer, verifier};
use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use jsonwebtoken::{Algorithm, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

const TYP: &str = "at+jwt";
/// Tolerated clock skew between functions, in seconds.
const LEEWAY: i64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// The login (refresh family) the token was issued for.
    pub sid: String,
}

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub user_id: Id,
    pub family_id: Id,
    pub issued_at: i64,
}

pub async fn issue(app: &App, user_id: Id, family_id: Id) -> ApiResult<String> {
    let signer = signer(app).await?;
    let now = app.clock.now_unix();
    let claims = AccessClaims {
        iss: app.config.jwt_issuer.clone(),
        aud: app.config.jwt_audience.clone(),
        sub: user_id.to_string(),
        exp: now + app.config.access_ttl_seconds,
        nbf: now,
        iat: now,
        jti: app.new_id().to_string(),
        sid: family_id.to_string(),
    };
    let header =
        Header { typ: Some(TYP.into()), kid: Some(signer.kid.clone()), ..Header::new(Algorithm::EdDSA) };
    encode(&header, &claims, &signer.key).map_err(|e| ApiError::Internal(format!("sign: {e}")))
}

/// What a valid access token says; any defect is 401.
pub async fn verify(app: &App, token: &str) -> ApiResult<Access> {
    let header = decode_header(token).map_err(|_| ApiError::Unauthorized)?;
    if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(TYP) {
        return Err(ApiError::Unauthorized);
    }
    let kid = header.kid.ok_or(ApiError::Unauthorized)?;
    let keys = verifier(app, Some(&kid)).await?;
    let key = keys.key(&kid).ok_or(ApiError::Unauthorized)?;
    let claims =
        decode::<AccessClaims>(token, key, &validation(app)).map_err(|_| ApiError::Unauthorized)?.claims;
    let now = app.clock.now_unix();
    // Saturating: the claims are the token's, and a forged number must not overflow.
    if claims.exp.saturating_add(LEEWAY) <= now || claims.nbf.saturating_sub(LEEWAY) > now {
        return Err(ApiError::Unauthorized);
    }
    let (user_id, family_id) = (Id::parse(&claims.sub), Id::parse(&claims.sid));
    match (user_id, family_id) {
        (Some(user_id), Some(family_id)) => Ok(Access { user_id, family_id, issued_at: claims.iat }),
        _ => Err(ApiError::Unauthorized),
    }
}

fn validation(app: &App) -> Validation {
    let mut v = Validation::new(Algorithm::EdDSA);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.required_spec_claims = HashSet::new();
    v.set_audience(&[&app.config.jwt_audience]);
    v.set_issuer(&[&app.config.jwt_issuer]);
    v
}
