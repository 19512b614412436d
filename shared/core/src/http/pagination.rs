use crate::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// A page request from `?limit=&cursor=`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn parse(limit: Option<&str>, cursor: Option<String>) -> ApiResult<PageRequest> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::InvalidRequest(format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT}"
                    )));
                }
            },
        };
        let cursor = cursor.filter(|c| !c.is_empty());
        if cursor.as_ref().is_some_and(|c| c.len() > 1024) {
            return Err(ApiError::InvalidCursor);
        }
        Ok(PageRequest { limit, cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_LIMIT, PageRequest};

    #[test]
    fn limits() {
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(PageRequest::parse(Some("100"), None).unwrap().limit, 100);
        for bad in ["0", "101", "-1", "1e3", "", "lots"] {
            assert!(PageRequest::parse(Some(bad), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_cursor_is_none_and_huge_cursor_is_refused() {
        assert!(PageRequest::parse(None, Some(String::new())).unwrap().cursor.is_none());
        assert!(PageRequest::parse(None, Some("x".repeat(2000))).is_err());
    }
}
