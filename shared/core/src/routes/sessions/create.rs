use super::{MAX_MODEL, MAX_SYSTEM_PROMPT, title};
use crate::app::App;
use crate::auth::principal;
use crate::domain::optional_text;
use crate::error::ApiResult;
use crate::http::{Request, Response, json, parse_json};
use crate::repo::search;
use crate::repo::sessions::{self, Owned, Session};
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// Up to 200 characters.
    #[schema(max_length = 200, pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$")]
    pub title: Option<String>,
    /// The model to chat with; the default model when absent. Up to 100 characters.
    #[schema(max_length = 100, pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$")]
    pub model: Option<String>,
    /// Up to 32,000 characters.
    #[schema(max_length = 32000, pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$")]
    pub system_prompt: Option<String>,
}

#[utoipa::path(post, path = "/sessions", tag = "sessions", operation_id = "sessions_create",
    security(("bearer" = [])),
    request_body = CreateSessionRequest,
    responses((status = 201, body = Session), (status = 401, body = crate::http::ErrorBody),
        (status = 403, description = "`model_not_allowed`: the API key may not use this model", body = crate::http::ErrorBody),
        (status = 422, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    let body: CreateSessionRequest = parse_json(&req)?;
    let model = optional_text("model", body.model.as_deref(), MAX_MODEL)?;
    if let Some(model) = &model {
        caller.check_model(model)?;
    }
    let title = title(body.title.as_deref())?;
    let system_prompt = optional_text("system_prompt", body.system_prompt.as_deref(), MAX_SYSTEM_PROMPT)?;
    let session = Session::new(app, title, model, system_prompt);
    let owned = Owned { user_id: caller.user.id, title_derived: false, session };
    sessions::create(app, &owned).await?;
    search::index_title(app, &owned).await;
    Ok(json(StatusCode::CREATED, &owned.session))
}
