use crate::app::App;
use crate::auth::principal;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::http::{Request, Response, no_content};
use crate::repo::sessions;

/// Deletes a session with its messages and blobs.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions", operation_id = "sessions_delete",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let (owned, version) = sessions::get_owned(app, principal(&req)?.user.id, id).await?;
    sessions::delete(app, &owned, version).await?;
    Ok(no_content())
}
