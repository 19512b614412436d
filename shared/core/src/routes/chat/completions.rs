//! `POST /v1/chat/completions`, compatible with OpenAI's API so that existing clients
//! (the `openai` SDKs, LangChain, curl scripts) work unchanged with an API key. The
//! conversation comes whole from the client; nothing is stored but usage.

use super::v1_call::{self, Call};
use super::v1_request::to_request;
use super::v1_wire::{
    self, CompletionRequest, Delta, Envelope, FunctionChunk, OutputToolCall, ToolCallChunk,
};
use crate::app::App;
use crate::auth::principal;
use crate::chat::{cache, sse};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, parse_json};
use crate::providers::{ChatRole, FinishReason, ProviderEvent, ToolCallDelta};
use bytes::Bytes;
use futures::StreamExt;
use http::StatusCode;
use std::sync::Arc;

/// This API's name in the response cache's keys and metrics.
const API: &str = "chat.completions";

#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", operation_id = "openai_chat_completions",
    security(("bearer" = [])),
    request_body = CompletionRequest,
    responses((status = 200, description = "a chat.completion object, or chat.completion.chunk events when streaming; `X-Confab-Cache: hit|miss` when the response cache applies (deterministic requests, `Cache-Control: no-store` skips it)"),
        (status = 400, body = crate::http::ErrorBody),
        (status = 403, description = "`model_not_allowed`: the API key may not use this model", body = crate::http::ErrorBody),
        (status = 404, description = "unknown model", body = crate::http::ErrorBody),
        (status = 429, body = crate::http::ErrorBody), (status = 503, body = crate::http::ErrorBody)))]
pub async fn handle(app: &Arc<App>, req: Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    let body: CompletionRequest = parse_json(&req)?;
    let cache = cache::key(app, req.headers(), caller.user.id, API, req.body());
    let call = v1_call::open(app, caller, &body.model, cache, |route| to_request(&body, route)).await?;
    let cache_status = call.cache;
    let reply = Reply {
        envelope: Envelope {
            id: format!("chatcmpl-{}", app.new_id()),
            created: app.clock.now_unix(),
            model: call.model.clone(),
        },
        call,
    };
    let resp = if body.stream {
        let include_usage = body.stream_options.is_some_and(|o| o.include_usage);
        sse::response(reply.stream(include_usage))
    } else {
        reply.whole().await?
    };
    Ok(cache::mark(app, API, resp, cache_status))
}

/// One completion in flight.
struct Reply {
    envelope: Envelope,
    call: Call,
}

impl Reply {
    async fn whole(mut self) -> ApiResult<Response> {
        let mut content = String::new();
        let mut calls: Vec<OutputToolCall> = Vec::new();
        let mut finish = FinishReason::Stop;
        while let Some(event) = self.call.next().await {
            match event.map_err(ApiError::Upstream)? {
                ProviderEvent::Text(t) => content.push_str(&t),
                ProviderEvent::ToolCall(delta) => add_to_calls(&mut calls, delta),
                ProviderEvent::Usage(_) => {}
                ProviderEvent::Finish(reason) => finish = reason,
            }
        }
        let usage = self.call.finish();
        Ok(json(StatusCode::OK, &self.envelope.completion(&content, &calls, finish, usage)))
    }

    /// The chunk `event` stands for (nothing for usage, which comes at the end).
    fn chunk(&self, event: ProviderEvent) -> Bytes {
        let envelope = &self.envelope;
        match event {
            ProviderEvent::Text(text) => {
                v1_wire::event(&envelope.chunk(Delta { content: Some(&text), ..Delta::default() }, None))
            }
            ProviderEvent::ToolCall(d) => {
                let call = ToolCallChunk {
                    index: d.index,
                    id: d.id.as_deref(),
                    kind: d.id.as_ref().map(|_| "function"),
                    function: FunctionChunk { name: d.name.as_deref(), arguments: &d.arguments },
                };
                v1_wire::event(&envelope.chunk(Delta { tool_calls: Some([call]), ..Delta::default() }, None))
            }
            ProviderEvent::Usage(_) => Bytes::new(),
            ProviderEvent::Finish(reason) => v1_wire::event(&envelope.chunk(Delta::default(), Some(reason))),
        }
    }

    fn stream(self, include_usage: bool) -> crate::http::ByteStream {
        let role = Delta { role: Some(ChatRole::Assistant), content: Some(""), ..Delta::default() };
        let first = v1_wire::event(&self.envelope.chunk(role, None));
        let body = futures::stream::unfold(Some(self), move |state| async move {
            let mut reply = state?;
            let bytes = match reply.call.next().await {
                None => return Some((reply.closing(include_usage), None)),
                Some(Ok(event)) => reply.chunk(event),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "completion failed mid-stream");
                    let error = v1_wire::event(&v1_wire::stream_error(&e));
                    return Some(([error, v1_wire::done()].concat().into(), None));
                }
            };
            Some((bytes, Some(reply)))
        });
        Box::pin(
            futures::stream::once(async { first })
                .chain(body)
                .filter(|b| futures::future::ready(!b.is_empty())),
        )
    }

    fn closing(&mut self, include_usage: bool) -> Bytes {
        let usage = self.call.finish();
        let mut out = Vec::new();
        if include_usage {
            out.push(v1_wire::event(&self.envelope.usage_chunk(usage)));
        }
        out.push(v1_wire::done());
        out.concat().into()
    }
}

/// Adds a streamed piece to the whole tool calls.
fn add_to_calls(calls: &mut Vec<OutputToolCall>, delta: ToolCallDelta) {
    let index = delta.index as usize;
    if calls.len() <= index {
        calls.resize_with(index + 1, || OutputToolCall { kind: "function", ..OutputToolCall::default() });
    }
    let call = &mut calls[index];
    if let Some(id) = delta.id {
        call.id = id;
    }
    if let Some(name) = delta.name {
        call.function.name = name;
    }
    call.function.arguments.push_str(&delta.arguments);
}
