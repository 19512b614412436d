use crate::app::App;
use crate::auth::principal;
use crate::auth::principal::Principal;
use crate::chat::context::{self, estimate_tokens};
use crate::chat::models::{ModelKind, ModelRoute};
use crate::chat::turn::{self, Turn};
use crate::chat::{files, quota, sse, title};
use crate::domain::{BoundedText, Id, MessageRole, MessageStatus};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, parse_json};
use crate::providers::{ChatRequest, ChatRole};
use crate::repo::attachments::AttachedFile;
use crate::repo::sessions::{self, Message, Session};
use crate::repo::{branches, routing, turns};
use crate::research::{self, Depth, Job, ProducedStream};
use serde::{Deserialize, Deserializer};
use std::sync::Arc;
use utoipa::ToSchema;

/// Longest message a user may send, in characters.
pub const MAX_MESSAGE_CHARS: usize = 100_000;
/// Most earlier messages read to build the context.
const HISTORY: usize = 100;

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
    /// The message to answer under: an assistant's reply, or `null` for the root.
    /// Sending under an earlier message is an edit: a sibling of the user message
    /// that answered it before. Default: the session's current leaf.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub parent_id: Option<Option<Id>>,
    /// Files of this session (`POST /sessions/{id}/attachments`) sent with the message,
    /// each once: images for models that see them (else 422 `model_cannot_see_images`),
    /// text and PDFs as their text.
    #[serde(default)]
    #[schema(schema_with = attachment_ids)]
    pub attachments: Vec<Id>,
}

/// `attachments`' schema: at most 10 ids.
fn attachment_ids() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let id = ObjectBuilder::new().schema_type(Type::String).pattern(Some(crate::routes::openapi::ID_PATTERN));
    ArrayBuilder::new().items(id).max_items(Some(files::MAX_PER_MESSAGE)).build()
}

/// A field that may be `null`: `Some(None)`, told apart from a missing one (`None`).
pub(super) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Id>>, D::Error> {
    Option::<Id>::deserialize(d).map(Some)
}

/// Sends a message and streams the reply as Server-Sent Events: `message_start`
/// `{user_message_id, message_id}`, `delta` `{text}`…, `usage`, `message_end`
/// `{status}`, or `error` `{code, message}`. Every event has an `id:` for resuming.
/// The reply becomes the session's `current_leaf_id`.
#[utoipa::path(post, path = "/chat/sessions/{id}/messages", tag = "chat", operation_id = "chat_send",
    security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SendMessageRequest,
    responses((status = 200, description = "the reply, as text/event-stream", content_type = "text/event-stream"),
        (status = 403, description = "`model_not_allowed`: the API key may not use the model (the one named, \
            else the session's or the default)", body = crate::http::ErrorBody),
        (status = 404, body = crate::http::ErrorBody),
        (status = 409, description = "another turn changed the session first; retry", body = crate::http::ErrorBody),
        (status = 422, description = "`unknown_message`: `parent_id` names no message of this session; \
            `wrong_message_role`: it names a user message; `model_cannot_see_images`: images attached for \
            a model without vision", body = crate::http::ErrorBody),
        (status = 429, body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, session_id: Id, req: Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    let body: SendMessageRequest = parse_json(&req)?;
    let content = BoundedText::parse("content", &body.content, MAX_MESSAGE_CHARS)?.into_string();
    if content.is_empty() {
        return Err(ApiError::Validation("content must not be empty".into()));
    }
    let asking = Asking::New { content, parent: body.parent_id, attachments: body.attachments };
    start(app, caller, session_id, body.model, asking, Mode::Chat).await
}

/// Who writes the reply.
#[derive(Clone, Copy)]
pub(super) enum Mode {
    /// One model call on the context.
    Chat,
    /// A research run (the search port is configured).
    Research(Depth),
}

/// What a turn answers.
pub(super) enum Asking {
    /// A new user message with the session's files named, under the parent chosen
    /// (`Some(None)`: the root) or else under the session's current leaf.
    New { content: String, parent: Option<Option<Id>>, attachments: Vec<Id> },
    /// A user message already in the session, answered again.
    Again(Id),
}

/// A turn ready to start: the session, the model, the request and the message the
/// turn's first new message answers.
struct Prepared {
    owned: sessions::Owned,
    version: u64,
    route: ModelRoute,
    request: ChatRequest,
    parent: Option<Id>,
    /// The files of a new user message.
    files: Vec<AttachedFile>,
}

/// Starts a turn: admits it, saves the new messages with the session pointing at the
/// reply, and streams the reply.
pub(super) async fn start(
    app: &Arc<App>,
    caller: &Principal,
    session_id: Id,
    model: Option<String>,
    asking: Asking,
    mode: Mode,
) -> ApiResult<Response> {
    let user = caller.user.clone();
    let prepare = async {
        let prepared = prepare(app, caller, session_id, model, &asking).await?;
        // Research holds its whole token budget, settled to what its agents used.
        let tokens = match &mode {
            Mode::Chat => quota::estimate(&prepared.request),
            Mode::Research(depth) => depth.budget().tokens,
        };
        Ok((prepared, tokens))
    };
    let (prepared, reservation) = quota::admit(app, &user, prepare).await?;
    let Prepared { mut owned, version, route, request, parent, files } = prepared;

    let now = app.now();
    let message = |parent_id: Option<Id>, role, content, status| Message {
        id: app.new_id().after(parent_id),
        parent_id,
        role,
        content,
        status,
        model: None,
        usage: None,
        sources: None,
        research_depth: None,
        attachments: Vec::new(),
        created_at: now,
    };
    let research_depth = match mode {
        Mode::Chat => None,
        Mode::Research(depth) => Some(depth),
    };
    let (user_message, asked) = match asking {
        Asking::New { content, .. } => {
            let asked = Message {
                attachments: files,
                research_depth,
                ..message(parent, MessageRole::User, content, MessageStatus::Complete)
            };
            let id = asked.id;
            (Some(asked), id)
        }
        Asking::Again(id) => (None, id),
    };
    let mut reply = message(Some(asked), MessageRole::Assistant, String::new(), MessageStatus::Streaming);
    reply.model = Some(route.name.clone());
    let name_session = owned.session.title.is_empty() && user_message.is_some();
    if let Some(first) = user_message.as_ref().filter(|_| name_session) {
        owned.session.title = title_from(&first.content);
        owned.title_derived = true;
    }
    owned.session.current_leaf_id = Some(reply.id);
    owned.session.updated_at = now;
    let research = match research_depth {
        None => None,
        Some(depth) => Some(research(app, &route, &request, depth)?),
    };
    turns::start(app, &owned, version, user_message.as_ref(), &reply).await?;
    let turn = Turn {
        user_id: user.id,
        session_id,
        user_message_id: asked,
        reply,
        route,
        request,
        reservation,
        name_session,
        research,
    };
    Ok(sse::response(turn::start(app.clone(), turn)))
}

/// The research run of a turn: its question is the context's last message, the
/// conversation the ones before.
fn research(
    app: &Arc<App>,
    route: &ModelRoute,
    request: &ChatRequest,
    depth: Depth,
) -> ApiResult<ProducedStream> {
    let search = app.search.clone().ok_or(ApiError::SearchNotConfigured)?;
    let (question, conversation) =
        request.messages.split_last().ok_or(ApiError::Validation("no question".into()))?;
    let job = Job { conversation: conversation.to_vec(), question: question.content.clone(), depth };
    Ok(research::start(app.clone(), search, route.clone(), job))
}

/// Reads what a turn needs: the session, its model's route, and the context (the path
/// from the root to what the turn answers, as far as the model's budget holds).
async fn prepare(
    app: &App,
    caller: &Principal,
    session_id: Id,
    model: Option<String>,
    asking: &Asking,
) -> ApiResult<Prepared> {
    let (owned, config) =
        futures::join!(sessions::get_owned(app, caller.user.id, session_id), routing::load(app));
    let (owned, version) = owned?;
    let config = config?;
    let name = model.or(owned.session.model.clone()).unwrap_or_else(|| config.default_model.clone());
    caller.check_model(&name)?;
    let route = config.route_of_kind(&name, ModelKind::Chat)?.clone();
    let files = match asking {
        Asking::New { attachments, .. } => files::resolve(app, session_id, attachments).await?,
        Asking::Again(_) => Vec::new(),
    };
    files::check_vision(&files, &route.name, route.vision)?;
    let parent = parent(app, &owned.session, asking).await?;
    let path = match parent {
        Some(parent) => history(app, &owned.session, &route, parent, asking).await?,
        None => Vec::new(),
    };
    let mut turns = files::Turns::new(app, &owned, route.vision);
    if let Asking::New { content, .. } = asking {
        turns.add(ChatRole::User, content, &files).await?;
    }
    for m in &path {
        turns.add_message(m).await?;
    }
    let request = context::fit(owned.session.system_prompt.as_deref(), &turns.oldest_first(), &route);
    Ok(Prepared { owned, version, route, request, parent, files })
}

/// The message the turn's first new message answers: the one asked again, the parent
/// chosen, or the current leaf.
async fn parent(app: &App, session: &Session, asking: &Asking) -> ApiResult<Option<Id>> {
    match asking {
        Asking::Again(id) => Ok(Some(*id)),
        Asking::New { parent: Some(chosen), .. } => Ok(*chosen),
        Asking::New { parent: None, .. } => branches::current_leaf(app, session).await,
    }
}

/// The path up from `parent`, newest first, as long as it fits the model's budget
/// (and at most [`HISTORY`] messages). `parent` must be a message of the session, of
/// the role the turn answers: a user message to answer again, else a reply.
async fn history(
    app: &App,
    session: &Session,
    route: &ModelRoute,
    parent: Id,
    asking: &Asking,
) -> ApiResult<Vec<Message>> {
    let budget = context::history_budget(session.system_prompt.as_deref(), route);
    let (mut tokens, mut count) = (0, 0);
    let path = branches::walk(app, session.id, parent, |m| {
        tokens += estimate_tokens(&m.content);
        count += 1;
        tokens < budget && count < HISTORY
    })
    .await?;
    let found = path.first().filter(|m| m.id == parent);
    match (asking, found.map(|m| m.role)) {
        (Asking::Again(_), None) => Err(ApiError::NotFound),
        (Asking::Again(_), Some(MessageRole::User)) => Ok(path),
        (Asking::Again(_), Some(_)) => Err(ApiError::WrongMessageRole(
            "only a user message is answered again; regenerate the reply's parent_id",
        )),
        (Asking::New { .. }, None) => Err(ApiError::UnknownMessage("parent_id")),
        (Asking::New { .. }, Some(MessageRole::User)) => Err(ApiError::WrongMessageRole(
            "a user message answers a reply or the root (parent_id null), never another user message",
        )),
        (Asking::New { .. }, Some(_)) => Ok(path),
    }
}

/// The first line of the first message, cut at a word to 80 characters.
fn title_from(content: &str) -> String {
    let line = content.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    title::shorten(line, title::MAX_CHARS)
}

#[cfg(test)]
mod tests {
    use super::title_from;

    #[test]
    fn titles() {
        assert_eq!(title_from("\n  Hello there \nmore"), "Hello there");
        let long = "word ".repeat(30);
        let t = title_from(&long);
        assert!(t.ends_with('…') && t.chars().count() <= 80, "{t}");
    }
}
