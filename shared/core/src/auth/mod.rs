//! Authentication mechanisms: passwords, access JWTs and their keys, refresh tokens,
//! API keys, and who is calling.

pub mod api_keys;
pub mod eddsa;
pub mod jwt;
pub mod keys;
pub mod mfa;
pub mod oidc;
pub mod passwords;
pub mod principal;
pub mod refresh;
pub mod session_tokens;
pub mod throttle;
pub mod windows;

pub use principal::{Principal, admin, admin_in_person, principal, signed_in};

use sha2::{Digest, Sha256};

/// Hex SHA-256: how every bearer secret (refresh token, API key) is stored, so a
/// leaked table holds nothing usable. The secrets carry 256 bits, so no salt or
/// slow hash is needed.
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
