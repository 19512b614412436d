//! Who is calling: set on the request by the authentication middleware.

use crate::domain::{Id, ModelAllowlist, Role};
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
    /// The login an access token belongs to; none for API keys.
    pub family_id: Option<Id>,
    /// The only models an API key may use; none: every model.
    pub models: Option<ModelAllowlist>,
}

impl Principal {
    pub fn may_use(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.allows(model))
    }

    /// 403 `model_not_allowed` unless the caller may use `model`.
    pub fn check_model(&self, model: &str) -> ApiResult<()> {
        if self.may_use(model) { Ok(()) } else { Err(ApiError::ModelNotAllowed(model.to_string())) }
    }
}

/// The authenticated caller, or 401.
pub fn principal(req: &Request) -> ApiResult<&Principal> {
    req.extensions().get::<Principal>().ok_or(ApiError::Unauthorized)
}

/// The authenticated caller if signed in as a person: API keys are for programs and
/// never manage credentials (keys, password, MFA, logins, the account itself), so a
/// leaked key cannot make itself permanent. Authentication already refuses keys on
/// every such route (`api_keys::reach`); this keeps the handlers safe on their own.
pub fn signed_in(req: &Request) -> ApiResult<&Principal> {
    let p = principal(req)?;
    if p.via == Via::ApiKey {
        return Err(ApiError::InsufficientScope("API keys cannot manage credentials; sign in to do this"));
    }
    Ok(p)
}

/// The authenticated caller if an admin; 401 when anonymous, 403 otherwise.
pub fn admin(req: &Request) -> ApiResult<&Principal> {
    let p = principal(req)?;
    if p.user.role == Role::Admin { Ok(p) } else { Err(ApiError::Forbidden("admin role required")) }
}

/// The caller if an admin signed in as a person: what hands out a way into an account
/// (a reset link, a role) or removes one is never done with an API key, so a leaked
/// admin key cannot turn itself into a password.
pub fn admin_in_person(req: &Request) -> ApiResult<&Principal> {
    signed_in(req)?;
    admin(req)
}
