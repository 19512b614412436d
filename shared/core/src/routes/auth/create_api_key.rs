use crate::app::App;
use crate::auth::api_keys::{self, Grant};
use crate::auth::signed_in;
use crate::domain::{BoundedText, ModelAllowlist, Role, Scope, Scopes, key_expiry};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, parse_json};
use crate::repo::api_keys::ApiKeyView;
use crate::repo::audit::AuditEvent;
use crate::repo::users::User;
use crate::routes::audited;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
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
    /// What the key may do, each scope once. Default: every scope but `admin`, which
    /// only an admin may give a key.
    #[schema(value_type = Option<BTreeSet<Scope>>, min_items = 1)]
    pub scopes: Option<Vec<String>>,
    /// The only models the key may use, each once (1 to 100 characters). Default:
    /// every model.
    #[schema(value_type = Option<BTreeSet<String>>, min_items = 1, max_items = 50)]
    pub models: Option<Vec<String>>,
    /// When the key stops working: after now and at most 5 years ahead. Default: never.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// The key itself. It is shown only in this response.
    pub key: String,
}

#[utoipa::path(post, path = "/auth/api-keys", tag = "auth", operation_id = "auth_create_api_key",
    security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 401, body = crate::http::ErrorBody),
        (status = 403, description = "called with an API key (`insufficient_scope`), or the `admin` scope \
            asked for by someone not an admin (`forbidden`)", body = crate::http::ErrorBody),
        (status = 422, description = "a bad name, an unknown or repeated scope or model, too many models, \
            or an expiry that is malformed, past or more than 5 years ahead", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let user = &signed_in(&req)?.user;
    let body: CreateApiKeyRequest = parse_json(&req)?;
    let name = BoundedText::parse("name", &body.name, 100)?.into_string();
    if name.is_empty() {
        return Err(ApiError::Validation("name must not be empty".into()));
    }
    let grant = grant(app, user, &body)?;
    let (record, key) = api_keys::create(app, user.id, name, grant).await?;
    let created = CreatedApiKey { api_key: record.view(), key };
    let detail = json!({
        "key_id": record.id, "name": record.name, "scopes": record.scopes,
        "models": record.models, "expires_at": created.api_key.expires_at.map(|at| at.unix_timestamp()),
    });
    let event = AuditEvent::by_user(user.id, "auth.api_key_created", detail);
    Ok(audited(json(StatusCode::CREATED, &created), event))
}

/// What the body asks the key may do; the `admin` scope only for admins.
fn grant(app: &App, user: &User, body: &CreateApiKeyRequest) -> ApiResult<Grant> {
    let scopes = body.scopes.as_deref().map(Scopes::parse).transpose()?.unwrap_or_default();
    if scopes.contains(Scope::Admin) && user.role != Role::Admin {
        return Err(ApiError::Forbidden("only admins may give a key the admin scope"));
    }
    Ok(Grant {
        scopes,
        models: body.models.as_deref().map(ModelAllowlist::parse).transpose()?,
        expires_at: body.expires_at.as_deref().map(|raw| key_expiry(raw, app.now())).transpose()?,
    })
}
