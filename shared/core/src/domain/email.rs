use crate::error::ApiError;
use unicode_normalization::UnicodeNormalization;

/// An email address of plausible shape (RFC 5321 length limits), in one canonical
/// form: NFKC-normalised and lower-cased, so that lookalike spellings (full-width
/// letters, ligatures, other cases) name the same account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, ApiError> {
        let s: String = raw.trim().nfkc().collect::<String>().to_lowercase().nfkc().collect();
        let invalid = || ApiError::Validation("email is not a valid address".into());
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if s.len() <= 254 && local_ok && domain_ok { Ok(Email(s)) } else { Err(invalid()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn accepts_and_lowercases() {
        assert_eq!(Email::parse(" Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        assert!(Email::parse("a.b+tag@sub.example.org").is_ok());
    }

    #[test]
    fn lookalike_forms_are_one_address() {
        for form in
            ["ＡＤＡ@ｅｘａｍｐｌｅ.ｃｏｍ", "ada@example.com", "ADA@EXAMPLE.COM", "\u{FB00}@example.com"]
        {
            let parsed = Email::parse(form).unwrap();
            let expected = if form.contains('\u{FB00}') { "ff@example.com" } else { "ada@example.com" };
            assert_eq!(parsed.as_str(), expected, "{form}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "plain", "@example.com", "a@", "a@b", "a b@example.com", "a@-x.com", "a@@b.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
