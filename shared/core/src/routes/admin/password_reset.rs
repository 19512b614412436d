use crate::app::App;
use crate::auth::admin_in_person;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json};
use crate::repo::audit::AuditEvent;
use crate::repo::password_resets::{self, Reset};
use crate::repo::users;
use crate::routes::audited;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// How long a reset link works.
const LINK_TTL: Duration = Duration::from_secs(3600);

#[derive(Serialize, ToSchema)]
pub struct ResetLink {
    /// `<public URL>/reset-password#token=…`: the token is in the fragment, so it never
    /// reaches a server's logs. Works once.
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// A one-time link, valid for an hour, with which the user sets a new password
/// (`POST /auth/password/reset`). It replaces the user's earlier link.
#[utoipa::path(post, path = "/admin/users/{id}/password-reset", tag = "admin",
    operation_id = "admin_password_reset", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 201, body = ResetLink),
        (status = 404, body = crate::http::ErrorBody),
        (status = 503, description = "CONFAB_PUBLIC_URL is not set", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let actor = admin_in_person(&req)?.user.id;
    let (user, _) = users::get(app, id).await?.ok_or(ApiError::NotFound)?;
    let base_url = app.config.public_url.as_deref().ok_or_else(|| {
        ApiError::Unavailable("CONFAB_PUBLIC_URL must be set to hand out reset links".into())
    })?;
    let token = app.random_token();
    let expires_at = app.now() + LINK_TTL;
    password_resets::create(
        app,
        &token,
        &Reset { user_id: user.id, expires_at: expires_at.unix_timestamp() },
    )
    .await?;
    let link = ResetLink { url: format!("{base_url}/reset-password#token={token}"), expires_at };
    let mut resp = json(StatusCode::CREATED, &link);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let event = AuditEvent {
        action: "admin.password_reset_link",
        user_id: Some(id),
        actor_id: Some(actor),
        detail: json!({ "expires_at": expires_at.unix_timestamp() }),
    };
    Ok(audited(resp, event))
}
