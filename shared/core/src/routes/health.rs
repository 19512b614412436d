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

/// Liveness of one function. It touches no backing service, so it stays cheap enough
/// for load balancers and synthetic checks.
#[utoipa::path(get, path = "/{function}/health", tag = "health",
    params(("function" = String, Path, description = "auth, sessions, admin or chat")),
    responses((status = 200, body = Health)))]
pub async fn handle(function: Function) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &Health { status: "ok", function: function.name() }))
}
