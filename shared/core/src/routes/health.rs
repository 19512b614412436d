use super::Function;
use crate::error::ApiResult;
use crate::http::{Response, json};
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub function: &'static str,
}

/// Whether `req` is a health check: answered without the rate limiter and
/// authentication, which go to the store.
pub fn is_check(req: &crate::http::Request) -> bool {
    let path = req.uri().path().trim_end_matches('/');
    req.method() == http::Method::GET
        && path
            .strip_suffix("/health")
            .is_some_and(|f| ["/auth", "/chat", "/sessions", "/admin"].contains(&f))
}

/// Liveness of one function. It touches no backing service (the admission layer lets it
/// through without its store round trips), so it stays cheap enough for load balancers
/// and synthetic checks, and answers while the store is down.
#[utoipa::path(get, path = "/{function}/health", tag = "health",
    params(("function" = String, Path, description = "auth, sessions, admin or chat")),
    responses((status = 200, body = Health)))]
pub async fn handle(function: Function) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &Health { status: "ok", function: function.name() }))
}
