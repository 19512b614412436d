use super::send::{self, Asking, Mode};
use crate::app::App;
use crate::auth::principal;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, parse_json};
use crate::repo::sessions;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateReplyRequest {
    /// Overrides the session's model for this turn.
    #[schema(max_length = 100, pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$")]
    pub model: Option<String>,
}

/// Answers a user message again: a new reply beside the earlier ones, streamed as
/// `POST /chat/sessions/{id}/messages` streams (`user_message_id` is the message
/// answered). A question asked of research (its `research_depth` set) is researched
/// again at that depth, streamed as `POST /chat/sessions/{id}/research` streams, with
/// `model`, else `CONFAB_RESEARCH_MODEL`, else the session's. The reply becomes the
/// session's `current_leaf_id`.
#[utoipa::path(post, path = "/chat/sessions/{id}/messages/{message_id}/regenerate", tag = "chat",
    operation_id = "chat_regenerate", security(("bearer" = [])),
    params(("id" = String, Path), ("message_id" = String, Path, description = "a user message of the session")),
    request_body = RegenerateReplyRequest,
    responses((status = 200, description = "the reply, as text/event-stream", content_type = "text/event-stream"),
        (status = 403, description = "`model_not_allowed`", body = crate::http::ErrorBody),
        (status = 404, description = "no such session, or no such message in it", body = crate::http::ErrorBody),
        (status = 409, description = "another turn changed the session first; retry", body = crate::http::ErrorBody),
        (status = 422, description = "`wrong_message_role`: the message is not a user message", body = crate::http::ErrorBody),
        (status = 429, body = crate::http::ErrorBody),
        (status = 503, description = "`search_not_configured`: a research question, and no web search provider is set up", body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, session_id: Id, message_id: Id, req: Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    // The body is optional: `{}` and none at all ask with the session's model.
    let body: RegenerateReplyRequest =
        if req.body().is_empty() { RegenerateReplyRequest::default() } else { parse_json(&req)? };
    // Another's or an unknown message is refused when the turn is prepared (404).
    let depth = match sessions::message(app, session_id, message_id).await {
        Ok((asked, _)) => asked.research_depth,
        Err(ApiError::NotFound) => None,
        Err(e) => return Err(e),
    };
    let (model, mode) = match depth {
        Some(depth) => (body.model.or_else(|| app.config.research_model.clone()), Mode::Research(depth)),
        None => (body.model, Mode::Chat),
    };
    send::start(app, caller, session_id, model, Asking::Again(message_id), mode).await
}
