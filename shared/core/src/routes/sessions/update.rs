use super::title;
use crate::app::App;
use crate::auth::principal;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::http::{Request, Response, json, parse_json};
use crate::repo::search;
use crate::repo::sessions::{self, Session};
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSessionRequest {
    /// Up to 200 characters.
    #[schema(max_length = 200, pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$")]
    pub title: Option<String>,
    pub archived: Option<bool>,
}

/// Renames or (un)archives a session.
#[utoipa::path(patch, path = "/sessions/{id}", tag = "sessions", operation_id = "sessions_update",
    security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateSessionRequest,
    responses((status = 200, body = Session), (status = 404, body = crate::http::ErrorBody),
        (status = 422, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let body: UpdateSessionRequest = parse_json(&req)?;
    let new_title = body.title.as_deref().map(|t| title(Some(t))).transpose()?;
    let (mut owned, version) = sessions::get_owned(app, user_id, id).await?;
    let renamed = new_title.is_some();
    if let Some(t) = new_title {
        owned.session.title = t;
    }
    if let Some(archived) = body.archived {
        owned.session.archived = archived;
    }
    owned.session.updated_at = app.now();
    sessions::save(app, &owned, version).await?;
    if renamed {
        search::index_title(app, &owned).await;
    }
    Ok(json(StatusCode::OK, &owned.session))
}
