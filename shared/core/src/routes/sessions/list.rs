use crate::app::App;
use crate::auth::principal;
use crate::error::ApiResult;
use crate::http::pagination::PageRequest;
use crate::http::{Request, Response, json, parse_query};
use crate::repo::Listing;
use crate::repo::sessions::{self, Session};
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

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
}

/// The caller's sessions, newest first.
#[utoipa::path(get, path = "/sessions", tag = "sessions", operation_id = "sessions_list",
    security(("bearer" = [])),
    params(ListSessionsQuery),
    responses((status = 200, body = Listing<Session>), (status = 400, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let query: ListSessionsQuery = parse_query(&req)?;
    let page = PageRequest::parse(query.limit.as_deref(), query.cursor)?;
    let (items, next_cursor) =
        sessions::list(app, user_id, query.archived.unwrap_or(false), page.limit, page.cursor).await?;
    Ok(json(StatusCode::OK, &Listing { items, next_cursor }))
}
