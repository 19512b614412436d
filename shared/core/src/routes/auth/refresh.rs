use crate::app::App;
use crate::auth::refresh::{self, Outcome};
use crate::auth::session_tokens;
use crate::error::{ApiError, ApiResult};
use crate::http::cookies::{self, REFRESH};
use crate::http::{Request, Response, error_response};
use crate::repo::audit::AuditEvent;
use crate::repo::users;
use crate::routes::audited;
use http::StatusCode;
use serde_json::json;

/// Exchanges the refresh cookie for a new access token and a rotated refresh cookie.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", operation_id = "auth_refresh",
    responses((status = 200, body = crate::auth::session_tokens::AuthResponse),
        (status = 401, description = "no valid refresh token", body = crate::http::ErrorBody),
        (status = 403, description = "CSRF token missing", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let token = cookies::get(&req, REFRESH).ok_or(ApiError::Unauthorized)?;
    if !cookies::csrf_ok(&req) {
        return Err(ApiError::CsrfFailed);
    }
    match refresh::rotate(app, token).await? {
        Outcome::Reused { user_id } => {
            let event = AuditEvent {
                action: "auth.refresh_reuse",
                user_id: Some(user_id),
                actor_id: None,
                detail: json!({ "family_revoked": true }),
            };
            Ok(audited(session_tokens::cleared(error_response(&ApiError::Unauthorized)), event))
        }
        Outcome::Rotated { user_id, issued } => {
            let (user, _) =
                users::get(app, user_id).await?.filter(|(u, _)| !u.disabled).ok_or(ApiError::Unauthorized)?;
            session_tokens::respond(app, StatusCode::OK, &user, issued).await
        }
    }
}
