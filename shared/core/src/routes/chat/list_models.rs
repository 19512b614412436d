use crate::app::App;
use crate::auth::principal;
use crate::error::ApiResult;
use crate::http::{Response, json};
use crate::repo::routing;
use http::StatusCode;
use serde_json::json;

/// The models this deployment routes, in OpenAI's list format.
#[utoipa::path(get, path = "/v1/models", tag = "openai", operation_id = "openai_list_models",
    security(("bearer" = [])),
    responses((status = 200, description = "an OpenAI model list")))]
pub async fn handle(app: &App, req: crate::http::Request) -> ApiResult<Response> {
    principal(&req)?;
    let config = routing::load(app).await?;
    let data: Vec<_> = config
        .models
        .iter()
        .map(|m| json!({ "id": m.name, "object": "model", "created": 0, "owned_by": "confab" }))
        .collect();
    Ok(json(StatusCode::OK, &json!({ "object": "list", "data": data })))
}
