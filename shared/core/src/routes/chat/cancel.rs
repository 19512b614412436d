use crate::app::App;
use crate::auth::principal;
use crate::chat::lease;
use crate::domain::{Id, MessageStatus};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json};
use crate::repo::{buffer, sessions};
use http::StatusCode;
use serde_json::json;
use std::sync::Arc;

/// Asks the reply to stop. The instance producing it stops the provider call at its
/// next save (within `CONFAB_STREAM_FLUSH_MS`) and ends the stream as `cancelled`.
#[utoipa::path(post, path = "/chat/sessions/{id}/messages/{message_id}/cancel", tag = "chat", operation_id = "chat_cancel",
    security(("bearer" = [])), params(("id" = String, Path), ("message_id" = String, Path)),
    responses((status = 202, description = "cancelling"), (status = 404, body = crate::http::ErrorBody),
        (status = 409, description = "the reply has already ended", body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, session_id: Id, message_id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    sessions::get_owned(app, user_id, session_id).await?;
    let message = lease::check(app, session_id, message_id).await?;
    if message.status != MessageStatus::Streaming {
        return Err(ApiError::Conflict("the reply has already ended"));
    }
    buffer::request_cancel(app, session_id, message_id).await?;
    Ok(json(StatusCode::ACCEPTED, &json!({ "status": "cancelling" })))
}
