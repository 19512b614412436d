use crate::error::ApiError;

/// A six-digit TOTP code as an authenticator app shows it (spaces allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl TotpCode {
    pub fn parse(raw: &str) -> Result<TotpCode, ApiError> {
        let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(TotpCode(digits))
        } else {
            Err(ApiError::Validation("code must be 6 digits".into()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A recovery code: 16 base32 characters, shown in groups of four (`abcd-efgh-ijkl-mnop`);
/// hyphens and case do not matter.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

pub const RECOVERY_CODE_CHARS: usize = 16;

impl RecoveryCode {
    pub fn parse(raw: &str) -> Result<RecoveryCode, ApiError> {
        let chars: String = raw.chars().filter(|&c| c != '-').collect::<String>().to_ascii_lowercase();
        if chars.len() == RECOVERY_CODE_CHARS && chars.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
        {
            Ok(RecoveryCode(chars))
        } else {
            Err(ApiError::Validation("recovery_code must be 16 letters and digits 2-7".into()))
        }
    }

    /// A code from 80 random bits.
    pub fn new(random: [u8; 10]) -> RecoveryCode {
        RecoveryCode(base32::encode(base32::Alphabet::Rfc4648Lower { padding: false }, &random))
    }

    /// The canonical form, which is what gets hashed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to the user.
    pub fn display(&self) -> String {
        let groups: Vec<&str> = (0..RECOVERY_CODE_CHARS).step_by(4).map(|i| &self.0[i..i + 4]).collect();
        groups.join("-")
    }
}

// Never print a recovery code, even in debug output.
impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::{RecoveryCode, TotpCode};

    #[test]
    fn totp_codes_are_six_digits() {
        assert_eq!(TotpCode::parse("123 456").unwrap().as_str(), "123456");
        for bad in ["12345", "1234567", "12345a", "", "１２３４５６"] {
            assert!(TotpCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn recovery_codes_ignore_hyphens_and_case() {
        let code = RecoveryCode::parse("ABCD-efgh-2345-67ab").unwrap();
        assert_eq!(code.as_str(), "abcdefgh234567ab");
        assert_eq!(code.display(), "abcd-efgh-2345-67ab");
        let made = RecoveryCode::new([0xff; 10]);
        assert_eq!(RecoveryCode::parse(&made.display()).unwrap(), made);
        for bad in ["abcd-efgh-2345-67a", "abcd-efgh-2345-67a1", "abcdefgh234567abc"] {
            assert!(RecoveryCode::parse(bad).is_err(), "{bad}");
        }
    }
}
