use crate::app::App;
use crate::auth::{refresh, session_tokens};
use crate::error::{ApiError, ApiResult};
use crate::http::cookies::{self, REFRESH};
use crate::http::{Request, Response, no_content};
use crate::repo::audit::AuditEvent;
use crate::routes::audited;
use serde_json::json;

/// Ends the login — the refresh cookie's, else the access token's — and clears the
/// cookies: its refresh and access tokens stop working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", operation_id = "auth_logout",
    responses((status = 204, description = "logged out"),
        (status = 403, description = "CSRF token missing", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let principal = crate::auth::principal(&req).ok();
    if let Some(token) = cookies::get(&req, REFRESH) {
        if let Some((family_id, family)) = refresh::family_of(app, token).await? {
            if !family.csrf_matches(cookies::csrf_presented(&req)) {
                return Err(ApiError::CsrfFailed);
            }
            refresh::revoke(app, family_id).await?;
        }
    } else if let Some(family_id) = principal.and_then(|p| p.family_id) {
        refresh::revoke(app, family_id).await?;
    }
    let user_id = principal.map(|p| p.user.id);
    let event = AuditEvent { action: "auth.logout", user_id, actor_id: user_id, detail: json!({}) };
    Ok(audited(session_tokens::cleared(no_content()), event))
}
