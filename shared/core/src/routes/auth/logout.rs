use crate::app::App;
use crate::auth::{refresh, session_tokens};
use crate::error::{ApiError, ApiResult};
use crate::http::cookies::{self, REFRESH};
use crate::http::{Request, Response, no_content};
use crate::repo::audit::AuditEvent;
use crate::routes::audited;
use serde_json::json;

/// Revokes the refresh token's whole family and clears the cookies.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", operation_id = "auth_logout",
    responses((status = 204, description = "logged out"),
        (status = 403, description = "CSRF token missing", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    if let Some(token) = cookies::get(&req, REFRESH) {
        if !cookies::csrf_ok(&req) {
            return Err(ApiError::CsrfFailed);
        }
        refresh::revoke_for_token(app, token).await?;
    }
    let user_id = crate::auth::principal(&req).ok().map(|p| p.user.id);
    let event = AuditEvent { action: "auth.logout", user_id, actor_id: user_id, detail: json!({}) };
    Ok(audited(session_tokens::cleared(no_content()), event))
}
