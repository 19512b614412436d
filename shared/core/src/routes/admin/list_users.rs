use crate::app::App;
use crate::error::ApiResult;
use crate::http::pagination::PageRequest;
use crate::http::{Request, Response, json, parse_query};
use crate::repo::Listing;
use crate::repo::users::{self, AdminUserView};
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub struct ListUsersQuery {
    /// Keeps users whose email or name contains this, ignoring case.
    pub query: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Users, newest first.
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("bearer" = [])),
    params(ListUsersQuery),
    responses((status = 200, body = Listing<AdminUserView>), (status = 403, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let query: ListUsersQuery = parse_query(&req)?;
    let page = PageRequest::parse(query.limit.as_deref(), query.cursor)?;
    let filter = query.query.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let (found, next_cursor) = users::list(app, filter, page.limit, page.cursor).await?;
    let items = found.iter().map(|u| u.admin_view()).collect();
    Ok(json(StatusCode::OK, &Listing { items, next_cursor }))
}
