use crate::app::App;
use crate::auth::{api_keys, signed_in};
use crate::domain::Id;
use crate::error::ApiResult;
use crate::http::{Request, Response, no_content};
use crate::repo::audit::AuditEvent;
use crate::routes::audited;
use serde_json::json;

#[utoipa::path(delete, path = "/auth/api-keys/{id}", tag = "auth", operation_id = "auth_delete_api_key",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = signed_in(&req)?.user.id;
    api_keys::revoke(app, user_id, id).await?;
    let event = AuditEvent::by_user(user_id, "auth.api_key_revoked", json!({ "key_id": id }));
    Ok(audited(no_content(), event))
}
