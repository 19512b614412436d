pub(crate) mod create_api_key;
pub(crate) mod delete_account;
pub(crate) mod delete_api_key;
pub(crate) mod jwks;
pub(crate) mod list_api_keys;
pub(crate) mod login;
pub(crate) mod logins;
pub(crate) mod logout;
pub(crate) mod me;
pub(crate) mod mfa;
pub(crate) mod oidc;
pub(crate) mod password;
pub(crate) mod refresh;
pub(crate) mod register;

use super::{Function, health, openapi, path_id};
use crate::app::App;
use crate::auth::mfa::SecondFactor;
use crate::auth::throttle::{self, fixed_window};
use crate::auth::{mfa as totp_mfa, passwords};
use crate::by_method;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, client_ip, client_key};
use crate::repo::users::User;

pub async fn route(app: &App, segments: &[&str], req: Request) -> ApiResult<Response> {
    match segments {
        ["openapi.json"] => by_method!(req, { GET => openapi::handle() }),
        ["auth", "health"] => by_method!(req, { GET => health::handle(app, Function::Auth) }),
        ["auth", "register"] => by_method!(req, { POST => register::handle(app, req) }),
        ["auth", "login"] => by_method!(req, { POST => login::handle(app, req) }),
        ["auth", "refresh"] => by_method!(req, { POST => refresh::handle(app, req) }),
        ["auth", "logout"] => by_method!(req, { POST => logout::handle(app, req) }),
        ["auth", "me"] => {
            by_method!(req, { GET => me::handle(req), DELETE => delete_account::handle(app, req) })
        }
        ["auth", "jwks.json"] => by_method!(req, { GET => jwks::handle(app) }),
        ["auth", "api-keys"] => by_method!(req, {
            POST => create_api_key::handle(app, req),
            GET => list_api_keys::handle(app, req),
        }),
        ["auth", "api-keys", id] => {
            by_method!(req, { DELETE => delete_api_key::handle(app, path_id(id)?, req) })
        }
        ["auth", "mfa", "totp", "setup"] => by_method!(req, { POST => mfa::setup(app, req) }),
        ["auth", "mfa", "totp", "enable"] => by_method!(req, { POST => mfa::enable(app, req) }),
        ["auth", "mfa", "totp", "disable"] => by_method!(req, { POST => mfa::disable(app, req) }),
        ["auth", "mfa", "recovery-codes"] => by_method!(req, { POST => mfa::regenerate(app, req) }),
        ["auth", "oidc", "providers"] => by_method!(req, { GET => oidc::providers(app) }),
        ["auth", "oidc", name, "start"] => by_method!(req, { GET => oidc::start(app, name, req) }),
        ["auth", "oidc", name, "callback"] => by_method!(req, { GET => oidc::callback(app, name, req) }),
        ["auth", "password"] => by_method!(req, { POST => password::change(app, req) }),
        ["auth", "password", "reset"] => by_method!(req, { POST => password::reset(app, req) }),
        ["auth", "logins"] => by_method!(req, { GET => logins::list(app, req) }),
        ["auth", "logins", id] => by_method!(req, { DELETE => logins::revoke(app, path_id(id)?, req) }),
        _ => Err(ApiError::NotFound),
    }
}

/// Per-IP limit on credential attempts (login and register), well below the general one.
async fn throttle_credentials(app: &App, req: &Request) -> ApiResult<()> {
    fixed_window(app, "login", &client_key(client_ip(req)), app.config.login_max_per_minute, 60).await
}

/// Asks a signed-in user for their password again, and for their second factor when
/// one is given: throttled and counted toward the lockout exactly like a login. Returns
/// the kind of factor used.
async fn reauthenticate(
    app: &App,
    req: &Request,
    user: &User,
    password: &str,
    factor: Option<&SecondFactor>,
) -> ApiResult<Option<&'static str>> {
    let (email, ip) = (Email::parse(&user.email)?, client_ip(req));
    throttle::begin_attempt(app, &email, ip).await?;
    if !passwords::verify(app, password, Some(&user.password_hash)).await? {
        throttle::record_failure(app, &email).await?;
        return Err(ApiError::InvalidCredentials);
    }
    let used = match factor {
        Some(factor) => Some(totp_mfa::use_factor(app, user, factor).await?),
        None => None,
    };
    throttle::clear_failures(app, &email, ip).await?;
    Ok(used)
}
