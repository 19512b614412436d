//! TOTP codes for the MFA tests, computed here from RFC 6238 (HMAC-SHA1, 6 digits, 30 s
//! steps) rather than with the server's crate, so the two check each other.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const STEP: i64 = 30;
/// Seconds a phase of a few requests may take within one time step.
pub const MARGIN: i64 = 10;

/// The code of `secret` (base32, as setup answers it) for the step holding `unix`.
pub fn code_at(secret: &str, unix: i64) -> String {
    let key = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret).expect("a base32 secret");
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).expect("any key length");
    mac.update(&(unix / STEP).to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0x0f) as usize;
    let word = u32::from_be_bytes([hash[offset], hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
    format!("{:06}", (word & 0x7fff_ffff) % 1_000_000)
}

/// Now, after waiting if needed until `margin` seconds are left in the current step, so
/// that codes computed from it mean the same step to the server for that long (the
/// local server's clock is the system clock).
pub async fn settled_now(margin: i64) -> i64 {
    let now = unix_now();
    let left = STEP - now % STEP;
    if left >= margin {
        return now;
    }
    tokio::time::sleep(Duration::from_secs(left as u64 + 1)).await;
    unix_now()
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

#[test]
fn rfc_6238_vector() {
    // Appendix B's SHA-1 secret "12345678901234567890": 94287082 at T = 59, last 6 digits.
    assert_eq!(code_at("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59), "287082");
}
