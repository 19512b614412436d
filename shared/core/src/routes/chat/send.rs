use crate::app::App;
use crate::auth::principal;
use crate::chat::models::ModelKind;
use crate::chat::turn::{self, Turn};
use crate::chat::{context, quota, sse};
use crate::domain::{BoundedText, Id, MessageRole, MessageStatus};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, parse_json};
use crate::providers::{ChatMessage, ChatRole};
use crate::repo::sessions::{self, Message};
use crate::repo::{routing, turns};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// Longest message a user may send, in characters.
pub const MAX_MESSAGE_CHARS: usize = 100_000;
/// Most earlier messages read to build the context.
const HISTORY: u32 = 100;
const TITLE_CHARS: usize = 80;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// 1 to 100,000 characters, not all blank.
    #[schema(
        max_length = 100000,
        pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$"
    )]
    pub content: String,
    /// Overrides the session's model for this turn.
    #[schema(max_length = 100, pattern = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$")]
    pub model: Option<String>,
}

/// Sends a message and streams the reply as Server-Sent Events: `message_start`
/// `{user_message_id, message_id}`, `delta` `{text}`…, `usage`, `message_end`
/// `{status}`, or `error` `{code, message}`. Every event has an `id:` for resuming.
#[utoipa::path(post, path = "/chat/sessions/{id}/messages", tag = "chat", operation_id = "chat_send",
    security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SendMessageRequest,
    responses((status = 200, description = "the reply, as text/event-stream", content_type = "text/event-stream"),
        (status = 403, description = "`model_not_allowed`: the API key may not use the model (the one named, \
            else the session's or the default)", body = crate::http::ErrorBody),
        (status = 404, body = crate::http::ErrorBody), (status = 422, body = crate::http::ErrorBody),
        (status = 429, body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, session_id: Id, req: Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    let user = caller.user.clone();
    let body: SendMessageRequest = parse_json(&req)?;
    let content = BoundedText::parse("content", &body.content, MAX_MESSAGE_CHARS)?.into_string();
    if content.is_empty() {
        return Err(ApiError::Validation("content must not be empty".into()));
    }
    let prepare = async {
        let (owned, config, history) = futures::join!(
            sessions::get_owned(app, user.id, session_id),
            routing::load(app),
            sessions::recent_messages(app, session_id, HISTORY),
        );
        let (owned, version) = owned?;
        let config = config?;
        let name = body
            .model
            .clone()
            .or(owned.session.model.clone())
            .unwrap_or_else(|| config.default_model.clone());
        caller.check_model(&name)?;
        let route = config.route_of_kind(&name, ModelKind::Chat)?.clone();
        let mut turns: Vec<ChatMessage> = history?.iter().rev().filter_map(as_turn).collect();
        turns.push(ChatMessage::text(ChatRole::User, content.clone()));
        let request = context::fit(owned.session.system_prompt.as_deref(), &turns, &route);
        let tokens = quota::estimate(&request);
        Ok(((owned, version, route, request), tokens))
    };
    let ((mut owned, version, route, request), reservation) = quota::admit(app, &user, prepare).await?;

    let now = app.now();
    let message = |role, content, status| Message {
        id: app.new_id(),
        role,
        content,
        status,
        model: None,
        usage: None,
        created_at: now,
    };
    let user_message = message(MessageRole::User, content, MessageStatus::Complete);
    let mut reply = message(MessageRole::Assistant, String::new(), MessageStatus::Streaming);
    reply.model = Some(route.name.clone());
    if owned.session.title.is_empty() {
        owned.session.title = title_from(&user_message.content);
    }
    owned.session.updated_at = now;
    turns::start(app, &owned, version, &user_message, &reply).await?;
    let turn = Turn {
        user_id: user.id,
        session_id,
        user_message_id: user_message.id,
        reply,
        route,
        request,
        reservation,
    };
    Ok(sse::response(turn::start(app.clone(), turn)))
}

/// A stored message as context: user turns, and whatever assistants said.
fn as_turn(m: &Message) -> Option<ChatMessage> {
    let role = match m.role {
        MessageRole::User => ChatRole::User,
        MessageRole::Assistant => ChatRole::Assistant,
        MessageRole::System => return None,
    };
    (!m.content.is_empty()).then(|| ChatMessage::text(role, m.content.clone()))
}

/// The first line of the first message, cut at a word near 80 characters.
fn title_from(content: &str) -> String {
    let line = content.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    if line.chars().count() <= TITLE_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(TITLE_CHARS).collect();
    let words = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", words.trim_end())
}

#[cfg(test)]
mod tests {
    use super::title_from;

    #[test]
    fn titles() {
        assert_eq!(title_from("\n  Hello there \nmore"), "Hello there");
        let long = "word ".repeat(30);
        let t = title_from(&long);
        assert!(t.ends_with('…') && t.chars().count() <= 81, "{t}");
    }
}
