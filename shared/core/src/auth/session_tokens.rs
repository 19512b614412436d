//! The response of register, login, refresh and identity-provider sign-in: an access token in the body for
//! programs, and the same plus a refresh token and a CSRF value in cookies for browsers.

use super::{jwt, refresh};
use crate::app::App;
use crate::error::ApiResult;
use crate::http::cookies::{ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE};
use crate::http::{Response, found, json};
use crate::repo::users::{User, UserView};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

pub async fn respond(
    app: &App,
    status: StatusCode,
    user: &User,
    login: refresh::Login,
) -> ApiResult<Response> {
    let (access_token, cookies) = issue(app, user, login).await?;
    let ttl = app.config.access_ttl_seconds;
    let body = AuthResponse { user: user.view(), access_token, token_type: "Bearer", expires_in: ttl };
    Ok(with_cookies(json(status, &body), &cookies))
}

/// The same cookies on a redirect to `location`, for a browser sign-in that ends on a
/// page (an identity provider's callback).
pub async fn redirect(app: &App, location: &str, user: &User, login: refresh::Login) -> ApiResult<Response> {
    let (_, cookies) = issue(app, user, login).await?;
    Ok(with_cookies(found(location), &cookies))
}

/// A new access token for `login`, and the three cookies of a signed-in browser.
async fn issue(app: &App, user: &User, login: refresh::Login) -> ApiResult<(String, [String; 3])> {
    let access_token = jwt::issue(app, user.id, login.family_id).await?;
    let max_age = login.refresh.max_age;
    let cookies = [
        ACCESS_COOKIE.set(&access_token, app.config.access_ttl_seconds),
        REFRESH_COOKIE.set(&login.refresh.token, max_age),
        CSRF_COOKIE.set(&login.csrf, max_age),
    ];
    Ok((access_token, cookies))
}

pub fn cleared(resp: Response) -> Response {
    with_cookies(resp, &[ACCESS_COOKIE.clear(), REFRESH_COOKIE.clear(), CSRF_COOKIE.clear()])
}

fn with_cookies(mut resp: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
