use crate::app::App;
use crate::auth::refresh::{self, Client, Login, Outcome};
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
/// The CSRF header must carry the login's CSRF token. A token rotated less than 30 s
/// ago returns the same successor (two tabs refreshing at once); later, it revokes the
/// login.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", operation_id = "auth_refresh",
    responses((status = 200, body = crate::auth::session_tokens::AuthResponse),
        (status = 401, description = "no valid refresh token", body = crate::http::ErrorBody),
        (status = 403, description = "CSRF token missing", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let token = cookies::get(&req, REFRESH).ok_or(ApiError::Unauthorized)?;
    let csrf = cookies::csrf_presented(&req);
    match refresh::rotate(app, token, csrf, &Client::of(&req)).await? {
        Outcome::Reused { user_id } => {
            let event = AuditEvent {
                action: "auth.refresh_reuse",
                user_id: Some(user_id),
                actor_id: None,
                detail: json!({ "family_revoked": true }),
            };
            Ok(audited(session_tokens::cleared(error_response(&ApiError::Unauthorized)), event))
        }
        Outcome::Rotated { user_id, family_id, started_at, issued } => {
            let (user, _) = users::get(app, user_id)
                .await?
                .filter(|(u, _)| u.accepts(started_at))
                .ok_or(ApiError::Unauthorized)?;
            let csrf = csrf.unwrap_or_default().to_string();
            session_tokens::respond(app, StatusCode::OK, &user, Login { family_id, refresh: issued, csrf })
                .await
        }
    }
}
