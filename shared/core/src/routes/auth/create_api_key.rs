use crate::app::App;
use crate::auth::{api_keys, signed_in};
use crate::domain::BoundedText;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, parse_json};
use crate::repo::audit::AuditEvent;
use crate::routes::audited;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// 1 to 100 characters.
    #[schema(
        max_length = 100,
        pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub id: String,
    pub name: String,
    /// The key itself. It is shown only in this response.
    pub key: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

#[utoipa::path(post, path = "/auth/api-keys", tag = "auth", operation_id = "auth_create_api_key",
    security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 401, body = crate::http::ErrorBody),
        (status = 403, description = "called with an API key", body = crate::http::ErrorBody),
        (status = 422, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let user_id = signed_in(&req)?.user.id;
    let body: CreateApiKeyRequest = parse_json(&req)?;
    let name = BoundedText::parse("name", &body.name, 100)?.into_string();
    if name.is_empty() {
        return Err(ApiError::Validation("name must not be empty".into()));
    }
    let (record, key) = api_keys::create(app, user_id, name).await?;
    let created =
        CreatedApiKey { id: record.id.to_string(), name: record.name, key, created_at: record.created_at };
    let detail = json!({ "key_id": created.id, "name": created.name });
    let event = AuditEvent::by_user(user_id, "auth.api_key_created", detail);
    Ok(audited(json(StatusCode::CREATED, &created), event))
}
