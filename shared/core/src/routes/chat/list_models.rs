use super::v1_wire::ModelList;
use crate::app::App;
use crate::auth::principal;
use crate::error::ApiResult;
use crate::http::{Response, json};
use crate::repo::routing;
use http::StatusCode;

/// The models this deployment routes, in OpenAI's list format: only those the caller's
/// API key may use.
#[utoipa::path(get, path = "/v1/models", tag = "openai", operation_id = "openai_list_models",
    security(("bearer" = [])),
    responses((status = 200, description = "an OpenAI model list")))]
pub async fn handle(app: &App, req: crate::http::Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    let config = routing::load(app).await?;
    let names = config.models.iter().map(|m| m.name.as_str()).filter(|name| caller.may_use(name));
    Ok(json(StatusCode::OK, &ModelList::of(names)))
}
