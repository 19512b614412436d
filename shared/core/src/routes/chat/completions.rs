//! `POST /v1/chat/completions`, compatible with OpenAI's API so that existing clients
//! (the `openai` SDKs, LangChain, curl scripts) work unchanged with an API key. The
//! conversation comes whole from the client; nothing is stored but usage.

use super::v1_wire::{self, CompletionRequest, Content, Delta, Envelope, Stop};
use crate::app::App;
use crate::auth::principal;
use crate::chat::context::estimate_prompt;
use crate::chat::models::ModelKind;
use crate::chat::quota::{self, DEFAULT_REPLY_TOKENS, Reservation};
use crate::chat::router::{self, Opened};
use crate::chat::sse;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, parse_json};
use crate::providers::{ChatMessage, ChatRequest, ChatRole, EventStream, FinishReason, ProviderEvent, Usage};
use crate::repo::routing;
use bytes::Bytes;
use futures::StreamExt;
use http::StatusCode;
use std::sync::Arc;

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
        stop: body.stop.as_ref().map(Stop::sequences).unwrap_or_default(),
    })
}

#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", operation_id = "openai_chat_completions",
    security(("bearer" = [])),
    request_body = CompletionRequest,
    responses((status = 200, description = "a chat.completion object, or chat.completion.chunk events when streaming"),
        (status = 400, body = crate::http::ErrorBody),
        (status = 403, description = "`model_not_allowed`: the API key may not use this model", body = crate::http::ErrorBody),
        (status = 404, description = "unknown model", body = crate::http::ErrorBody),
        (status = 429, body = crate::http::ErrorBody), (status = 503, body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, req: Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    let user = caller.user.clone();
    let body: CompletionRequest = parse_json(&req)?;
    caller.check_model(&body.model)?;
    let prepare = async {
        let config = routing::load(app).await?;
        let route = config.route_of_kind(&body.model, ModelKind::Chat)?.clone();
        let request = to_request(&body, route.max_output_tokens)?;
        let tokens = quota::estimate(&request);
        Ok(((route, request), tokens))
    };
    let ((route, request), reservation) = quota::admit(app, &user, prepare).await?;
    let opened = router::open(app, &route, &request).await.map_err(ApiError::Upstream)?;
    let reply = Reply {
        envelope: Envelope {
            id: format!("chatcmpl-{}", app.new_id()),
            created: app.clock.now_unix(),
            model: route.name.clone(),
        },
        meter: Meter {
            app: app.clone(),
            reservation: Some(reservation),
            model: route.name.clone(),
            reported: None,
            prompt_estimate: estimate_prompt(&request),
            output_chars: 0,
        },
    };
    if body.stream {
        let include_usage = body.stream_options.is_some_and(|o| o.include_usage);
        Ok(sse::response(reply.stream(opened, include_usage)))
    } else {
        reply.whole(opened).await
    }
}

/// A completion's usage: what the provider reported, else estimated from the prompt
/// and the text so far. It is recorded once, when the reply ends, or when it is dropped
/// early because the client went away.
struct Meter {
    app: Arc<App>,
    /// Taken when the usage is recorded.
    reservation: Option<Reservation>,
    model: String,
    reported: Option<Usage>,
    prompt_estimate: u64,
    output_chars: u64,
}

impl Meter {
    fn observe(&mut self, event: &ProviderEvent) {
        match event {
            ProviderEvent::Text(t) => self.output_chars += t.chars().count() as u64,
            ProviderEvent::Usage(u) => self.reported = Some(*u),
            ProviderEvent::Finish(_) => {}
        }
    }

    fn usage(&self) -> Usage {
        self.reported.unwrap_or(Usage {
            input_tokens: self.prompt_estimate,
            output_tokens: self.output_chars.div_ceil(4),
        })
    }

    /// Records the usage (the first time only) and returns it.
    fn record(&mut self) -> Usage {
        let usage = self.usage();
        if let Some(reservation) = self.reservation.take() {
            let model = self.model.clone();
            self.app.spawner.spawn(Box::pin(async move {
                if let Err(e) = reservation.settle(&model, usage).await {
                    tracing::error!(error = %e, "usage could not be recorded");
                }
            }));
        }
        usage
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.record();
    }
}

/// One completion in flight.
struct Reply {
    envelope: Envelope,
    meter: Meter,
}

impl Reply {
    /// Counts one event; returns its text and finish reason, if any.
    fn apply(&mut self, event: ProviderEvent) -> (Option<String>, Option<FinishReason>) {
        self.meter.observe(&event);
        match event {
            ProviderEvent::Text(t) => (Some(t), None),
            ProviderEvent::Usage(_) => (None, None),
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
        let usage = self.meter.record();
        Ok(json(StatusCode::OK, &self.envelope.completion(&content, finish, usage)))
    }

    fn stream(self, opened: Opened, include_usage: bool) -> crate::http::ByteStream {
        let role = Delta { role: Some(ChatRole::Assistant), content: Some("") };
        let first = v1_wire::event(&self.envelope.chunk(role, None));
        let events: EventStream =
            Box::pin(futures::stream::iter(opened.first.into_iter().map(Ok)).chain(opened.rest));
        let body = futures::stream::unfold(Some((self, events)), move |state| async move {
            let (mut reply, mut events) = state?;
            let Some(event) = events.next().await else {
                return Some((reply.closing(include_usage), None));
            };
            let bytes = match event {
                Ok(event) => match reply.apply(event) {
                    (Some(text), _) => {
                        let delta = Delta { content: Some(&text), ..Delta::default() };
                        v1_wire::event(&reply.envelope.chunk(delta, None))
                    }
                    (None, Some(reason)) => {
                        v1_wire::event(&reply.envelope.chunk(Delta::default(), Some(reason)))
                    }
                    (None, None) => Bytes::new(),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "completion failed mid-stream");
                    let error = v1_wire::event(&v1_wire::stream_error(&e));
                    return Some(([error, v1_wire::done()].concat().into(), None));
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
        let usage = self.meter.record();
        let mut out = Vec::new();
        if include_usage {
            out.push(v1_wire::event(&self.envelope.usage_chunk(usage)));
        }
        out.push(v1_wire::done());
        out.concat().into()
    }
}
