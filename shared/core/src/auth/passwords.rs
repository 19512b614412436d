//! Password hashing with Argon2id at OWASP's recommended cost (19 MiB, t=2, p=1).

use crate::app::App;
use crate::domain::Password;
use crate::error::{ApiError, ApiResult};
use crate::ports::random;
use crate::ports::spawner::blocking;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_with(password: &[u8], salt: &SaltString) -> ApiResult<String> {
    argon2()
        .hash_password(password, salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hash: {e}")))
}

fn new_salt(app: &App) -> ApiResult<SaltString> {
    SaltString::encode_b64(&random::bytes::<16>(&*app.random))
        .map_err(|e| ApiError::Internal(format!("salt: {e}")))
}

/// Runs the deliberately slow hashing off the request threads.
async fn off_thread<T: Send + 'static>(app: &App, work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    blocking(&*app.spawner, work).await.ok_or_else(|| ApiError::Internal("password hashing failed".into()))
}

pub async fn hash(app: &App, password: &Password) -> ApiResult<String> {
    let (password, salt) = (password.expose().to_string(), new_salt(app)?);
    off_thread(app, move || hash_with(password.as_bytes(), &salt)).await?
}

/// Checks `password` against `stored`. Without a stored hash it spends the same time
/// hashing, so response times do not reveal which emails have accounts.
pub async fn verify(app: &App, password: &str, stored: Option<&str>) -> ApiResult<bool> {
    let (password, stored, salt) = (password.to_string(), stored.map(String::from), new_salt(app)?);
    off_thread(app, move || match stored.as_deref().and_then(|s| PasswordHash::new(s).ok()) {
        Some(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        None => {
            let _ = hash_with(password.as_bytes(), &salt);
            false
        }
    })
    .await
}
