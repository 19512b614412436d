use crate::app::App;
use crate::auth::{admin, refresh};
use crate::domain::{Id, Quota, Role};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, parse_json};
use crate::repo::audit::AuditEvent;
use crate::repo::{api_keys, users};
use crate::routes::audited;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub role: Option<Role>,
    /// Disabling revokes every refresh token and API key of the user at once.
    pub disabled: Option<bool>,
    /// Replaces the user's own limits; absent fields use the deployment's defaults.
    #[serde(default, deserialize_with = "crate::http::object")]
    pub quota: Option<Quota>,
}

#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", operation_id = "admin_update_user",
    security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateUserRequest,
    responses((status = 200, body = crate::repo::users::AdminUserView),
        (status = 404, body = crate::http::ErrorBody),
        (status = 422, description = "a quota limit below 1", body = crate::http::ErrorBody),
        (status = 409, description = "admins cannot change their own role or status", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let actor = admin(&req)?.user.id;
    let body: UpdateUserRequest = parse_json(&req)?;
    if body.role.is_some() {
        crate::auth::admin_in_person(&req)?;
    }
    if id == actor && (body.role.is_some() || body.disabled.is_some()) {
        return Err(ApiError::Conflict("admins cannot change their own role or disabled state"));
    }
    let (mut user, version) = users::get(app, id).await?.ok_or(ApiError::NotFound)?;
    let newly_disabled = body.disabled == Some(true) && !user.disabled;
    user.role = body.role.unwrap_or(user.role);
    user.disabled = body.disabled.unwrap_or(user.disabled);
    if newly_disabled {
        user.not_before = Some(app.clock.now_unix());
    }
    if let Some(quota) = body.quota {
        if [quota.requests_per_minute, quota.tokens_per_day].iter().flatten().any(|v| *v <= 0) {
            return Err(ApiError::Validation("quota limits must be positive".into()));
        }
        user.quota = quota;
    }
    // The user record first: from here every request of theirs is refused.
    users::save(app, &user, version).await?;
    if newly_disabled {
        api_keys::delete_all(app, id).await?;
        refresh::revoke_all(app, id).await?;
    }
    let event = AuditEvent {
        action: "admin.user_updated",
        user_id: Some(id),
        actor_id: Some(actor),
        detail: json!({ "role": body.role, "disabled": body.disabled, "quota": body.quota }),
    };
    Ok(audited(json(StatusCode::OK, &user.admin_view()), event))
}
