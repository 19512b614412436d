use crate::app::App;
use crate::auth::principal;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::http::{Request, Response, json};
use crate::repo::branches;
use crate::repo::sessions::{self, Session};
use http::StatusCode;

#[utoipa::path(get, path = "/sessions/{id}", tag = "sessions", operation_id = "sessions_get",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let (mut owned, _) = sessions::get_owned(app, principal(&req)?.user.id, id).await?;
    // A session from before branches names no leaf: its newest message is the one.
    owned.session.current_leaf_id = branches::current_leaf(app, &owned.session).await?;
    Ok(json(StatusCode::OK, &owned.session))
}
