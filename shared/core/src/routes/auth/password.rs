//! Changing a password (signed in, with the current one) and setting one from an
//! admin's reset link.

use super::{reauthenticate, throttle_credentials};
use crate::app::App;
use crate::auth::{passwords, refresh, signed_in};
use crate::domain::{Email, Password};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, error_response, no_content, parse_json};
use crate::repo::audit::AuditEvent;
use crate::repo::{password_resets, throttle, users};
use crate::routes::audited;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 128 characters, not all blank.
    #[schema(min_length = 8, max_length = 128, pattern = "\\S")]
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token from the reset link (after `#token=`).
    #[schema(max_length = 128)]
    pub token: String,
    #[schema(min_length = 8, max_length = 128, pattern = "\\S")]
    pub new_password: String,
}

/// Longer than any token we hand out: anything longer is refused unread.
const MAX_TOKEN_CHARS: usize = 128;

/// Changes the caller's password. Every other login ends at once (its refresh and
/// access tokens stop working); the calling one stays.
#[utoipa::path(post, path = "/auth/password", tag = "auth", operation_id = "auth_change_password",
    security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204, description = "changed; every other login is ended"),
        (status = 401, description = "wrong current password", body = crate::http::ErrorBody),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody),
        (status = 409, description = "the account changed meanwhile; retry", body = crate::http::ErrorBody),
        (status = 422, description = "the new password breaks the rules", body = crate::http::ErrorBody),
        (status = 429, description = "locked after failed attempts", body = crate::http::ErrorBody)))]
pub async fn change(app: &App, req: Request) -> ApiResult<Response> {
    let principal = signed_in(&req)?;
    let (user, login) = (principal.user.clone(), principal.family_id);
    let body: ChangePasswordRequest = parse_json(&req)?;
    let new_password = Password::parse(&body.new_password)?;
    match reauthenticate(app, &req, &user, &body.current_password, None).await {
        Err(e @ ApiError::InvalidCredentials) => {
            let event = AuditEvent::by_user(user.id, "auth.password_change_failed", json!({}));
            return Ok(audited(error_response(&e), event));
        }
        other => other?,
    };
    let password_hash = passwords::hash(app, &new_password).await?;
    let (current, version) = users::get(app, user.id).await?.ok_or(ApiError::Unauthorized)?;
    users::save(app, &users::User { password_hash, ..current }, version).await?;
    // After the write, so a login started in between (with the old password) ends too.
    refresh::revoke_all_but(app, user.id, login).await?;
    Ok(audited(no_content(), AuditEvent::by_user(user.id, "auth.password_changed", json!({}))))
}

/// Sets a new password with a token from an admin's reset link: the link works once,
/// within its hour. Every login and API key of the account ends and its failed-login
/// lockout is cleared. Attempts count toward the per-address credential limit.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", operation_id = "auth_reset_password",
    request_body = ResetPasswordRequest,
    responses((status = 204, description = "the password is set; every login is ended"),
        (status = 400, description = "`invalid_reset_token`: unknown, used or expired", body = crate::http::ErrorBody),
        (status = 422, description = "the new password breaks the rules", body = crate::http::ErrorBody),
        (status = 429, description = "too many attempts from this address", body = crate::http::ErrorBody)))]
pub async fn reset(app: &App, req: Request) -> ApiResult<Response> {
    throttle_credentials(app, &req).await?;
    let body: ResetPasswordRequest = parse_json(&req)?;
    let new_password = Password::parse(&body.new_password)?;
    let refused = |user_id, reason: &str| {
        let event = AuditEvent {
            action: "auth.password_reset_failed",
            user_id,
            actor_id: None,
            detail: json!({ "reason": reason }),
        };
        Ok(audited(error_response(&ApiError::InvalidResetToken), event))
    };
    if body.token.is_empty() || body.token.len() > MAX_TOKEN_CHARS {
        return refused(None, "malformed");
    }
    let Some((link, version)) = password_resets::find(app, &body.token).await? else {
        return refused(None, "unknown");
    };
    if app.clock.now_unix() >= link.expires_at {
        return refused(Some(link.user_id), "expired");
    }
    let Some((user, user_version)) = users::get(app, link.user_id).await? else {
        return refused(Some(link.user_id), "no_account");
    };
    let password_hash = passwords::hash(app, &new_password).await?;
    // The cutoff ends every login and API key in the same write as the password, so no
    // session of whoever knew the old one survives, however many they made.
    let updated = users::User { password_hash, not_before: Some(app.clock.now_unix()), ..user };
    password_resets::redeem(app, &body.token, version, &updated, user_version).await?;
    if let Err(e) = refresh::revoke_all(app, updated.id).await {
        tracing::warn!(error = %e, "ended logins could not all be marked revoked");
    }
    throttle::clear_account(app, &Email::parse(&updated.email)?).await?;
    Ok(audited(no_content(), AuditEvent::by_user(updated.id, "auth.password_reset", json!({}))))
}

#[cfg(test)]
mod tests {
    use super::reset;
    use crate::domain::Email;
    use crate::repo::password_resets::{self, Reset};
    use crate::repo::users::{self, NewUser};
    use crate::testing;
    use bytes::Bytes;
    use http::StatusCode;
    use std::time::Duration;

    fn request(token: &str) -> crate::http::Request {
        let body = serde_json::json!({"token": token, "new_password": "a brand new passphrase"});
        http::Request::post("/auth/password/reset")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(body.to_string()))
            .unwrap()
    }

    #[test]
    fn a_reset_link_expires_by_the_clock() {
        let t = testing::app().build();
        let app = &t.app;
        let email = Email::parse("ada@example.com").unwrap();
        let user =
            t.run(users::create(app, NewUser { email, name: None, password_hash: "h".into() })).unwrap();
        let expires_at = app.clock.now_unix() + 3600;
        for token in ["first", "second"] {
            t.run(password_resets::create(app, token, &Reset { user_id: user.id, expires_at })).unwrap();
        }
        t.clock.advance(Duration::from_secs(3600));
        let resp = t.run(reset(app, request("second"))).unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "expired at its hour's end");

        t.clock.set(expires_at - 1);
        assert_eq!(
            t.run(reset(app, request("first"))).unwrap().status(),
            StatusCode::BAD_REQUEST,
            "replaced"
        );
        assert_eq!(t.run(reset(app, request("second"))).unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(t.run(reset(app, request("second"))).unwrap().status(), StatusCode::BAD_REQUEST, "used");
    }
}
