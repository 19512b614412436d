use super::{Middleware, Next};
use crate::app::App;
use crate::auth::principal::Via;
use crate::auth::{Principal, api_keys, jwt};
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::cookies::{self, ACCESS};
use crate::http::{Request, Response, error_response, header_str};
use crate::repo::users;
use http::{Method, header};
use std::sync::Arc;

/// Resolves the caller from `Authorization: Bearer` (access token or API key) or the
/// access cookie. A bad bearer credential is 401 at once; a stale cookie is ignored so
/// a browser can still log in. Cookie-authenticated writes need the CSRF header.
pub struct Authenticate;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for Authenticate {
    async fn handle(&self, app: &Arc<App>, mut req: Request, next: Next<'_>) -> Response {
        match resolve(app, &req).await {
            Ok(Some(p)) if p.via == Via::Cookie && !is_safe(req.method()) && !cookies::csrf_ok(&req) => {
                return error_response(&ApiError::CsrfFailed);
            }
            Ok(Some(p)) => {
                req.extensions_mut().insert(p);
            }
            Ok(None) => {}
            Err(e) => return error_response(&e),
        }
        next.run(app, req).await
    }
}

pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn resolve(app: &App, req: &Request) -> ApiResult<Option<Principal>> {
    if let Some(value) = header_str(req, header::AUTHORIZATION) {
        let token = value.strip_prefix("Bearer ").map(str::trim).ok_or(ApiError::Unauthorized)?;
        let (user_id, via) = if token.starts_with(api_keys::PREFIX) {
            let key = api_keys::authenticate(app, token).await?.ok_or(ApiError::Unauthorized)?;
            (key.user_id, Via::ApiKey)
        } else {
            (jwt::verify(app, token).await?, Via::Bearer)
        };
        return active_user(app, user_id, via).await?.map(Some).ok_or(ApiError::Unauthorized);
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
