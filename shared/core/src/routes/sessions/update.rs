use super::title;
use crate::app::App;
use crate::auth::principal;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
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
    /// Switches branch: the message (of this session) whose path is the current
    /// branch, answered by default and listed by `?branch=current`.
    #[schema(value_type = Option<String>, pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub current_leaf_id: Option<Id>,
}

/// Renames, (un)archives or switches the branch of a session.
#[utoipa::path(patch, path = "/sessions/{id}", tag = "sessions", operation_id = "sessions_update",
    security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateSessionRequest,
    responses((status = 200, body = Session), (status = 404, body = crate::http::ErrorBody),
        (status = 422, description = "`unknown_message`: `current_leaf_id` names no message of this session",
            body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let body: UpdateSessionRequest = parse_json(&req)?;
    let new_title = body.title.as_deref().map(|t| title(Some(t))).transpose()?;
    let (mut owned, version) = sessions::get_owned(app, user_id, id).await?;
    let renamed = new_title.is_some();
    if let Some(t) = new_title {
        owned.session.title = t;
        owned.title_derived = false;
    }
    if let Some(leaf) = body.current_leaf_id {
        sessions::message(app, id, leaf).await.map_err(|e| match e {
            ApiError::NotFound => ApiError::UnknownMessage("current_leaf_id"),
            other => other,
        })?;
        owned.session.current_leaf_id = Some(leaf);
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
