use crate::accounts;
use crate::app::App;
use crate::auth::admin_in_person;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, no_content};
use crate::repo::audit::AuditEvent;
use crate::repo::users;
use crate::routes::audited;
use serde_json::json;

/// Deletes a user's account and everything it owns, as `DELETE /auth/me` does.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", operation_id = "admin_delete_user",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted"),
        (status = 404, body = crate::http::ErrorBody),
        (status = 409, description = "admins cannot delete themselves here (use DELETE /auth/me), \
            or the account changed meanwhile", body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let actor = admin_in_person(&req)?.user.id;
    if id == actor {
        return Err(ApiError::Conflict("admins cannot delete their own account here; use DELETE /auth/me"));
    }
    let (user, version) = users::get(app, id).await?.ok_or(ApiError::NotFound)?;
    accounts::delete(app, &user, version).await?;
    let event = AuditEvent {
        action: "account.deleted",
        user_id: Some(id),
        actor_id: Some(actor),
        detail: json!({ "user_id": id }),
    };
    Ok(audited(no_content(), event))
}
