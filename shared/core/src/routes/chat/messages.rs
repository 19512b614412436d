//! `POST /v1/messages`, compatible with Anthropic's Messages API so that the `anthropic`
//! SDKs work unchanged with an API key (in `x-api-key` or `Authorization: Bearer`),
//! over any target: the request is read into the provider-neutral request within the
//! bounds `/v1/chat/completions` keeps, and the reply told in Anthropic's blocks and
//! events. Errors take Anthropic's shape in the middleware (`AnthropicErrors`).

use super::messages_wire::{
    AnthropicError, Block, BlockDelta, Content, ErrorEnvelope, ImageSource, InputMessage, Message,
    MessageDelta, MessagesRequest, OutputBlock, StopReason, StreamEvent, ToolChoiceSpec, ToolSpec,
};
use super::v1_call::{self, Call};
use super::v1_request::{
    bounded, bounded_reply, check_ends_with_user, check_tool_choice, check_tools, checked_call, checked_tool,
    count_image, image, image_data, invalid, push_merging_results, refuse_unknown, stop_sequences,
};
use crate::app::App;
use crate::auth::principal;
use crate::chat::models::ModelRoute;
use crate::chat::{cache, sse};
use crate::error::{ApiError, ApiResult};
use crate::http::{ErrorDetail, Request, Response, json, parse_json};
use crate::providers::{
    ChatMessage, ChatRequest, ChatRole, FinishReason, Image, Part, ProviderError, ProviderEvent, Tool,
    ToolCall, ToolCallDelta, ToolChoice, ToolResult,
};
use bytes::Bytes;
use futures::StreamExt;
use http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// This API's name in the response cache's keys and metrics.
const API: &str = "messages";

#[utoipa::path(post, path = "/v1/messages", tag = "anthropic", operation_id = "anthropic_messages",
    security(("bearer" = []), ("api_key" = [])),
    request_body = MessagesRequest,
    responses((status = 200, description = "a message object, or Anthropic's stream events when streaming; `X-Confab-Cache: hit|miss` when the response cache applies (deterministic requests, `Cache-Control: no-store` skips it)"),
        (status = 400, body = ErrorEnvelope),
        (status = 403, description = "`model_not_allowed`: the API key may not use this model", body = ErrorEnvelope),
        (status = 404, description = "unknown model", body = ErrorEnvelope),
        (status = 429, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)))]
pub async fn handle(app: &Arc<App>, req: Request) -> ApiResult<Response> {
    let caller = principal(&req)?;
    let body: MessagesRequest = parse_json(&req)?;
    let cache = cache::key(app, req.headers(), caller.user.id, API, req.body());
    let call = v1_call::open(app, caller, &body.model, cache, |route| to_request(&body, route)).await?;
    let cache_status = call.cache;
    let reply = Reply { id: format!("msg_{}", app.new_id()), call, blocks: Blocks::default(), finish: None };
    let resp = if body.stream { sse::response(reply.stream()) } else { reply.whole().await? };
    Ok(cache::mark(app, API, resp, cache_status))
}

/// The provider-neutral request: the system prompt, the conversation (tool results stay
/// in their user message), and the sampling options.
fn to_request(body: &MessagesRequest, route: &ModelRoute) -> ApiResult<ChatRequest> {
    refuse_unknown(&body.other)?;
    let max_tokens = bounded_reply("max_tokens", body.max_tokens, route)?;
    if body.top_k == Some(0) {
        return Err(invalid("top_k must be at least 1"));
    }
    let tools = body.tools.iter().flatten().map(tool).collect::<ApiResult<Vec<_>>>()?;
    check_tools(&tools)?;
    let (tool_choice, parallel_tool_calls) = match &body.tool_choice {
        Some(choice) => {
            let (choice, one_call) = tool_choice(choice);
            (Some(check_tool_choice(choice, &tools)?), one_call.then_some(false))
        }
        None => (None, None),
    };
    Ok(ChatRequest {
        system: body.system.as_ref().map(|s| text_only("system", s)).transpose()?.filter(|s| !s.is_empty()),
        messages: conversation(&body.messages)?,
        max_tokens: Some(max_tokens),
        temperature: bounded("temperature", body.temperature, 1.0)?,
        top_p: bounded("top_p", body.top_p, 1.0)?,
        top_k: body.top_k,
        stop: stop_sequences("stop_sequences", body.stop_sequences.clone().unwrap_or_default())?,
        seed: None,
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format: None,
    })
}

fn tool(spec: &ToolSpec) -> ApiResult<Tool> {
    if spec.kind.as_deref().is_some_and(|k| k != "custom") {
        return Err(invalid(format!(
            "tools: {:?} is one of Anthropic's server tools, which confab does not run",
            spec.name
        )));
    }
    let fields = ["tools[].name", "tools[].description", "tools[].input_schema"];
    checked_tool(fields, &spec.name, spec.description.as_ref(), spec.input_schema.as_ref())
}

/// The choice, and whether it allows one tool call only.
fn tool_choice(spec: &ToolChoiceSpec) -> (ToolChoice, bool) {
    match spec {
        ToolChoiceSpec::Auto { disable_parallel_tool_use: one } => (ToolChoice::Auto, *one),
        ToolChoiceSpec::Any { disable_parallel_tool_use: one } => (ToolChoice::Required, *one),
        ToolChoiceSpec::Tool { name, disable_parallel_tool_use: one } => {
            (ToolChoice::Function(name.clone()), *one)
        }
        ToolChoiceSpec::None => (ToolChoice::None, false),
    }
}

/// The block `value` is, read on its own so that a bad one is named.
fn block(field: &str, value: &Value) -> ApiResult<Block> {
    serde_json::from_value(value.clone()).map_err(|e| invalid(format!("{field}: {e}")))
}

/// The text of content that may hold only text blocks.
fn text_only(field: &str, content: &Content) -> ApiResult<String> {
    match content {
        Content::Text(text) => Ok(text.clone()),
        Content::Blocks(blocks) => {
            let mut texts = Vec::new();
            for (i, value) in blocks.iter().enumerate() {
                let field = format!("{field}[{i}]");
                match block(&field, value)? {
                    Block::Text { text } => texts.push(text),
                    other => return Err(invalid(format!("{field}: only text here, not {}", other.kind()))),
                }
            }
            Ok(texts.join("\n\n"))
        }
    }
}

/// The conversation.
fn conversation(input: &[InputMessage]) -> ApiResult<Vec<ChatMessage>> {
    let mut reader = Reader::default();
    let mut messages = Vec::new();
    for (i, m) in input.iter().enumerate() {
        let role = match m.role.as_str() {
            "user" => ChatRole::User,
            "assistant" => ChatRole::Assistant,
            other => return Err(invalid(format!("messages[{i}].role: unknown role {other:?}"))),
        };
        push_merging_results(
            &mut messages,
            reader.message(&format!("messages[{i}].content"), role, &m.content)?,
        );
    }
    check_ends_with_user(
        &messages,
        "messages must end with a user message (prefilling the reply is not supported)",
    )?;
    Ok(messages)
}

/// What reading a conversation keeps track of: each tool call's name by its id (a
/// result names only the id, and Gemini answers by name), and the images so far.
#[derive(Default)]
struct Reader {
    calls: HashMap<String, String>,
    images: usize,
}

impl Reader {
    /// One message: its leading text, then its other blocks in order.
    fn message(&mut self, at: &str, role: ChatRole, content: &Content) -> ApiResult<ChatMessage> {
        let mut message = ChatMessage::text(role, "");
        match content {
            Content::Text(text) => message.content.clone_from(text),
            Content::Blocks(blocks) => {
                for (j, value) in blocks.iter().enumerate() {
                    let field = format!("{at}[{j}]");
                    match (self.part(&field, role, block(&field, value)?)?, message.parts.is_empty()) {
                        (Part::Text(text), true) => message.content.push_str(&text),
                        (part, _) => message.parts.push(part),
                    }
                }
            }
        }
        if message.content.is_empty() && message.parts.is_empty() {
            return Err(invalid(format!("{at}: a message needs content")));
        }
        Ok(message)
    }

    /// A block, if a message of `role` may hold it.
    fn part(&mut self, field: &str, role: ChatRole, block: Block) -> ApiResult<Part> {
        Ok(match (role, block) {
            (_, Block::Text { text }) => Part::Text(text),
            (ChatRole::User, Block::Image { source }) => {
                count_image(field, &mut self.images)?;
                Part::Image(image_of(field, source)?)
            }
            (ChatRole::Assistant, Block::ToolUse { id, name, input }) => {
                let call = tool_use(field, &id, &name, input)?;
                self.calls.insert(call.id.clone(), call.name.clone());
                Part::ToolCall(call)
            }
            (ChatRole::User, Block::ToolResult { tool_use_id, content, is_error }) => {
                let name = self.calls.get(&tool_use_id).cloned().ok_or_else(|| {
                    invalid(format!("{field}: no earlier tool_use block has the id {tool_use_id:?}"))
                })?;
                let content = result_text(field, content.as_ref(), is_error)?;
                Part::ToolResult(ToolResult { call_id: tool_use_id, name, content })
            }
            (role, other) => {
                let (role, kind) = (role.as_str(), other.kind());
                return Err(invalid(format!("{field}: {role} messages cannot hold {kind} blocks")));
            }
        })
    }
}

fn image_of(field: &str, source: ImageSource) -> ApiResult<Image> {
    match source {
        ImageSource::Base64 { media_type, data } => {
            Ok(Image { url: None, data: Some(image_data(field, &media_type, &data)?) })
        }
        ImageSource::Url { url } => image(field, &url),
    }
}

fn tool_use(field: &str, id: &str, name: &str, input: Value) -> ApiResult<ToolCall> {
    if !input.is_object() {
        return Err(invalid(format!("{field}.input must be a JSON object")));
    }
    checked_call([&format!("{field}.id"), &format!("{field}.name")], id, name, input)
}

/// A tool result's text; one that reports an error says so in its text, the one way
/// every format can carry it.
fn result_text(field: &str, content: Option<&Content>, is_error: bool) -> ApiResult<String> {
    let text = content.map(|c| text_only(&format!("{field}.content"), c)).transpose()?.unwrap_or_default();
    Ok(if is_error { format!("Error: {text}") } else { text })
}

/// One reply in flight.
struct Reply {
    id: String,
    call: Call,
    blocks: Blocks,
    finish: Option<FinishReason>,
}

impl Reply {
    async fn whole(mut self) -> ApiResult<Response> {
        let mut content = Vec::new();
        let mut inputs = Vec::new();
        while let Some(event) = self.call.next().await {
            let event = event.map_err(ApiError::Upstream)?;
            for event in self.events(event) {
                add_to_content(&mut content, &mut inputs, event);
            }
        }
        let mut closing = Vec::new();
        self.blocks.end(&mut closing);
        closing.into_iter().for_each(|event| add_to_content(&mut content, &mut inputs, event));
        for (block, input) in content.iter_mut().zip(inputs) {
            if let OutputBlock::ToolUse { input: whole, .. } = block {
                *whole = arguments(&input)?;
            }
        }
        let usage = self.call.finish();
        let message = Message::new(&self.id, &self.call.model, content, Some(self.stop_reason()), usage);
        Ok(json(StatusCode::OK, &message))
    }

    fn stop_reason(&self) -> StopReason {
        self.finish.unwrap_or(FinishReason::Stop).into()
    }

    /// The stream events `event` stands for (usage and the finish reason come at the end).
    fn events(&mut self, event: ProviderEvent) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        match event {
            ProviderEvent::Text(text) => self.blocks.text(text, &mut out),
            ProviderEvent::ToolCall(delta) => self.blocks.tool_call(delta, &mut out),
            ProviderEvent::Usage(_) => {}
            ProviderEvent::Finish(reason) => self.finish = Some(reason),
        }
        out
    }

    fn stream(self) -> crate::http::ByteStream {
        let message = Message::new(&self.id, &self.call.model, Vec::new(), None, self.call.usage());
        let first = StreamEvent::MessageStart { message }.encode();
        let body = futures::stream::unfold(Some(self), |state| async move {
            let mut reply = state?;
            let events = match reply.call.next().await {
                None => return Some((encode(&reply.closing()), None)),
                Some(Ok(event)) => reply.events(event),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "a /v1/messages reply failed mid-stream");
                    return Some((stream_error(&e).encode(), None));
                }
            };
            Some((encode(&events), Some(reply)))
        });
        Box::pin(
            futures::stream::once(async { first })
                .chain(body)
                .filter(|b| futures::future::ready(!b.is_empty())),
        )
    }

    /// The last events: the open block's end, the stop reason and usage, the end.
    fn closing(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        self.blocks.end(&mut out);
        let usage = self.call.finish();
        let delta = MessageDelta { stop_reason: self.stop_reason(), stop_sequence: None };
        out.extend([StreamEvent::MessageDelta { delta, usage }, StreamEvent::MessageStop]);
        out
    }
}

fn encode(events: &[StreamEvent]) -> Bytes {
    events.iter().map(StreamEvent::encode).collect::<Vec<_>>().concat().into()
}

/// The error event that ends a stream whose reply failed after it began.
fn stream_error(e: &ProviderError) -> StreamEvent {
    let status = ApiError::Upstream(e.clone()).status();
    let detail = ErrorDetail { code: e.code(), message: e.public_message(), kind: "api_error" };
    StreamEvent::Error { error: AnthropicError::new(status, detail) }
}

/// Adds a stream event to the whole reply's blocks; a tool call's input JSON is kept
/// apart in `inputs` (by block) until it is whole.
fn add_to_content(content: &mut Vec<OutputBlock>, inputs: &mut Vec<String>, event: StreamEvent) {
    match event {
        StreamEvent::ContentBlockStart { content_block, .. } => {
            content.push(content_block);
            inputs.push(String::new());
        }
        StreamEvent::ContentBlockDelta { index, delta } => match (content.get_mut(index), delta) {
            (Some(OutputBlock::Text { text }), BlockDelta::TextDelta { text: more }) => text.push_str(&more),
            (_, BlockDelta::InputJsonDelta { partial_json }) => {
                if let Some(input) = inputs.get_mut(index) {
                    input.push_str(&partial_json);
                }
            }
            _ => {}
        },
        _ => {}
    }
}

/// A tool call's arguments, whole: a JSON object (none is `{}`).
fn arguments(text: &str) -> ApiResult<Value> {
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str::<Value>(text).ok().filter(Value::is_object).ok_or_else(|| {
        ApiError::Upstream(ProviderError::Protocol("a tool call's arguments are not a JSON object".into()))
    })
}

/// Turns the reply's text and tool-call pieces into Anthropic's content blocks: each
/// tool call a block of its own, text between them a block, one block open at a time.
#[derive(Default)]
struct Blocks {
    /// How many blocks have started.
    started: usize,
    /// The open block's index, and whether it is text.
    open: Option<(usize, bool)>,
    /// Each tool call's block, by the call's index.
    tools: HashMap<u32, usize>,
}

impl Blocks {
    fn text(&mut self, text: String, out: &mut Vec<StreamEvent>) {
        let index = match self.open {
            Some((index, true)) => index,
            _ => self.start(OutputBlock::Text { text: String::new() }, true, out),
        };
        out.push(StreamEvent::ContentBlockDelta { index, delta: BlockDelta::TextDelta { text } });
    }

    fn tool_call(&mut self, delta: ToolCallDelta, out: &mut Vec<StreamEvent>) {
        let index = match self.tools.get(&delta.index) {
            Some(index) if delta.id.is_none() => *index,
            _ => {
                let id = delta.id.unwrap_or_default();
                let block =
                    OutputBlock::ToolUse { id, name: delta.name.unwrap_or_default(), input: json!({}) };
                let index = self.start(block, false, out);
                self.tools.insert(delta.index, index);
                index
            }
        };
        if !delta.arguments.is_empty() {
            let partial_json = delta.arguments;
            out.push(StreamEvent::ContentBlockDelta {
                index,
                delta: BlockDelta::InputJsonDelta { partial_json },
            });
        }
    }

    /// Closes the open block and starts `block`; the first is followed by a ping, as
    /// Anthropic sends it.
    fn start(&mut self, block: OutputBlock, text: bool, out: &mut Vec<StreamEvent>) -> usize {
        self.close(out);
        let index = self.started;
        self.started += 1;
        out.push(StreamEvent::ContentBlockStart { index, content_block: block });
        if index == 0 {
            out.push(StreamEvent::Ping);
        }
        self.open = Some((index, text));
        index
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::ContentBlockStop { index });
        }
    }

    /// Closes the last block; a reply with none gets one empty text block.
    fn end(&mut self, out: &mut Vec<StreamEvent>) {
        if self.started == 0 {
            self.start(OutputBlock::Text { text: String::new() }, true, out);
        }
        self.close(out);
    }
}

#[cfg(test)]
mod tests;
