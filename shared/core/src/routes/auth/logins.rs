//! The caller's logins (refresh families): where each is used from, and ending one.

use crate::app::App;
use crate::auth::{refresh, session_tokens, signed_in};
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, no_content};
use crate::repo::audit::AuditEvent;
use crate::repo::refresh::Family;
use crate::routes::audited;
use http::StatusCode;
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct LoginView {
    #[schema(value_type = String)]
    pub id: Id,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the login was last refreshed (at first, when it started).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
    /// The client's address at the start or latest refresh.
    pub ip: Option<String>,
    /// The client's `User-Agent` then, cut to 200 characters.
    pub user_agent: Option<String>,
    /// Whether this is the login making the request.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Logins {
    pub items: Vec<LoginView>,
}

fn time_of(unix: i64) -> ApiResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| ApiError::Internal(format!("stored time {unix}: {e}")))
}

fn view(id: Id, family: Family, current: Option<Id>) -> ApiResult<LoginView> {
    Ok(LoginView {
        id,
        created_at: time_of(family.created_at)?,
        last_used_at: family.last_used_at.map(time_of).transpose()?,
        ip: family.ip,
        user_agent: family.user_agent,
        current: current == Some(id),
    })
}

/// The caller's logins still in use, newest first.
#[utoipa::path(get, path = "/auth/logins", tag = "auth", operation_id = "auth_list_logins",
    security(("bearer" = [])),
    responses((status = 200, body = Logins),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody)))]
pub async fn list(app: &App, req: Request) -> ApiResult<Response> {
    let principal = signed_in(&req)?;
    let mut families = refresh::active_families(app, principal.user.id).await?;
    families.reverse();
    let items =
        families.into_iter().map(|(id, f)| view(id, f, principal.family_id)).collect::<ApiResult<_>>()?;
    Ok(json(StatusCode::OK, &Logins { items }))
}

/// Ends one of the caller's logins: its refresh and access tokens stop working at once.
/// Ending the current one also clears its cookies.
#[utoipa::path(delete, path = "/auth/logins/{id}", tag = "auth", operation_id = "auth_revoke_login",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "the login is ended"),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody),
        (status = 404, description = "no such login of the caller", body = crate::http::ErrorBody)))]
pub async fn revoke(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let principal = signed_in(&req)?;
    let user_id = principal.user.id;
    refresh::active_family(app, id).await?.filter(|f| f.user_id == user_id).ok_or(ApiError::NotFound)?;
    refresh::revoke(app, id).await?;
    let current = principal.family_id == Some(id);
    let resp = if current { session_tokens::cleared(no_content()) } else { no_content() };
    let event =
        AuditEvent::by_user(user_id, "auth.login_revoked", json!({ "login_id": id, "current": current }));
    Ok(audited(resp, event))
}
