use super::throttle_credentials;
use crate::app::App;
use crate::auth::{passwords, refresh, session_tokens};
use crate::domain::{Email, Password, optional_text};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, parse_json};
use crate::repo::audit::AuditEvent;
use crate::repo::users::{self, NewUser};
use crate::routes::audited;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 128 characters, not all blank.
    #[schema(min_length = 8, max_length = 128, pattern = "\\S")]
    pub password: String,
    /// Up to 100 characters.
    #[schema(max_length = 100, pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$")]
    pub name: Option<String>,
}

/// Creates an account and logs it in. The first account on a deployment is admin.
#[utoipa::path(post, path = "/auth/register", tag = "auth", operation_id = "auth_register",
    request_body = RegisterRequest,
    responses((status = 201, body = crate::auth::session_tokens::AuthResponse),
        (status = 409, description = "email taken", body = crate::http::ErrorBody),
        (status = 422, description = "invalid email, password or name", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    throttle_credentials(app, &req).await?;
    let body: RegisterRequest = parse_json(&req)?;
    let email = Email::parse(&body.email)?;
    let password = Password::parse(&body.password)?;
    let name = optional_text("name", body.name.as_deref(), 100)?;
    // Cheap early answer before the deliberately slow hash; the transaction still decides.
    if users::by_email(app, &email).await?.is_some() {
        return Err(ApiError::EmailTaken);
    }
    let password_hash = passwords::hash(app, &password).await?;
    let user = users::create(app, NewUser { email, name, password_hash }).await?;
    let login = refresh::start_family(app, user.id, refresh::Client::of(&req)).await?;
    let resp = session_tokens::respond(app, StatusCode::CREATED, &user, login).await?;
    let event = AuditEvent::by_user(user.id, "auth.register", json!({ "role": user.role }));
    Ok(audited(resp, event))
}
