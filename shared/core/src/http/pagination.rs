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
