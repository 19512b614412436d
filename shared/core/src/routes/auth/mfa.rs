//! TOTP MFA: set up (pending), enable with a code, disable, and new recovery codes.
//! Each change asks for the password again (throttled like a login), and every
//! outcome, refusals included, is audited.

use super::reauthenticate;
use crate::app::App;
use crate::auth::mfa::{self as totp_mfa, SecondFactor};
use crate::auth::signed_in;
use crate::domain::{Id, TotpCode};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, error_response, json, no_content, parse_json};
use crate::repo::audit::AuditEvent;
use crate::repo::mfa::{self, Mfa};
use crate::repo::users::{self, User};
use crate::routes::audited;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SetupResponse {
    /// The base32 TOTP secret, for typing into an authenticator app. Shown only here.
    pub secret: String,
    /// The same as an `otpauth://` URL, for a QR code.
    pub otpauth_url: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableRequest {
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    pub password: String,
    /// A TOTP code; or send `recovery_code`.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: Option<String>,
    #[schema(pattern = "^([A-Za-z2-7]{4}-?){3}[A-Za-z2-7]{4}$")]
    pub recovery_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateRequest {
    pub password: String,
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes, each accepted once instead of a TOTP code. Shown only here.
    pub recovery_codes: Vec<String>,
}

/// Starts MFA: a new secret, pending until enabled with a code from it. Again while
/// pending replaces the secret.
#[utoipa::path(post, path = "/auth/mfa/totp/setup", tag = "auth", operation_id = "auth_mfa_setup",
    security(("bearer" = [])), request_body = SetupRequest,
    responses((status = 200, body = SetupResponse),
        (status = 401, description = "wrong password", body = crate::http::ErrorBody),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody),
        (status = 409, description = "MFA is already on", body = crate::http::ErrorBody),
        (status = 422, body = crate::http::ErrorBody)))]
pub async fn setup(app: &App, req: Request) -> ApiResult<Response> {
    let user = signed_in(&req)?.user.clone();
    let body: SetupRequest = parse_json(&req)?;
    audit_refusal(user.id, "setup", async {
        reauthenticate(app, &req, &user, &body.password, None).await?;
        let existing = mfa::get(app, user.id).await?;
        if existing.as_ref().is_some_and(|(m, _)| m.enabled) {
            return Err(ApiError::Conflict("MFA is already on; disable it first"));
        }
        let secret = totp_mfa::new_secret(app);
        let record = Mfa {
            sealed_secret: totp_mfa::seal(app, user.id, &secret).await?,
            enabled: false,
            last_step: None,
            recovery_hashes: vec![],
        };
        mfa::save(app, user.id, &record, existing.map(|(_, version)| version)).await?;
        let totp = totp_mfa::totp(secret, &user.email);
        let body = SetupResponse { secret: totp.get_secret_base32(), otpauth_url: totp.get_url() };
        Ok(audited(json(StatusCode::OK, &body), AuditEvent::by_user(user.id, "auth.mfa_setup", json!({}))))
    })
    .await
}

/// Turns MFA on with a code from the pending secret; answers the recovery codes.
#[utoipa::path(post, path = "/auth/mfa/totp/enable", tag = "auth", operation_id = "auth_mfa_enable",
    security(("bearer" = [])), request_body = EnableRequest,
    responses((status = 200, body = RecoveryCodes),
        (status = 401, description = "wrong code (`mfa_invalid`)", body = crate::http::ErrorBody),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody),
        (status = 409, description = "no pending setup, or MFA is already on", body = crate::http::ErrorBody),
        (status = 422, description = "not a 6-digit code", body = crate::http::ErrorBody)))]
pub async fn enable(app: &App, req: Request) -> ApiResult<Response> {
    let user = signed_in(&req)?.user.clone();
    let body: EnableRequest = parse_json(&req)?;
    let code = TotpCode::parse(&body.code)?;
    audit_refusal(user.id, "enable", async {
        let (mut record, version) = mfa::get(app, user.id)
            .await?
            .filter(|(m, _)| !m.enabled)
            .ok_or(ApiError::Conflict("no pending MFA setup: POST /auth/mfa/totp/setup first"))?;
        let totp = totp_mfa::totp(totp_mfa::open(app, user.id, &record.sealed_secret).await?, &user.email);
        let step =
            totp_mfa::accepted_step(&totp, &code, app.clock.now_unix(), None).ok_or(ApiError::MfaInvalid)?;
        let (codes, hashes) = totp_mfa::new_recovery_codes(app);
        record.enabled = true;
        record.last_step = Some(step);
        record.recovery_hashes = hashes;
        let (current, user_version) = current_user(app, user.id).await?;
        mfa::set_enabled(app, &current, user_version, Some(&record), version).await?;
        let body = RecoveryCodes { recovery_codes: codes };
        Ok(audited(json(StatusCode::OK, &body), AuditEvent::by_user(user.id, "auth.mfa_enabled", json!({}))))
    })
    .await
}

/// Turns MFA off, with the password and a code or a recovery code.
#[utoipa::path(post, path = "/auth/mfa/totp/disable", tag = "auth", operation_id = "auth_mfa_disable",
    security(("bearer" = [])), request_body = DisableRequest,
    responses((status = 204, description = "MFA is off"),
        (status = 401, description = "wrong password or code; `mfa_required` without either code",
            body = crate::http::ErrorBody),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody),
        (status = 409, description = "MFA is not on", body = crate::http::ErrorBody),
        (status = 422, description = "a malformed code", body = crate::http::ErrorBody)))]
pub async fn disable(app: &App, req: Request) -> ApiResult<Response> {
    let user = signed_in(&req)?.user.clone();
    let body: DisableRequest = parse_json(&req)?;
    let factor = SecondFactor::parse(body.code.as_deref(), body.recovery_code.as_deref())?
        .ok_or(ApiError::MfaRequired)?;
    require_mfa_on(&user)?;
    audit_refusal(user.id, "disable", async {
        let factor_kind = reauthenticate(app, &req, &user, &body.password, Some(&factor)).await?;
        let (_, version) = enabled_record(app, user.id).await?;
        let (current, user_version) = current_user(app, user.id).await?;
        mfa::set_enabled(app, &current, user_version, None, version).await?;
        Ok(audited(
            no_content(),
            AuditEvent::by_user(user.id, "auth.mfa_disabled", json!({ "factor": factor_kind })),
        ))
    })
    .await
}

/// New recovery codes, replacing the old ones, with the password and a TOTP code.
#[utoipa::path(post, path = "/auth/mfa/recovery-codes", tag = "auth", operation_id = "auth_mfa_recovery_codes",
    security(("bearer" = [])), request_body = RegenerateRequest,
    responses((status = 200, body = RecoveryCodes),
        (status = 401, description = "wrong password or code", body = crate::http::ErrorBody),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody),
        (status = 409, description = "MFA is not on", body = crate::http::ErrorBody),
        (status = 422, description = "not a 6-digit code", body = crate::http::ErrorBody)))]
pub async fn regenerate(app: &App, req: Request) -> ApiResult<Response> {
    let user = signed_in(&req)?.user.clone();
    let body: RegenerateRequest = parse_json(&req)?;
    let factor = SecondFactor::Totp(TotpCode::parse(&body.code)?);
    require_mfa_on(&user)?;
    audit_refusal(user.id, "recovery_codes", async {
        reauthenticate(app, &req, &user, &body.password, Some(&factor)).await?;
        let (mut record, version) = enabled_record(app, user.id).await?;
        let (codes, hashes) = totp_mfa::new_recovery_codes(app);
        record.recovery_hashes = hashes;
        mfa::save(app, user.id, &record, Some(version)).await?;
        let body = RecoveryCodes { recovery_codes: codes };
        Ok(audited(
            json(StatusCode::OK, &body),
            AuditEvent::by_user(user.id, "auth.mfa_recovery_codes", json!({})),
        ))
    })
    .await
}

const NOT_ON: &str = "MFA is not on";

fn require_mfa_on(user: &User) -> ApiResult<()> {
    if user.mfa_enabled { Ok(()) } else { Err(ApiError::Conflict(NOT_ON)) }
}

/// The user's MFA record, which must be on, and its version.
async fn enabled_record(app: &App, user_id: Id) -> ApiResult<(Mfa, u64)> {
    mfa::get(app, user_id).await?.filter(|(m, _)| m.enabled).ok_or(ApiError::Conflict(NOT_ON))
}

/// The stored user and its version, to update it.
async fn current_user(app: &App, id: Id) -> ApiResult<(User, u64)> {
    users::get(app, id).await?.ok_or(ApiError::Unauthorized)
}

/// A wrong password or code is answered, and audited as `auth.mfa_failed`.
async fn audit_refusal(
    user_id: Id,
    step: &str,
    outcome: impl Future<Output = ApiResult<Response>>,
) -> ApiResult<Response> {
    match outcome.await {
        Err(e @ (ApiError::InvalidCredentials | ApiError::MfaInvalid)) => {
            let detail = json!({ "step": step, "reason": e.code() });
            Ok(audited(error_response(&e), AuditEvent::by_user(user_id, "auth.mfa_failed", detail)))
        }
        other => other,
    }
}
