pub(crate) mod audit;
pub(crate) mod delete_user;
pub(crate) mod list_users;
pub mod metrics;
pub(crate) mod models;
pub(crate) mod password_reset;
pub(crate) mod providers_health;
pub(crate) mod update_user;
pub(crate) mod usage;

use super::{Function, health, path_id};
use crate::app::App;
use crate::auth::admin;
use crate::by_method;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response};

pub async fn route(app: &App, segments: &[&str], req: Request) -> ApiResult<Response> {
    if segments == ["admin", "health"] {
        return by_method!(req, { GET => health::handle(app, Function::Admin) });
    }
    // Every other admin route needs the admin role, checked before the path is even
    // looked at so nothing about them leaks to others.
    admin(&req)?;
    match segments {
        ["admin", "users"] => by_method!(req, { GET => list_users::handle(app, req) }),
        ["admin", "users", id] => by_method!(req, {
            PATCH => update_user::handle(app, path_id(id)?, req),
            DELETE => delete_user::handle(app, path_id(id)?, req),
        }),
        ["admin", "users", id, "password-reset"] => {
            by_method!(req, { POST => password_reset::handle(app, path_id(id)?, req) })
        }
        ["admin", "audit"] => by_method!(req, { GET => audit::handle(app, req) }),
        ["admin", "usage"] => by_method!(req, { GET => usage::handle(app, req) }),
        ["admin", "models"] => by_method!(req, { GET => models::get(app), PUT => models::put(app, req) }),
        ["admin", "metrics"] => by_method!(req, { GET => metrics::handle(app) }),
        ["admin", "providers", "health"] => by_method!(req, { GET => providers_health::handle(app) }),
        _ => Err(ApiError::NotFound),
    }
}
