use super::Function;
use crate::app::App;
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

/// Whether one function can serve: one point read of the store (the admission layer
/// lets health checks through without its own round trips, so this is the only one),
/// 503 when the store cannot be read.
#[utoipa::path(get, path = "/{function}/health", tag = "health", operation_id = "health",
    params(("function" = String, Path, description = "auth, sessions, admin or chat",
        pattern = "^(auth|sessions|admin|chat)$")),
    responses((status = 200, body = Health),
        (status = 404, description = "no function by that name", body = crate::http::ErrorBody),
        (status = 503, description = "the store cannot be read", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, function: Function) -> ApiResult<Response> {
    crate::repo::probe(app).await?;
    Ok(json(StatusCode::OK, &Health { status: "ok", function: function.name() }))
}
