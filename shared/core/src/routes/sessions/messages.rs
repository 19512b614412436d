use crate::app::App;
use crate::auth::principal;
use crate::chat::lease;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::http::pagination::PageRequest;
use crate::http::{Request, Response, json, parse_query};
use crate::repo::Listing;
use crate::repo::sessions::{self, Message};
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
}

/// A session's messages, oldest first.
#[utoipa::path(get, path = "/sessions/{id}/messages", tag = "sessions", operation_id = "sessions_messages",
    security(("bearer" = [])),
    params(("id" = String, Path), ListMessagesQuery),
    responses((status = 200, body = Listing<Message>), (status = 400, description = "a bad limit or cursor", body = crate::http::ErrorBody),
        (status = 404, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let query: ListMessagesQuery = parse_query(&req)?;
    let page = PageRequest::parse(query.limit.as_deref(), query.cursor)?;
    sessions::get_owned(app, user_id, id).await?;
    let (items, next_cursor) = sessions::messages(app, id, page.limit, page.cursor).await?;
    let items = lease::check_all(app, id, items).await?;
    Ok(json(StatusCode::OK, &Listing { items, next_cursor }))
}
