//! `POST /v1/chat/completions`, compatible with OpenAI's API so that existing clients
//! (the `openai` SDKs, LangChain, curl scripts) work unchanged with an API key. The
//! conversation comes whole from the client; nothing is stored but usage.

use super::v1_request::{check_image_type, to_request};
use super::v1_wire::{
    self, CompletionRequest, Delta, Envelope, FunctionChunk, OutputToolCall, ToolCallChunk,
};
use crate::app::App;
use crate::auth::principal;
use crate::chat::context::estimate_prompt;
use crate::chat::models::{ModelKind, ModelRoute};
use crate::chat::quota::{self, Reservation};
use crate::chat::router::{self, Opened};
use crate::chat::sse;
use crate::error::{ApiError, ApiResult};
use crate::fetch;
use crate::http::{Request, Response, json, parse_json};
use crate::providers::call;
use crate::providers::{
    ChatRequest, ChatRole, EventStream, FinishReason, ImageData, Part, ProviderEvent, ToolCallDelta, Usage,
};
use crate::repo::routing;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::StreamExt;
use http::StatusCode;
use std::sync::Arc;

/// Refuses what one of the route's targets cannot honour (whichever target ends up
/// answering, the reply must be the one asked for).
fn check_targets(route: &ModelRoute, request: &ChatRequest) -> ApiResult<()> {
    for target in &route.targets {
        call::check(target, request).map_err(ApiError::InvalidRequest)?;
    }
    Ok(())
}

/// Fetches the bytes of every image given by URL, when a target takes images only as
/// bytes, through the guarded fetcher.
async fn fetch_images(app: &App, route: &ModelRoute, request: &mut ChatRequest) -> ApiResult<()> {
    if !route.targets.iter().any(call::inline_images) {
        return Ok(());
    }
    let images = request.messages.iter_mut().flat_map(|m| &mut m.parts).filter_map(|p| match p {
        Part::Image(image) if image.data.is_none() => Some(image),
        _ => None,
    });
    for image in images {
        let url = image.url.clone().unwrap_or_default();
        let refused = |why: String| ApiError::InvalidRequest(format!("image_url {url}: {why}"));
        let fetched = fetch::fetch(app, &url, app.config.fetch_max_image_bytes)
            .await
            .map_err(|e| refused(e.to_string()))?;
        let media_type = fetched.content_type.unwrap_or_default();
        check_image_type("image_url", &media_type)?;
        image.data = Some(ImageData { media_type, base64: STANDARD.encode(&fetched.body) });
    }
    Ok(())
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
        let mut request = to_request(&body, &route)?;
        check_targets(&route, &request)?;
        fetch_images(app, &route, &mut request).await?;
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
            ProviderEvent::ToolCall(d) => {
                let name = d.name.as_deref().unwrap_or_default();
                self.output_chars += (name.chars().count() + d.arguments.chars().count()) as u64;
            }
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
    async fn whole(mut self, opened: Opened) -> ApiResult<Response> {
        let mut content = String::new();
        let mut calls: Vec<OutputToolCall> = Vec::new();
        let mut finish = FinishReason::Stop;
        let mut events = futures::stream::iter(opened.first.into_iter().map(Ok)).chain(opened.rest);
        while let Some(event) = events.next().await {
            let event = event.map_err(ApiError::Upstream)?;
            self.meter.observe(&event);
            match event {
                ProviderEvent::Text(t) => content.push_str(&t),
                ProviderEvent::ToolCall(delta) => add_to_calls(&mut calls, delta),
                ProviderEvent::Usage(_) => {}
                ProviderEvent::Finish(reason) => finish = reason,
            }
        }
        let usage = self.meter.record();
        Ok(json(StatusCode::OK, &self.envelope.completion(&content, &calls, finish, usage)))
    }

    /// The chunk `event` stands for (nothing for usage, which comes at the end).
    fn chunk(&mut self, event: ProviderEvent) -> Bytes {
        self.meter.observe(&event);
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

    fn stream(self, opened: Opened, include_usage: bool) -> crate::http::ByteStream {
        let role = Delta { role: Some(ChatRole::Assistant), content: Some(""), ..Delta::default() };
        let first = v1_wire::event(&self.envelope.chunk(role, None));
        let events: EventStream =
            Box::pin(futures::stream::iter(opened.first.into_iter().map(Ok)).chain(opened.rest));
        let body = futures::stream::unfold(Some((self, events)), move |state| async move {
            let (mut reply, mut events) = state?;
            let Some(event) = events.next().await else {
                return Some((reply.closing(include_usage), None));
            };
            let bytes = match event {
                Ok(event) => reply.chunk(event),
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
