//! TOTP MFA (RFC 6238 as every authenticator app expects: SHA-1, 6 digits, 30 s steps)
//! and single-use recovery codes.
//!
//! The TOTP secret is stored with envelope encryption (XChaCha20-Poly1305): a fresh data
//! key seals the secret, bound to the user's id, and the data key is stored sealed by
//! the key in the `confab-mfa-key` secret, which only auth reads. The signing keys are
//! not used for this: they rotate, and secrets sealed under them would be lost with them.

use super::{keys, secret_hash, throttle};
use crate::app::App;
use crate::domain::{Email, Id, RecoveryCode, TotpCode};
use crate::error::{ApiError, ApiResult};
use crate::ports::{Random, random};
use crate::repo::mfa;
use crate::repo::users::User;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

const ISSUER: &str = "confab";
const STEP_SECONDS: u64 = 30;
/// 160 bits, the length RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODE_COUNT: usize = 10;
const NONCE_BYTES: usize = 24;
/// The secret holding the key that seals the data keys.
pub const MFA_KEY_SECRET: &str = "confab-mfa-key";
/// Sealed secrets start with this version tag.
const SEALED_PREFIX: &str = "v1";

/// The value of [`MFA_KEY_SECRET`].
#[derive(Serialize, Deserialize)]
struct MfaKey {
    /// Standard base64 of 32 random bytes.
    key: String,
}

/// A fresh value for [`MFA_KEY_SECRET`], for a new deployment.
pub fn initial_secret(random: &dyn Random) -> String {
    let key = MfaKey { key: STANDARD.encode(random::bytes::<32>(random)) };
    serde_json::to_string(&key).unwrap_or_default()
}

/// A fresh TOTP secret.
pub fn new_secret(app: &App) -> Vec<u8> {
    random::bytes::<SECRET_BYTES>(&*app.random).to_vec()
}

pub fn totp(secret: Vec<u8>, email: &str) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_SECONDS, secret, Some(ISSUER.into()), email.into())
}

/// The time step `code` belongs to, if it is the current step or one either side of it
/// (clock skew) and later than `last`, the last step accepted: so a code works once.
pub fn accepted_step(totp: &TOTP, code: &TotpCode, now: i64, last: Option<u64>) -> Option<u64> {
    let current = now.max(0) as u64 / STEP_SECONDS;
    [current.saturating_sub(1), current, current + 1].into_iter().find(|&step| {
        last.is_none_or(|last| step > last)
            && bool::from(totp.generate(step * STEP_SECONDS).as_bytes().ct_eq(code.as_str().as_bytes()))
    })
}

/// A second factor as a client sends it.
pub enum SecondFactor {
    Totp(TotpCode),
    Recovery(RecoveryCode),
}

impl SecondFactor {
    /// The factor among the request's fields, parsed; a TOTP code wins over a recovery code.
    pub fn parse(totp: Option<&str>, recovery_code: Option<&str>) -> ApiResult<Option<SecondFactor>> {
        match (totp, recovery_code) {
            (Some(code), _) => Ok(Some(SecondFactor::Totp(TotpCode::parse(code)?))),
            (None, Some(code)) => Ok(Some(SecondFactor::Recovery(RecoveryCode::parse(code)?))),
            (None, None) => Ok(None),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            SecondFactor::Totp(_) => "totp",
            SecondFactor::Recovery(_) => "recovery_code",
        }
    }
}

/// Checks `factor` against the user's MFA and uses it up (see [`consume`]). A refused
/// factor counts toward the account's lockout like a wrong password.
pub async fn use_factor(app: &App, user: &User, factor: &SecondFactor) -> ApiResult<&'static str> {
    let outcome = consume(app, user.id, &user.email, factor).await;
    if let Err(ApiError::MfaInvalid) = outcome {
        throttle::record_failure(app, &Email::parse(&user.email)?).await?;
    }
    outcome
}

/// Checks `factor` against the user's enabled MFA and uses it up: a TOTP step is not
/// accepted again, a recovery code is removed. Returns which kind of factor it was, or
/// [`ApiError::MfaInvalid`].
async fn consume(app: &App, user_id: Id, email: &str, factor: &SecondFactor) -> ApiResult<&'static str> {
    let Some((mut record, version)) = mfa::get(app, user_id).await?.filter(|(m, _)| m.enabled) else {
        return Err(ApiError::MfaInvalid);
    };
    let accepted = match factor {
        SecondFactor::Totp(code) => {
            let totp = totp(open(app, user_id, &record.sealed_secret).await?, email);
            let step = accepted_step(&totp, code, app.clock.now_unix(), record.last_step);
            step.map(|step| record.last_step = Some(step)).is_some()
        }
        SecondFactor::Recovery(code) => {
            let before = record.recovery_hashes.len();
            record.recovery_hashes.retain(|h| *h != secret_hash(code.as_str()));
            record.recovery_hashes.len() < before
        }
    };
    if !accepted {
        return Err(ApiError::MfaInvalid);
    }
    // Two requests racing with the same code: only the first write lands.
    match mfa::save(app, user_id, &record, Some(version)).await {
        Err(ApiError::Conflict(_)) => Err(ApiError::MfaInvalid),
        other => other.map(|()| factor.kind()),
    }
}

/// Ten new recovery codes: as shown to the user, and their hashes as stored.
pub fn new_recovery_codes(app: &App) -> (Vec<String>, Vec<String>) {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let code = RecoveryCode::new(random::bytes(&*app.random));
            (code.display(), secret_hash(code.as_str()))
        })
        .unzip()
}

/// The cipher of the key that seals data keys.
async fn key_cipher(app: &App) -> ApiResult<XChaCha20Poly1305> {
    let MfaKey { key } = keys::read_secret(app, MFA_KEY_SECRET).await?;
    let key: [u8; 32] =
        STANDARD.decode(key).ok().and_then(|bytes| bytes.try_into().ok()).ok_or_else(|| {
            ApiError::Internal(format!("secret {MFA_KEY_SECRET} is not 32 bytes of base64"))
        })?;
    Ok(XChaCha20Poly1305::new(&key.into()))
}

/// `secret` encrypted for `user_id`: `v1.<sealed data key>.<sealed secret>`, each part
/// base64url of a nonce and its ciphertext.
pub async fn seal(app: &App, user_id: Id, secret: &[u8]) -> ApiResult<String> {
    let data_key = random::bytes::<32>(&*app.random);
    let aad = user_id.to_string();
    let sealed_key = seal_with(app, &key_cipher(app).await?, &data_key, &aad)?;
    let sealed_secret = seal_with(app, &XChaCha20Poly1305::new(&data_key.into()), secret, &aad)?;
    Ok(format!("{SEALED_PREFIX}.{sealed_key}.{sealed_secret}"))
}

pub async fn open(app: &App, user_id: Id, sealed: &str) -> ApiResult<Vec<u8>> {
    let fault = || ApiError::Internal(format!("the TOTP secret of {user_id} does not open"));
    let Some((SEALED_PREFIX, rest)) = sealed.split_once('.') else { return Err(fault()) };
    let (sealed_key, sealed_secret) = rest.split_once('.').ok_or_else(fault)?;
    let aad = user_id.to_string();
    let data_key: [u8; 32] = open_with(&key_cipher(app).await?, sealed_key, &aad)
        .and_then(|key| key.try_into().ok())
        .ok_or_else(fault)?;
    open_with(&XChaCha20Poly1305::new(&data_key.into()), sealed_secret, &aad).ok_or_else(fault)
}

fn seal_with(app: &App, cipher: &XChaCha20Poly1305, plain: &[u8], aad: &str) -> ApiResult<String> {
    let nonce = random::bytes::<NONCE_BYTES>(&*app.random);
    let sealed = cipher
        .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad: aad.as_bytes() })
        .map_err(|_| ApiError::Internal("sealing the TOTP secret failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode([&nonce[..], &sealed].concat()))
}

fn open_with(cipher: &XChaCha20Poly1305, sealed: &str, aad: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let (nonce, ciphertext) = bytes.split_at_checked(NONCE_BYTES)?;
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
    cipher.decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() }).ok()
}

#[cfg(test)]
mod tests {
    use super::{MFA_KEY_SECRET, accepted_step, initial_secret, open, seal, totp};
    use crate::domain::TotpCode;

    /// RFC 6238 appendix B's SHA-1 secret; at T = 59 s its code ends in 287082.
    fn rfc() -> totp_rs::TOTP {
        totp(b"12345678901234567890".to_vec(), "ada@example.com")
    }

    fn code_at(unix: i64) -> TotpCode {
        TotpCode::parse(&rfc().generate(unix as u64)).unwrap()
    }

    #[test]
    fn codes_follow_rfc_6238() {
        assert_eq!(rfc().generate(59), "287082");
        assert_eq!(accepted_step(&rfc(), &TotpCode::parse("287082").unwrap(), 59, None), Some(1));
    }

    #[test]
    fn one_step_of_skew_either_way() {
        let now = 1_000 * 30 + 7;
        assert_eq!(accepted_step(&rfc(), &code_at(now - 30), now, None), Some(999));
        assert_eq!(accepted_step(&rfc(), &code_at(now + 30), now, None), Some(1001));
        assert_eq!(accepted_step(&rfc(), &code_at(now - 60), now, None), None);
        assert_eq!(accepted_step(&rfc(), &code_at(now + 60), now, None), None);
    }

    #[test]
    fn a_step_is_accepted_once() {
        let now = 1_000 * 30;
        assert_eq!(accepted_step(&rfc(), &code_at(now), now, Some(1_000)), None);
        assert_eq!(accepted_step(&rfc(), &code_at(now - 30), now, Some(1_000)), None);
        assert_eq!(accepted_step(&rfc(), &code_at(now + 30), now, Some(1_000)), Some(1_001));
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_user_and_key() {
        let t = crate::testing::app().build();
        t.secrets.set(MFA_KEY_SECRET, &initial_secret(&*t.app.random));
        t.run(async {
            let (ada, bob) = (t.app.new_id(), t.app.new_id());
            let sealed = seal(&t.app, ada, b"a totp secret").await.unwrap();
            assert!(!sealed.contains("a totp secret"));
            assert_eq!(open(&t.app, ada, &sealed).await.unwrap(), b"a totp secret");
            assert!(open(&t.app, bob, &sealed).await.is_err(), "bound to the user");
            assert!(open(&t.app, ada, &sealed.replace("v1.", "v2.")).await.is_err());
            t.secrets.set(MFA_KEY_SECRET, &initial_secret(&*t.app.random));
            assert!(open(&t.app, ada, &sealed).await.is_err(), "another key does not open it");
        });
    }
}
