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
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Keeps users whose email or name contains this, ignoring case.
    pub query: Option<String>,
    /// 1 to 100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// Users, newest first.
#[utoipa::path(get, path = "/admin/users", tag = "admin", operation_id = "admin_list_users",
    security(("bearer" = [])),
    params(ListUsersQuery),
    responses((status = 200, body = Listing<AdminUserView>), (status = 400, description = "a bad limit or cursor", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let query: ListUsersQuery = parse_query(&req)?;
    let page = PageRequest::parse(query.limit.as_deref(), query.cursor)?;
    let filter = query.query.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let (found, next_cursor) = users::list(app, filter, page.limit, page.cursor).await?;
    let items = found.iter().map(|u| u.admin_view()).collect();
    Ok(json(StatusCode::OK, &Listing { items, next_cursor }))
}
