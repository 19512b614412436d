use super::throttle_credentials;
use crate::app::App;
use crate::auth::mfa::{self, SecondFactor};
use crate::auth::{passwords, refresh, session_tokens, throttle};
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, client_ip, error_response, parse_json};
use crate::repo::audit::AuditEvent;
use crate::repo::users;
use crate::routes::audited;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    pub password: String,
    /// A TOTP code, for accounts with MFA enabled.
    #[schema(pattern = "^[0-9]{6}$")]
    pub totp: Option<String>,
    /// A single-use recovery code, instead of `totp`.
    #[schema(pattern = "^([A-Za-z2-7]{4}-?){3}[A-Za-z2-7]{4}$")]
    pub recovery_code: Option<String>,
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", operation_id = "auth_login", request_body = LoginRequest,
    responses((status = 200, body = crate::auth::session_tokens::AuthResponse),
        (status = 401, description = "wrong email or password; `mfa_required`: send `totp` or `recovery_code`; \
            `mfa_invalid`: a wrong, reused or expired code", body = crate::http::ErrorBody),
        (status = 403, description = "account disabled", body = crate::http::ErrorBody),
        (status = 422, description = "not an email address, or a malformed code", body = crate::http::ErrorBody),
        (status = 429, description = "throttled or locked", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    throttle_credentials(app, &req).await?;
    let body: LoginRequest = parse_json(&req)?;
    let email = Email::parse(&body.email)?;
    let factor = SecondFactor::parse(body.totp.as_deref(), body.recovery_code.as_deref())?;
    let ip = client_ip(&req);
    throttle::begin_attempt(app, &email, ip).await?;
    let found = users::by_email(app, &email).await?;
    let stored_hash = found.as_ref().map(|(u, _)| u.password_hash.as_str());
    let refused = |error: ApiError, reason: &str| {
        let event = AuditEvent {
            action: "auth.login_failed",
            user_id: found.as_ref().map(|(u, _)| u.id),
            actor_id: None,
            detail: json!({ "email": email.as_str(), "reason": reason }),
        };
        audited(error_response(&error), event)
    };
    if !passwords::verify(app, &body.password, stored_hash).await? {
        throttle::record_failure(app, &email).await?;
        return Ok(refused(ApiError::InvalidCredentials, "bad_credentials"));
    }
    let Some((user, _)) = found.as_ref() else { return Err(ApiError::InvalidCredentials) };
    if user.disabled {
        return Ok(refused(ApiError::AccountDisabled, "disabled"));
    }
    let mfa = match (user.mfa_enabled, &factor) {
        (false, _) => None,
        (true, None) => return Ok(refused(ApiError::MfaRequired, "mfa_required")),
        (true, Some(factor)) => match mfa::use_factor(app, user, factor).await {
            Err(ApiError::MfaInvalid) => return Ok(refused(ApiError::MfaInvalid, "mfa_invalid")),
            used => Some(used?),
        },
    };
    throttle::clear_failures(app, &email, ip).await?;
    let login = refresh::start_family(app, user.id, refresh::Client::of(&req)).await?;
    let resp = session_tokens::respond(app, StatusCode::OK, user, login).await?;
    let event = AuditEvent::by_user(user.id, "auth.login", json!({ "mfa": mfa }));
    Ok(audited(resp, event))
}
