//! Share links: the owner makes or revokes one; anyone with it reads the snapshot.

use crate::app::App;
use crate::auth::principal;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::http::{Body, Request, Response, json, no_content};
use crate::repo::audit::AuditEvent;
use crate::repo::sessions;
use crate::repo::shares::{self, Shared, Snapshot};
use crate::routes::audited;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

/// Shares a read-only snapshot of the conversation as it is now. A new link replaces
/// the session's earlier one, which stops working at once. The token is shown once.
#[utoipa::path(post, path = "/sessions/{id}/share", tag = "sessions", operation_id = "sessions_share",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 201, body = Shared), (status = 404, body = crate::http::ErrorBody),
        (status = 409, body = crate::http::ErrorBody)))]
pub async fn create(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let (owned, _) = sessions::get_owned(app, user_id, id).await?;
    let shared = shares::create(app, &owned).await?;
    let event = AuditEvent::by_user(user_id, "session.shared", json!({ "session_id": id }));
    Ok(audited(json(StatusCode::CREATED, &shared), event))
}

/// Revokes the session's share link: it is dead at once. Revoking when there is none
/// is done already (204).
#[utoipa::path(delete, path = "/sessions/{id}/share", tag = "sessions", operation_id = "sessions_unshare",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = crate::http::ErrorBody)))]
pub async fn revoke(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    sessions::get_owned(app, user_id, id).await?;
    if !shares::revoke(app, id).await? {
        return Ok(no_content());
    }
    let event = AuditEvent::by_user(user_id, "session.unshared", json!({ "session_id": id }));
    Ok(audited(no_content(), event))
}

/// A shared conversation, for anyone with the link: its title and words, never who
/// wrote it. Not cached anywhere, so a revoked link is dead everywhere at once.
#[utoipa::path(get, path = "/shared/{token}", tag = "sessions", operation_id = "shared_get",
    params(("token" = String, Path)),
    responses((status = 200, body = Snapshot), (status = 404, body = crate::http::ErrorBody)))]
pub async fn read(app: &App, token: &str) -> ApiResult<Response> {
    let snapshot = shares::open(app, token).await?;
    let mut resp = Response::new(Body::Full(snapshot));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    Ok(resp)
}
