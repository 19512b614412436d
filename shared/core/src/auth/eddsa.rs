//! `jsonwebtoken` with EdDSA alone, for the Workers that only sign in people with our
//! own access tokens (chat, session, admin). The crate's `rust_crypto` provider links
//! every algorithm (RSA, P-256, P-384, HMAC) wherever a token is decoded, about 70 KB
//! gzipped of a Worker; only auth, which verifies identity providers' ID tokens, needs
//! them. A build without the `rust_crypto` feature must install a provider before the
//! first token: those Workers install this one ([`install`]); every other build turns
//! the feature on and gets the crate's own.

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{Error, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};

/// EdDSA signing and verification; any other algorithm is refused.
pub static EDDSA_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes [`EDDSA_ONLY`] the process's provider (once; later calls change nothing).
pub fn install() {
    let _ = EDDSA_ONLY.install_default();
}

fn eddsa(algorithm: &Algorithm, family: AlgorithmFamily) -> Result<()> {
    match (algorithm, family) {
        (Algorithm::EdDSA, AlgorithmFamily::Ed) => Ok(()),
        (Algorithm::EdDSA, _) => Err(ErrorKind::InvalidKeyFormat.into()),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    eddsa(algorithm, key.family())?;
    let key = SigningKey::from_pkcs8_der(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdSigner(key)))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    eddsa(algorithm, key.family())?;
    let bytes: &[u8; 32] = key.try_get_as_bytes()?.try_into().map_err(|_| ErrorKind::InvalidEddsaKey)?;
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(EdVerifier(key)))
}

struct EdSigner(SigningKey);

impl Signer<Vec<u8>> for EdSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, Error> {
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

impl JwtSigner for EdSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct EdVerifier(VerifyingKey);

impl Verifier<Vec<u8>> for EdVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), Error> {
        self.0.verify(msg, &Signature::from_slice(signature)?)
    }
}

impl JwtVerifier for EdVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
mod tests {
    use super::EDDSA_ONLY;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, crypto};

    #[test]
    fn signs_and_verifies_eddsa_as_the_crate_does_and_nothing_else() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let encoding = EncodingKey::from_ed_der(key.to_pkcs8_der().unwrap().as_bytes());
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let decoding = DecodingKey::from_ed_components(&x).unwrap();
        let message = b"header.claims";
        let signer = (EDDSA_ONLY.signer_factory)(&Algorithm::EdDSA, &encoding).unwrap();
        let verifier = (EDDSA_ONLY.verifier_factory)(&Algorithm::EdDSA, &decoding).unwrap();
        // The crate's own provider (the tests' build has it) agrees with ours both ways.
        let ours = signer.try_sign(message).unwrap();
        assert!(
            crypto::verify(&URL_SAFE_NO_PAD.encode(&ours), message, &decoding, Algorithm::EdDSA).unwrap()
        );
        let theirs =
            URL_SAFE_NO_PAD.decode(crypto::sign(message, &encoding, Algorithm::EdDSA).unwrap()).unwrap();
        assert!(verifier.verify(message, &theirs).is_ok());
        assert!(verifier.verify(b"header.other", &ours).is_err());
        for other in [Algorithm::RS256, Algorithm::ES256, Algorithm::HS256] {
            assert!((EDDSA_ONLY.verifier_factory)(&other, &decoding).is_err(), "{other:?}");
        }
        let hmac = DecodingKey::from_secret(b"secret");
        assert!((EDDSA_ONLY.verifier_factory)(&Algorithm::EdDSA, &hmac).is_err(), "a key of another family");
    }
}
