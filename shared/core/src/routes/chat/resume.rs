use crate::app::App;
use crate::auth::principal;
use crate::chat::{resume, sse};
use crate::domain::Id;
use crate::error::ApiResult;
use crate::http::{Request, Response, header_str, parse_query};
use crate::repo::sessions;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResumeQuery {
    /// The id of the last event received; `Last-Event-ID` takes precedence.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 2147483647)]
    pub after: Option<String>,
}

/// Resumes a reply's event stream after the last event the client received, with no
/// gap and no repeat; without one it replays the reply from the start.
#[utoipa::path(get, path = "/chat/sessions/{id}/messages/{message_id}/stream", tag = "chat", operation_id = "chat_resume",
    security(("bearer" = [])),
    params(("id" = String, Path), ("message_id" = String, Path), ResumeQuery,
        ("Last-Event-ID" = Option<u32>, Header, nullable = false, minimum = 0, maximum = 2147483647, description = "the id of the last event received")),
    responses((status = 200, description = "the rest of the reply, as text/event-stream", content_type = "text/event-stream"),
        (status = 400, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, session_id: Id, message_id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let query: ResumeQuery = parse_query(&req)?;
    let raw =
        header_str(&req, http::HeaderName::from_static("last-event-id")).map(String::from).or(query.after);
    let after = raw.as_deref().map(resume::parse_after).transpose()?;
    sessions::get_owned(app, user_id, session_id).await?;
    sessions::message(app, session_id, message_id).await?;
    Ok(sse::response(resume::stream(app.clone(), session_id, message_id, after)))
}
