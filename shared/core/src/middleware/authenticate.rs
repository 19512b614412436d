use crate::app::App;
use crate::auth::principal::Via;
use crate::auth::{Principal, api_keys, jwt};
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::cookies::{self, ACCESS};
use crate::http::{Request, header_str};
use crate::repo::users;
use http::{Method, header};

/// The caller from `Authorization: Bearer` (access token or API key) or the access
/// cookie. A bad bearer credential is 401 at once; a stale cookie is ignored so a
/// browser can still log in. Cookie-authenticated writes need the CSRF header.
pub async fn caller(app: &App, req: &Request) -> ApiResult<Option<Principal>> {
    let principal = resolve(app, req).await?;
    if principal.as_ref().is_some_and(|p| p.via == Via::Cookie)
        && !is_safe(req.method())
        && !cookies::csrf_ok(req)
    {
        return Err(ApiError::CsrfFailed);
    }
    Ok(principal)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn resolve(app: &App, req: &Request) -> ApiResult<Option<Principal>> {
    if let Some(value) = header_str(req, header::AUTHORIZATION) {
        let token = value.strip_prefix("Bearer ").map(str::trim).ok_or(ApiError::Unauthorized)?;
        if token.starts_with(api_keys::PREFIX) {
            let (user_id, key_id, secret) = api_keys::parse(token).ok_or(ApiError::Unauthorized)?;
            let (key_ok, user) = futures::join!(
                api_keys::verify(app, user_id, key_id, secret),
                active_user(app, user_id, Via::ApiKey)
            );
            return match (key_ok?, user?) {
                (true, Some(principal)) => Ok(Some(principal)),
                _ => Err(ApiError::Unauthorized),
            };
        }
        let user_id = jwt::verify(app, token).await?;
        return active_user(app, user_id, Via::Bearer).await?.map(Some).ok_or(ApiError::Unauthorized);
    }
    let Some(token) = cookies::get(req, ACCESS) else { return Ok(None) };
    match jwt::verify(app, token).await {
        Ok(user_id) => active_user(app, user_id, Via::Cookie).await,
        Err(ApiError::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the user on every request, so disabling an account or changing a role takes
/// effect at once, not when the access token expires.
async fn active_user(app: &App, user_id: Id, via: Via) -> ApiResult<Option<Principal>> {
    Ok(users::get(app, user_id)
        .await?
        .map(|(user, _)| user)
        .filter(|u| !u.disabled)
        .map(|user| Principal { user, via }))
}
