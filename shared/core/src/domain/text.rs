use crate::error::ApiError;

/// User-supplied text with a length bound and no control characters other than
/// newlines and tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedText(String);

impl BoundedText {
    /// The limit counts what was sent, before trimming, as the API description says.
    pub fn parse(field: &str, raw: &str, max_chars: usize) -> Result<BoundedText, ApiError> {
        if raw.chars().count() > max_chars {
            return Err(ApiError::Validation(format!("{field} must be at most {max_chars} characters")));
        }
        if raw.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
            return Err(ApiError::Validation(format!("{field} must not contain control characters")));
        }
        Ok(BoundedText(raw.trim().to_string()))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Parses an optional field; empty text after trimming counts as absent.
pub fn optional_text(field: &str, raw: Option<&str>, max_chars: usize) -> Result<Option<String>, ApiError> {
    raw.map(|r| BoundedText::parse(field, r, max_chars))
        .transpose()
        .map(|t| t.map(BoundedText::into_string).filter(|s| !s.is_empty()))
}
