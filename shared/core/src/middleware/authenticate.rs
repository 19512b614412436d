use crate::app::App;
use crate::auth::jwt::Access;
use crate::auth::principal::Via;
use crate::auth::refresh;
use crate::auth::{Principal, api_keys, jwt};
use crate::error::{ApiError, ApiResult};
use crate::http::cookies::{self, ACCESS};
use crate::http::{Request, header_str};
use crate::repo::refresh::Family;
use crate::repo::users;
use http::{Method, header};

/// The caller from `Authorization: Bearer` (access token or API key) or the access
/// cookie. A bad bearer credential is 401 at once; a stale cookie is ignored so a
/// browser can still log in. Cookie-authenticated writes need the login's CSRF token.
pub async fn caller(app: &App, req: &Request) -> ApiResult<Option<Principal>> {
    if let Some(value) = header_str(req, header::AUTHORIZATION) {
        let token = bearer(value).ok_or(ApiError::Unauthorized)?;
        if token.starts_with(api_keys::PREFIX) {
            return api_key_user(app, token).await.map(Some);
        }
        let access = jwt::verify(app, token).await?;
        let (principal, _) = signed_in_user(app, access, Via::Bearer).await?;
        return principal.map(Some).ok_or(ApiError::Unauthorized);
    }
    let Some(token) = cookies::get(req, ACCESS) else { return Ok(None) };
    let access = match jwt::verify(app, token).await {
        Ok(access) => access,
        Err(ApiError::Unauthorized) => return Ok(None),
        Err(e) => return Err(e),
    };
    match signed_in_user(app, access, Via::Cookie).await? {
        (Some(_), Some(family))
            if !is_safe(req.method()) && !family.csrf_matches(cookies::csrf_presented(req)) =>
        {
            Err(ApiError::CsrfFailed)
        }
        (principal, _) => Ok(principal),
    }
}

/// The token of an `Authorization: Bearer` value; the scheme is case-insensitive
/// (RFC 9110 §11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn api_key_user(app: &App, token: &str) -> ApiResult<Principal> {
    let (user_id, key_id, secret) = api_keys::parse(token).ok_or(ApiError::Unauthorized)?;
    let (key_ok, user) =
        futures::join!(api_keys::verify(app, user_id, key_id, secret), users::get(app, user_id));
    // A key from before the account was last disabled stays dead, even if its
    // revocation did not finish.
    match (key_ok?, user?) {
        (Some(key), Some((user, _))) if user.accepts(key.created_at.unix_timestamp()) => {
            Ok(Principal { user, via: Via::ApiKey, family_id: None })
        }
        _ => Err(ApiError::Unauthorized),
    }
}

/// The user of an access token and its login, read at once: a disabled user, a token
/// from before the account was last disabled, or a revoked login is refused on the
/// spot, not when the token expires.
async fn signed_in_user(
    app: &App,
    access: Access,
    via: Via,
) -> ApiResult<(Option<Principal>, Option<Family>)> {
    let (user, family) =
        futures::join!(users::get(app, access.user_id), refresh::active_family(app, access.family_id));
    let (user, family) = (user?, family?);
    let login_ok = family.as_ref().is_some_and(|f| f.user_id == access.user_id);
    let principal = user
        .map(|(user, _)| user)
        .filter(|u| login_ok && u.accepts(access.issued_at))
        .map(|user| Principal { user, via, family_id: Some(access.family_id) });
    Ok((principal, family))
}
