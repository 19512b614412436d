//! Who is calling: set on the request by the authentication middleware.

use crate::domain::Role;
use crate::error::{ApiError, ApiResult};
use crate::http::Request;
use crate::repo::users::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Bearer,
    Cookie,
    ApiKey,
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub via: Via,
}

/// The authenticated caller, or 401.
pub fn principal(req: &Request) -> ApiResult<&Principal> {
    req.extensions().get::<Principal>().ok_or(ApiError::Unauthorized)
}

/// The authenticated caller if an admin; 401 when anonymous, 403 otherwise.
pub fn admin(req: &Request) -> ApiResult<&Principal> {
    let p = principal(req)?;
    if p.user.role == Role::Admin { Ok(p) } else { Err(ApiError::Forbidden("admin role required")) }
}
