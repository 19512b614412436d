use super::send::{self, Asking, MAX_MESSAGE_CHARS, Mode, present};
use crate::app::App;
use crate::auth::principal;
use crate::domain::{BoundedText, Id};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, parse_json};
use crate::research::Depth;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchRequest {
    /// 1 to 100,000 characters, not all blank.
    #[schema(
        max_length = 100000,
        pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub question: String,
    /// The model every agent asks. Default: `CONFAB_RESEARCH_MODEL`, else the session's.
    #[schema(max_length = 100, pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$")]
    pub model: Option<String>,
    /// How much research to do (sub-questions, searches, pages, tokens, time); default `standard`.
    #[serde(default)]
    pub depth: Depth,
    /// As in `POST /chat/sessions/{id}/messages`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub parent_id: Option<Option<Id>>,
}

/// Researches a question on the web and streams the report like a chat reply, with
/// `plan` `{questions}`, `step` `{agent, status, detail}` and `source` `{n, url, title}`
/// events besides; the report cites sources as `[n]` (numbers of pages not read are
/// taken out) and is saved with `sources`. The question is saved with its
/// `research_depth`, so regenerating its reply researches it again.
#[utoipa::path(post, path = "/chat/sessions/{id}/research", tag = "chat", operation_id = "chat_research",
    security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ResearchRequest,
    responses((status = 200, description = "the report, as text/event-stream", content_type = "text/event-stream"),
        (status = 403, description = "`model_not_allowed`", body = crate::http::ErrorBody),
        (status = 404, body = crate::http::ErrorBody),
        (status = 409, description = "another turn changed the session first; retry", body = crate::http::ErrorBody),
        (status = 422, description = "`unknown_message` or `wrong_message_role` for `parent_id`", body = crate::http::ErrorBody),
        (status = 429, body = crate::http::ErrorBody),
        (status = 503, description = "`search_not_configured`: no web search provider is set up", body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, session_id: Id, req: Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    let body: ResearchRequest = parse_json(&req)?;
    let question = BoundedText::parse("question", &body.question, MAX_MESSAGE_CHARS)?.into_string();
    if question.is_empty() {
        return Err(ApiError::Validation("question must not be empty".into()));
    }
    if app.search.is_none() {
        return Err(ApiError::SearchNotConfigured);
    }
    let model = body.model.or_else(|| app.config.research_model.clone());
    let asking = Asking::New { content: question, parent: body.parent_id, attachments: Vec::new() };
    send::start(app, caller, session_id, model, asking, Mode::Research(body.depth)).await
}
