use crate::app::App;
use crate::auth::principal;
use crate::error::ApiResult;
use crate::http::{Request, Response, json};
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Capabilities {
    /// Whether `POST /chat/sessions/{id}/research` may be used (a web search provider
    /// is configured); without it, research answers 503 `search_not_configured`.
    pub research: bool,
}

/// What this deployment's chat can do beyond sending messages, for clients to show
/// only what works.
#[utoipa::path(get, path = "/chat/capabilities", tag = "chat", operation_id = "chat_capabilities",
    security(("bearer" = [])),
    responses((status = 200, body = Capabilities), (status = 401, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    principal(&req)?;
    Ok(json(StatusCode::OK, &Capabilities { research: app.search.is_some() }))
}
