pub(crate) mod create_api_key;
pub(crate) mod delete_api_key;
pub(crate) mod jwks;
pub(crate) mod list_api_keys;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod me;
pub(crate) mod refresh;
pub(crate) mod register;

use super::{Function, health, openapi, path_id};
use crate::app::App;
use crate::auth::throttle::fixed_window;
use crate::by_method;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, client_ip};

pub async fn route(app: &App, segments: &[&str], req: Request) -> ApiResult<Response> {
    match segments {
        ["openapi.json"] => by_method!(req, { GET => openapi::handle() }),
        ["auth", "health"] => by_method!(req, { GET => health::handle(app, Function::Auth) }),
        ["auth", "register"] => by_method!(req, { POST => register::handle(app, req) }),
        ["auth", "login"] => by_method!(req, { POST => login::handle(app, req) }),
        ["auth", "refresh"] => by_method!(req, { POST => refresh::handle(app, req) }),
        ["auth", "logout"] => by_method!(req, { POST => logout::handle(app, req) }),
        ["auth", "me"] => by_method!(req, { GET => me::handle(req) }),
        ["auth", "jwks.json"] => by_method!(req, { GET => jwks::handle(app) }),
        ["auth", "api-keys"] => by_method!(req, {
            POST => create_api_key::handle(app, req),
            GET => list_api_keys::handle(app, req),
        }),
        ["auth", "api-keys", id] => {
            by_method!(req, { DELETE => delete_api_key::handle(app, path_id(id)?, req) })
        }
        _ => Err(ApiError::NotFound),
    }
}

/// Per-IP limit on credential attempts (login and register), well below the general one.
async fn throttle_credentials(app: &App, req: &Request) -> ApiResult<()> {
    fixed_window(app, "login", &client_ip(req).to_string(), app.config.login_max_per_minute, 60).await
}
