//! Routing: which function serves a path, and each function's routes. Handlers live
//! in `routes/<resource>/<verb>.rs` and return `ApiResult<Response>`.

pub mod admin;
pub mod auth;
pub mod chat;
pub mod health;
pub mod openapi;
pub mod sessions;
#[cfg(test)]
mod store_faults;

use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, error_response};
use crate::ports::{MaybeSend, MaybeSync};
use crate::repo::audit::{AuditEvent, AuditEvents};
use std::sync::Arc;

/// The deployable functions. Each serves one path prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Auth,
    Chat,
    Session,
    Admin,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::Auth => "auth",
            Function::Chat => "chat",
            Function::Session => "session",
            Function::Admin => "admin",
        }
    }

    /// The function a path belongs to, as the CDN routes it. `/openapi.json` is served
    /// by auth, the one function every deployment has in front.
    pub fn for_path(path: &str) -> Option<Function> {
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        match first {
            "auth" | "openapi.json" => Some(Function::Auth),
            "chat" | "v1" => Some(Function::Chat),
            "sessions" | "shared" => Some(Function::Session),
            "admin" => Some(Function::Admin),
            _ => None,
        }
    }
}

/// Where the middleware chain ends: the routes an entry point serves.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Routes: MaybeSend + MaybeSync {
    async fn route(&self, app: &Arc<App>, segments: &[&str], req: Request) -> ApiResult<Response>;
}

/// One function's routes, for an entry point serving that function alone (a Worker):
/// nothing in it names the other functions' handlers, so they are not in its binary.
macro_rules! function_routes {
    ($($name:ident => $module:ident),+ $(,)?) => {$(
        pub struct $name;

        #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
        impl Routes for $name {
            async fn route(&self, app: &Arc<App>, segments: &[&str], req: Request) -> ApiResult<Response> {
                $module::route(app, segments, req).await
            }
        }
    )+};
}

function_routes!(AuthRoutes => auth, ChatRoutes => chat, SessionRoutes => sessions, AdminRoutes => admin);

/// Every function's routes, picked by the function (the local server, the Lambdas).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Routes for Function {
    async fn route(&self, app: &Arc<App>, segments: &[&str], req: Request) -> ApiResult<Response> {
        match self {
            Function::Auth => AuthRoutes.route(app, segments, req).await,
            Function::Chat => ChatRoutes.route(app, segments, req).await,
            Function::Session => SessionRoutes.route(app, segments, req).await,
            Function::Admin => AdminRoutes.route(app, segments, req).await,
        }
    }
}

pub async fn dispatch(app: &Arc<App>, routes: &dyn Routes, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    routes.route(app, &segments, req).await.unwrap_or_else(|e| error_response(&e))
}

/// Picks the handler for the request's method, or answers 405 with `Allow`.
#[macro_export]
macro_rules! by_method {
    ($req:expr, { $($method:ident => $handler:expr),+ $(,)? }) => {{
        let method = $req.method().clone();
        $(if method == http::Method::$method { $handler.await } else)+ {
            Err($crate::error::ApiError::method_not_allowed(&[$(http::Method::$method),+]))
        }
    }};
}

/// A path segment that must be an id; anything else names no resource.
pub fn path_id(segment: &str) -> ApiResult<Id> {
    Id::parse(segment).ok_or(ApiError::NotFound)
}

/// Attaches an audit event for the audit middleware to store.
pub fn audited(mut resp: Response, event: AuditEvent) -> Response {
    resp.extensions_mut().get_or_insert_default::<AuditEvents>().0.push(event);
    resp
}

#[cfg(test)]
mod tests {
    use super::Function;

    #[test]
    fn paths_route_by_prefix() {
        assert_eq!(Function::for_path("/auth/login"), Some(Function::Auth));
        assert_eq!(Function::for_path("/openapi.json"), Some(Function::Auth));
        assert_eq!(Function::for_path("/sessions"), Some(Function::Session));
        assert_eq!(Function::for_path("/sessions/01J/messages"), Some(Function::Session));
        assert_eq!(Function::for_path("/shared/abc"), Some(Function::Session));
        assert_eq!(Function::for_path("/admin/users"), Some(Function::Admin));
        assert_eq!(Function::for_path("/authx"), None);
        assert_eq!(Function::for_path("/"), None);
    }
}
