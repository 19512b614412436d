use crate::app::App;
use crate::auth::principal;
use crate::domain::Id;
use crate::error::ApiError;
use crate::error::ApiResult;
use crate::http::pagination::PageRequest;
use crate::http::{Request, Response, json, parse_query};
use crate::repo::sessions::{self, Session};
use crate::repo::{Listing, search};
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

const MAX_QUERY_CHARS: usize = 200;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListSessionsQuery {
    /// 1 to 100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
    /// `true` lists archived sessions instead of active ones.
    pub archived: Option<bool>,
    /// Words that must all appear (as word beginnings, any case) in the title or the
    /// messages; the items then carry a `snippet` and come newest created first.
    #[param(max_length = 200)]
    pub query: Option<String>,
}

/// The caller's sessions, newest first; with `query`, those whose title or messages
/// hold its words, each with a snippet.
#[utoipa::path(get, path = "/sessions", tag = "sessions", operation_id = "sessions_list",
    security(("bearer" = [])),
    params(ListSessionsQuery),
    responses((status = 200, body = Listing<Session>), (status = 400, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let query: ListSessionsQuery = parse_query(&req)?;
    let page = PageRequest::parse(query.limit.as_deref(), query.cursor)?;
    let archived = query.archived.unwrap_or(false);
    if let Some(words) = query.query.as_deref().filter(|q| !q.trim().is_empty()) {
        return search(app, user_id, words, archived, page).await;
    }
    let (items, next_cursor) = sessions::list(app, user_id, archived, page.limit, page.cursor).await?;
    Ok(json(StatusCode::OK, &Listing { items, next_cursor }))
}

async fn search(
    app: &App,
    user_id: Id,
    words: &str,
    archived: bool,
    page: PageRequest,
) -> ApiResult<Response> {
    if words.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::InvalidRequest(format!("query: at most {MAX_QUERY_CHARS} characters")));
    }
    let after = page.cursor.map(|c| Id::parse(&c).ok_or(ApiError::InvalidCursor)).transpose()?;
    let (items, next) = search::search(app, user_id, words, archived, page.limit as usize, after).await?;
    Ok(json(StatusCode::OK, &Listing { items, next_cursor: next.map(|id| id.to_string()) }))
}
