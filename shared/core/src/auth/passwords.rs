//! Password hashing with Argon2id at OWASP's recommended cost (19 MiB, t=2, p=1).

use crate::app::App;
use crate::domain::Password;
use crate::error::{ApiError, ApiResult};
use crate::ports::random;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_bytes(app: &App, password: &[u8]) -> ApiResult<String> {
    let salt = SaltString::encode_b64(&random::bytes::<16>(&*app.random))
        .map_err(|e| ApiError::Internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hash: {e}")))
}

pub fn hash(app: &App, password: &Password) -> ApiResult<String> {
    hash_bytes(app, password.expose().as_bytes())
}

/// Checks `password` against `stored`. Without a stored hash it spends the same time
/// hashing, so response times do not reveal which emails have accounts.
pub fn verify(app: &App, password: &str, stored: Option<&str>) -> bool {
    match stored.and_then(|s| PasswordHash::new(s).ok()) {
        Some(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        None => {
            let _ = hash_bytes(app, password.as_bytes());
            false
        }
    }
}
