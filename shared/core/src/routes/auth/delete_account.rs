use super::reauthenticate;
use crate::accounts;
use crate::app::App;
use crate::auth::mfa::SecondFactor;
use crate::auth::{session_tokens, signed_in};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, error_response, no_content, parse_json};
use crate::repo::audit::AuditEvent;
use crate::repo::users;
use crate::routes::audited;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    pub password: String,
    /// With MFA on: a TOTP code, or send `recovery_code`.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: Option<String>,
    #[schema(pattern = "^([A-Za-z2-7]{4}-?){3}[A-Za-z2-7]{4}$")]
    pub recovery_code: Option<String>,
}

/// Deletes the caller's account and everything it owns (sessions, messages, exports,
/// API keys, logins, MFA, usage); only the audit log keeps its id. The account is
/// unusable at once; what a request cannot delete in time, the sweep deletes within
/// minutes. The email can be registered again once everything is gone.
#[utoipa::path(delete, path = "/auth/me", tag = "auth", operation_id = "auth_delete_account",
    security(("bearer" = [])), request_body = DeleteAccountRequest,
    responses((status = 204, description = "deleted; the cookies are cleared"),
        (status = 401, description = "wrong password or code; `mfa_required` without a code", body = crate::http::ErrorBody),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody),
        (status = 409, description = "the account changed meanwhile; retry", body = crate::http::ErrorBody),
        (status = 422, description = "a malformed code", body = crate::http::ErrorBody),
        (status = 429, description = "locked after failed attempts", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let user = signed_in(&req)?.user.clone();
    let body: DeleteAccountRequest = parse_json(&req)?;
    let factor = SecondFactor::parse(body.code.as_deref(), body.recovery_code.as_deref())?;
    let factor = match (user.mfa_enabled, factor) {
        (false, _) => None,
        (true, None) => return Err(ApiError::MfaRequired),
        (true, factor) => factor,
    };
    match reauthenticate(app, &req, &user, &body.password, factor.as_ref()).await {
        Err(e @ (ApiError::InvalidCredentials | ApiError::MfaInvalid)) => {
            let event = AuditEvent::by_user(user.id, "account.delete_failed", json!({ "reason": e.code() }));
            return Ok(audited(error_response(&e), event));
        }
        other => other?,
    };
    let (current, version) = users::get(app, user.id).await?.ok_or(ApiError::Unauthorized)?;
    accounts::delete(app, &current, version).await?;
    let event = AuditEvent::by_user(user.id, "account.deleted", json!({ "user_id": user.id }));
    Ok(audited(session_tokens::cleared(no_content()), event))
}
