use super::reauthenticate;
use crate::accounts;
use crate::app::App;
use crate::auth::mfa::SecondFactor;
use crate::auth::{refresh, session_tokens, signed_in};
use crate::domain::Id;
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
    /// Not for an account that signs in only through an identity provider: it signs in
    /// there again instead, and deletes within 10 minutes.
    #[serde(default)]
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
        (status = 401, description = "wrong password or code; `mfa_required` without a code; \
            `sign_in_again`: an account without a password signed in more than 10 minutes ago", body = crate::http::ErrorBody),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody),
        (status = 409, description = "the account changed meanwhile; retry", body = crate::http::ErrorBody),
        (status = 422, description = "a malformed code", body = crate::http::ErrorBody),
        (status = 429, description = "locked after failed attempts", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let caller = signed_in(&req)?;
    let user = caller.user.clone();
    let body: DeleteAccountRequest = parse_json(&req)?;
    if user.password_hash.is_empty() {
        signed_in_lately(app, caller.family_id).await?;
        return delete(app, &user).await;
    }
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
    delete(app, &user).await
}

/// Within this long of signing in, an account without a password may be deleted.
const FRESH_SIGN_IN_SECONDS: i64 = 600;

/// Whether the caller's login began moments ago (a sign-in at the identity provider).
async fn signed_in_lately(app: &App, login: Option<Id>) -> ApiResult<()> {
    let family = match login {
        Some(id) => refresh::active_family(app, id).await?,
        None => None,
    };
    let fresh = family.is_some_and(|f| app.clock.now_unix() - f.created_at <= FRESH_SIGN_IN_SECONDS);
    if fresh { Ok(()) } else { Err(ApiError::SignInAgain) }
}

async fn delete(app: &App, user: &users::User) -> ApiResult<Response> {
    let (current, version) = users::get(app, user.id).await?.ok_or(ApiError::Unauthorized)?;
    accounts::delete(app, &current, version).await?;
    let event = AuditEvent::by_user(user.id, "account.deleted", json!({ "user_id": user.id }));
    Ok(audited(session_tokens::cleared(no_content()), event))
}
