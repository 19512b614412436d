use crate::app::App;
use crate::auth::principal;
use crate::chat::lease;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::PageRequest;
use crate::http::{Request, Response, json, parse_query};
use crate::repo::Listing;
use crate::repo::branches;
use crate::repo::sessions::{self, Message, Session};
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMessagesQuery {
    /// 1 to 100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
    /// `current` (the session's current branch) or a message id: only the path from
    /// the root to that message (its newest 2,000 messages at most). Without it, every
    /// message of every branch.
    #[param(max_length = 26)]
    pub branch: Option<String>,
}

/// A session's messages, oldest first: all of them, or one branch.
#[utoipa::path(get, path = "/sessions/{id}/messages", tag = "sessions", operation_id = "sessions_messages",
    security(("bearer" = [])),
    params(("id" = String, Path), ListMessagesQuery),
    responses((status = 200, body = Listing<Message>), (status = 400, description = "a bad limit or cursor", body = crate::http::ErrorBody),
        (status = 404, body = crate::http::ErrorBody),
        (status = 422, description = "`unknown_message`: `branch` names no message of this session", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let query: ListMessagesQuery = parse_query(&req)?;
    let page = PageRequest::parse(query.limit.as_deref(), query.cursor)?;
    let (owned, _) = sessions::get_owned(app, user_id, id).await?;
    let (items, next_cursor) = match query.branch.as_deref() {
        None => branches::all(app, id, page.limit, page.cursor).await?,
        Some(branch) => {
            let path = branch_path(app, &owned.session, branch).await?;
            branches::page_of(path, page.limit, page.cursor.as_deref())?
        }
    };
    let items = lease::check_all(app, id, items).await?;
    Ok(json(StatusCode::OK, &Listing { items, next_cursor }))
}

/// The path `branch` names (`current` or a message id), oldest first.
async fn branch_path(app: &App, session: &Session, branch: &str) -> ApiResult<Vec<Message>> {
    let leaf = match branch {
        "current" => branches::current_leaf(app, session).await?,
        other => Some(Id::parse(other).ok_or(ApiError::UnknownMessage("branch"))?),
    };
    let Some(leaf) = leaf else { return Ok(Vec::new()) };
    let path = branches::path_to(app, session.id, leaf).await?;
    if path.is_empty() {
        return Err(ApiError::UnknownMessage("branch"));
    }
    Ok(path)
}
