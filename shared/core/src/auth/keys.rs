//! Access-token signing keys. Two secrets: the private signing set (only the auth
//! function may read it) and the public verification set (JWKS) every function reads.
//! Rotation adds a key to both and makes it current; old public keys stay until the
//! tokens they signed have expired.

use super::mfa;
use crate::app::App;
use crate::cache::TtlCache;
use crate::error::{ApiError, ApiResult};
use crate::ports::{Clock, Random, random};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use utoipa::ToSchema;

pub const SIGNING_KEYS_SECRET: &str = "confab-signing-keys";
pub const VERIFY_KEYS_SECRET: &str = "confab-verify-keys";
/// An unknown `kid` re-reads the verification keys, at most this often.
const UNKNOWN_KID_RELOAD_SECONDS: i64 = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningKeySet {
    pub current: String,
    pub keys: Vec<SigningKeyEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningKeyEntry {
    pub kid: String,
    pub created_at: i64,
    /// Standard base64 of the PKCS#8 DER private key.
    pub private_key_pkcs8: String,
}

/// A public key in JWK form (RFC 8037, OKP / Ed25519).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// A new Ed25519 key: its private entry and its public JWK.
pub fn new_key(random: &dyn Random, clock: &dyn Clock) -> (SigningKeyEntry, Jwk) {
    let signing = SigningKey::from_bytes(&random::bytes::<32>(random));
    let public = signing.verifying_key().to_bytes();
    let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]);
    let der = signing.to_pkcs8_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
    let entry = SigningKeyEntry {
        kid: kid.clone(),
        created_at: clock.now_unix(),
        private_key_pkcs8: STANDARD.encode(der),
    };
    let jwk = Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: URL_SAFE_NO_PAD.encode(public),
        kid,
        alg: "EdDSA".into(),
        use_: "sig".into(),
    };
    (entry, jwk)
}

/// What a new deployment starts with: both key secrets holding one fresh key, and the
/// key that seals MFA secrets (`auth::mfa`).
pub fn initial_secrets(random: &dyn Random, clock: &dyn Clock) -> BTreeMap<String, String> {
    let (entry, jwk) = new_key(random, clock);
    let signing = SigningKeySet { current: entry.kid.clone(), keys: vec![entry] };
    let mut secrets = to_secrets(&signing, &Jwks { keys: vec![jwk] });
    secrets.insert(mfa::MFA_KEY_SECRET.to_string(), mfa::initial_secret(random));
    secrets
}

/// Both key secrets after a rotation: a new key signs from now on; the previous
/// current key stays in the verification set so the tokens it signed keep working until
/// they expire, and any older one is dropped. Rotating at most once per access-token
/// lifetime therefore never cuts a live token short ([`rotation_is_early`] tells).
pub fn rotated(
    verify: &Jwks,
    signing: &SigningKeySet,
    random: &dyn Random,
    clock: &dyn Clock,
) -> (SigningKeySet, Jwks) {
    let (entry, jwk) = new_key(random, clock);
    let previous = verify.keys.iter().find(|k| k.kid == signing.current).cloned();
    let signing = SigningKeySet { current: entry.kid.clone(), keys: vec![entry] };
    (signing, Jwks { keys: std::iter::once(jwk).chain(previous).collect() })
}

/// Whether the current key is younger than `access_ttl_seconds`: rotating now would
/// retire the key before it, whose tokens may still be live.
pub fn rotation_is_early(signing: &SigningKeySet, access_ttl_seconds: i64, clock: &dyn Clock) -> bool {
    let current = signing.keys.iter().find(|k| k.kid == signing.current);
    current.is_some_and(|k| clock.now_unix() - k.created_at < access_ttl_seconds)
}

/// The key secrets as stored.
pub fn to_secrets(signing: &SigningKeySet, verify: &Jwks) -> BTreeMap<String, String> {
    BTreeMap::from([
        (SIGNING_KEYS_SECRET.to_string(), serde_json::to_string(signing).unwrap_or_default()),
        (VERIFY_KEYS_SECRET.to_string(), serde_json::to_string(verify).unwrap_or_default()),
    ])
}

pub struct Signer {
    pub kid: String,
    pub key: EncodingKey,
    /// A key for MACs that only auth may compute, derived from the private key.
    pub secret: [u8; 32],
}

pub struct Verifier {
    pub jwks: Jwks,
    keys: HashMap<String, DecodingKey>,
}

impl Verifier {
    pub fn key(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.get(kid)
    }
}

#[derive(Default)]
pub struct KeyCache {
    signer: TtlCache<Signer>,
    verifier: TtlCache<Verifier>,
}

// Each cache holds one value.
const ONLY: &str = "";

pub(crate) async fn read_secret<T: serde::de::DeserializeOwned>(app: &App, name: &str) -> ApiResult<T> {
    let raw = app
        .secrets
        .get(name)
        .await?
        // A deployment not (fully) set up: `confab-keys init` creates what is missing.
        .ok_or_else(|| ApiError::Unavailable(format!("secret {name} is missing")))?;
    serde_json::from_str(&raw).map_err(|e| ApiError::Internal(format!("secret {name} is malformed: {e}")))
}

pub async fn signer(app: &App) -> ApiResult<Arc<Signer>> {
    let now = app.clock.now_unix();
    if let Some(s) = app.keys.signer.get(ONLY, now, app.config.key_cache_seconds) {
        return Ok(s);
    }
    let set: SigningKeySet = read_secret(app, SIGNING_KEYS_SECRET).await?;
    let entry = set
        .keys
        .iter()
        .find(|k| k.kid == set.current)
        .ok_or_else(|| ApiError::Internal("current signing key is not in the set".into()))?;
    let der = STANDARD
        .decode(&entry.private_key_pkcs8)
        .map_err(|e| ApiError::Internal(format!("signing key encoding: {e}")))?;
    let secret = Sha256::new().chain_update(b"confab mac key v1").chain_update(&der).finalize().into();
    let signer = Signer { kid: entry.kid.clone(), key: EncodingKey::from_ed_der(&der), secret };
    Ok(app.keys.signer.put(ONLY, signer, now))
}

/// The verification keys; `want_kid` forces a re-read (rate-limited) when it is unknown,
/// so a freshly rotated key is accepted before the cache expires.
pub async fn verifier(app: &App, want_kid: Option<&str>) -> ApiResult<Arc<Verifier>> {
    let now = app.clock.now_unix();
    if let Some(v) = app.keys.verifier.get(ONLY, now, app.config.key_cache_seconds) {
        let known = want_kid.is_none_or(|kid| v.key(kid).is_some());
        if known || app.keys.verifier.get(ONLY, now, UNKNOWN_KID_RELOAD_SECONDS).is_some() {
            return Ok(v);
        }
    }
    let jwks: Jwks = read_secret(app, VERIFY_KEYS_SECRET).await?;
    let keys = jwks
        .keys
        .iter()
        .filter_map(|k| DecodingKey::from_ed_components(&k.x).ok().map(|d| (k.kid.clone(), d)))
        .collect();
    Ok(app.keys.verifier.put(ONLY, Verifier { jwks, keys }, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{Clock, Random};
    use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
    use time::OffsetDateTime;

    struct Counter(AtomicU8);
    impl Random for Counter {
        fn fill(&self, buf: &mut [u8]) {
            let n = self.0.fetch_add(1, Ordering::Relaxed);
            buf.iter_mut().for_each(|b| *b = n);
        }
    }

    struct At(AtomicI64);
    impl Clock for At {
        fn now(&self) -> OffsetDateTime {
            OffsetDateTime::from_unix_timestamp(self.0.load(Ordering::Relaxed)).unwrap()
        }
        fn sleep(&self, _: std::time::Duration) -> crate::ports::BoxFuture<'static, ()> {
            Box::pin(async {})
        }
    }

    fn sets(secrets: &BTreeMap<String, String>) -> (SigningKeySet, Jwks) {
        let parse = |name: &str| secrets.get(name).unwrap().clone();
        (
            serde_json::from_str(&parse(SIGNING_KEYS_SECRET)).unwrap(),
            serde_json::from_str(&parse(VERIFY_KEYS_SECRET)).unwrap(),
        )
    }

    fn kids(jwks: &Jwks) -> Vec<&str> {
        jwks.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    #[test]
    fn rotation_keeps_the_previous_public_key_and_drops_older_ones() {
        let (random, clock) = (Counter(AtomicU8::new(1)), At(AtomicI64::new(1_000_000)));
        let (signing1, verify1) = sets(&initial_secrets(&random, &clock));
        let (signing2, verify2) = rotated(&verify1, &signing1, &random, &clock);
        assert_eq!(signing2.keys.len(), 1, "only the current private key is kept");
        assert_ne!(signing2.current, signing1.current);
        assert_eq!(kids(&verify2), [signing2.current.as_str(), signing1.current.as_str()]);
        let (signing3, verify3) = rotated(&verify2, &signing2, &random, &clock);
        assert_eq!(kids(&verify3), [signing3.current.as_str(), signing2.current.as_str()]);
    }

    #[test]
    fn rotating_within_a_token_lifetime_is_early() {
        let (random, clock) = (Counter(AtomicU8::new(1)), At(AtomicI64::new(1_000_000)));
        let (signing, _) = sets(&initial_secrets(&random, &clock));
        assert!(rotation_is_early(&signing, 900, &clock));
        clock.0.store(1_000_900, Ordering::Relaxed);
        assert!(!rotation_is_early(&signing, 900, &clock));
    }
}
