use crate::error::ApiError;

/// A password that meets the policy (NIST SP 800-63B: length, not composition rules).
pub struct Password(String);

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

impl Password {
    pub fn parse(raw: &str) -> Result<Password, ApiError> {
        let n = raw.chars().count();
        if n < MIN_CHARS {
            Err(ApiError::Validation(format!("password must be at least {MIN_CHARS} characters")))
        } else if n > MAX_CHARS {
            Err(ApiError::Validation(format!("password must be at most {MAX_CHARS} characters")))
        } else if raw.trim().is_empty() {
            Err(ApiError::Validation("password must not be only whitespace".into()))
        } else {
            Ok(Password(raw.to_string()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

// Never print a password, even in debug output.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn policy() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("        ").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse("correct horse").is_ok());
        assert_eq!(format!("{:?}", Password::parse("correct horse").unwrap()), "Password(…)");
    }
}
