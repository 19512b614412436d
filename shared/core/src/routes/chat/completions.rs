//! `POST /v1/chat/completions`, compatible with OpenAI's API so that existing clients
//! (the `openai` SDKs, LangChain, curl scripts) work unchanged with an API key. The
//! conversation comes whole from the client; nothing is stored but usage.

use crate::app::App;
use crate::auth::principal;
use crate::chat::context::estimate_prompt;
use crate::chat::quota::{self, DEFAULT_REPLY_TOKENS, Reservation};
use crate::chat::router::{self, Opened};
use crate::chat::sse::{self, data_only};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, parse_json};
use crate::providers::{ChatMessage, ChatRequest, ChatRole, EventStream, FinishReason, ProviderEvent, Usage};
use crate::repo::routing;
use bytes::Bytes;
use futures::StreamExt;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::ToSchema;

/// The OpenAI request fields confab acts on; other fields are accepted and ignored.
#[derive(Deserialize, ToSchema)]
pub struct CompletionRequest {
    pub model: String,
    pub messages: Vec<InputMessage>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    #[schema(value_type = Option<Value>)]
    pub stop: Option<Stop>,
    pub n: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct InputMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// Text, or an array of content parts of which the `text` ones are used.
    #[schema(value_type = Value)]
    pub content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Content {
    fn text(&self) -> ApiResult<String> {
        match self {
            Content::Text(t) => Ok(t.clone()),
            Content::Parts(parts) => parts
                .iter()
                .map(|p| match (p.kind.as_str(), &p.text) {
                    ("text", Some(t)) => Ok(t.as_str()),
                    (kind, _) => Err(ApiError::InvalidRequest(format!(
                        "content parts of type {kind:?} are not supported"
                    ))),
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(|texts| texts.join("")),
        }
    }
}

/// The provider-neutral request: system and developer messages become the system
/// prompt, the rest the conversation.
fn to_request(body: &CompletionRequest, max_output: Option<u32>) -> ApiResult<ChatRequest> {
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::InvalidRequest("only n = 1 is supported".into()));
    }
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for m in &body.messages {
        let text = m.content.as_ref().map(Content::text).transpose()?.unwrap_or_default();
        match m.role.as_str() {
            "system" | "developer" => system.push(text),
            "user" => messages.push(ChatMessage { role: ChatRole::User, content: text }),
            "assistant" => messages.push(ChatMessage { role: ChatRole::Assistant, content: text }),
            other => {
                return Err(ApiError::InvalidRequest(format!(
                    "messages with role {other:?} are not supported"
                )));
            }
        }
    }
    if messages.last().is_none_or(|m| m.role != ChatRole::User) {
        return Err(ApiError::InvalidRequest("messages must end with a user message".into()));
    }
    Ok(ChatRequest {
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        messages,
        // Always a limit: the quota reserves it, so the provider must be held to it.
        max_tokens: Some(
            body.max_completion_tokens.or(body.max_tokens).or(max_output).unwrap_or(DEFAULT_REPLY_TOKENS),
        ),
        temperature: body.temperature,
        top_p: body.top_p,
        stop: match &body.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) => v.clone(),
        },
    })
}

#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", operation_id = "openai_chat_completions",
    security(("bearer" = [])),
    request_body = CompletionRequest,
    responses((status = 200, description = "a chat.completion object, or chat.completion.chunk events when streaming"),
        (status = 400, body = crate::http::ErrorBody), (status = 404, description = "unknown model", body = crate::http::ErrorBody),
        (status = 429, body = crate::http::ErrorBody), (status = 503, body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, req: Request) -> ApiResult<Response> {
    let user = principal(&req)?.user.clone();
    let body: CompletionRequest = parse_json(&req)?;
    let prepare = async {
        let config = routing::load(app).await?;
        let route =
            config.route(&body.model).ok_or_else(|| ApiError::UnknownModel(body.model.clone()))?.clone();
        let request = to_request(&body, route.max_output_tokens)?;
        let tokens = quota::estimate(&request);
        Ok(((route, request), tokens))
    };
    let ((route, request), reservation) = quota::admit(app, &user, prepare).await?;
    let opened = router::open(app, &route, &request).await.map_err(ApiError::Upstream)?;
    let reply = Reply {
        app: app.clone(),
        reservation: Some(reservation),
        model: route.name.clone(),
        id: format!("chatcmpl-{}", app.new_id()),
        created: app.clock.now_unix(),
        usage: None,
        prompt_estimate: estimate_prompt(&request),
        output_chars: 0,
    };
    if body.stream {
        let include_usage = body.stream_options.is_some_and(|o| o.include_usage);
        Ok(sse::response(reply.stream(opened, include_usage)))
    } else {
        reply.whole(opened).await
    }
}

/// One completion in flight. Its usage is recorded once, when it ends, or when it is
/// dropped early because the client went away.
struct Reply {
    app: Arc<App>,
    /// Taken when the usage is recorded.
    reservation: Option<Reservation>,
    model: String,
    id: String,
    created: i64,
    usage: Option<Usage>,
    prompt_estimate: u64,
    output_chars: u64,
}

impl Reply {
    fn final_usage(&self) -> Usage {
        self.usage.unwrap_or(Usage {
            input_tokens: self.prompt_estimate,
            output_tokens: self.output_chars.div_ceil(4),
        })
    }

    fn record(&mut self) {
        let Some(reservation) = self.reservation.take() else { return };
        let (model, usage) = (self.model.clone(), self.final_usage());
        self.app.spawner.spawn(Box::pin(async move {
            if let Err(e) = reservation.settle(&model, usage).await {
                tracing::error!(error = %e, "usage could not be recorded");
            }
        }));
    }

    fn usage_json(&self) -> Value {
        let u = self.final_usage();
        json!({ "prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
                "total_tokens": u.input_tokens + u.output_tokens })
    }

    /// Applies one event; returns its text and finish reason, if any.
    fn apply(&mut self, event: ProviderEvent) -> (Option<String>, Option<FinishReason>) {
        match event {
            ProviderEvent::Text(t) => {
                self.output_chars += t.chars().count() as u64;
                (Some(t), None)
            }
            ProviderEvent::Usage(u) => {
                self.usage = Some(u);
                (None, None)
            }
            ProviderEvent::Finish(r) => (None, Some(r)),
        }
    }

    async fn whole(mut self, opened: Opened) -> ApiResult<Response> {
        let mut content = String::new();
        let mut finish = FinishReason::Stop;
        let mut events = futures::stream::iter(opened.first.into_iter().map(Ok)).chain(opened.rest);
        while let Some(event) = events.next().await {
            let (text, reason) = self.apply(event.map_err(ApiError::Upstream)?);
            content.extend(text);
            finish = reason.unwrap_or(finish);
        }
        self.record();
        let body = json!({
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": content },
                          "finish_reason": finish, "logprobs": null }],
            "usage": self.usage_json(),
        });
        Ok(json(StatusCode::OK, &body))
    }

    fn chunk(&self, delta: Value, finish: Option<FinishReason>) -> Bytes {
        let body = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish, "logprobs": null }],
        });
        data_only(&body.to_string())
    }

    fn stream(self, opened: Opened, include_usage: bool) -> crate::http::ByteStream {
        let first = self.chunk(json!({ "role": "assistant", "content": "" }), None);
        let events: EventStream =
            Box::pin(futures::stream::iter(opened.first.into_iter().map(Ok)).chain(opened.rest));
        let body = futures::stream::unfold(Some((self, events)), move |state| async move {
            let (mut reply, mut events) = state?;
            let Some(event) = events.next().await else {
                return Some((reply.closing(include_usage), None));
            };
            let bytes = match event {
                Ok(event) => match reply.apply(event) {
                    (Some(text), _) => reply.chunk(json!({ "content": text }), None),
                    (None, Some(reason)) => reply.chunk(json!({}), Some(reason)),
                    (None, None) => Bytes::new(),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "completion failed mid-stream");
                    let error = json!({ "error": { "message": e.public_message(), "type": "api_error", "code": e.code() } });
                    return Some((
                        [data_only(&error.to_string()), data_only("[DONE]")].concat().into(),
                        None,
                    ));
                }
            };
            Some((bytes, Some((reply, events))))
        });
        Box::pin(
            futures::stream::once(async { first })
                .chain(body)
                .filter(|b| futures::future::ready(!b.is_empty())),
        )
    }

    fn closing(&mut self, include_usage: bool) -> Bytes {
        self.record();
        let mut out = Vec::new();
        if include_usage {
            let usage = json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": self.usage_json(),
            });
            out.push(data_only(&usage.to_string()));
        }
        out.push(data_only("[DONE]"));
        out.concat().into()
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.record();
    }
}
