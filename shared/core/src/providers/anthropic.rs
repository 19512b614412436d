//! Anthropic Messages (`POST /v1/messages`, streamed as named SSE events).

use super::sse::{self, Event};
use super::wire::{
    Decode, ErrorShape, Flow, ToolIndexes, convert, endpoint, first_refusal, parse, post_json, status_error,
    wants_json,
};
use super::*;
use serde_json::{Value, json};

pub struct Anthropic;

const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
const VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; this is sent when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

const WHAT: &str = "Anthropic event";

const ERROR: ErrorShape = ErrorShape { kind: &["/error/type"], message: &["/error/message"] };

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
    messages: Vec<Value>,
    max_tokens: u32,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
}

const NAME: &str = "Anthropic";

impl WireFormat for Anthropic {
    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &ChatRequest,
        _now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError> {
        let uri = endpoint(&target.base_url, DEFAULT_BASE_URL, "/v1/messages")?;
        self.check(req).map_err(ProviderError::Config)?;
        let messages = req.messages.iter().map(message);
        let body = Body {
            model: &target.model,
            system: req.system.as_deref(),
            messages: messages.collect(),
            max_tokens: req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            stream: true,
            temperature: req.temperature,
            top_p: req.top_p,
            top_k: req.top_k,
            stop_sequences: &req.stop,
            tools: req.tools.iter().map(tool).collect(),
            tool_choice: tool_choice(req),
        };
        let key = credentials.api_key.clone().map(|key| ("x-api-key", key));
        post_json(uri, key, &[("anthropic-version", VERSION)], &body)
    }

    fn check(&self, req: &ChatRequest) -> Result<(), String> {
        let plain_http = req
            .images()
            .any(|i| i.data.is_none() && i.url.as_ref().is_some_and(|u| !u.starts_with("https://")));
        first_refusal(
            NAME,
            &[
                (req.seed.is_some(), "seed", "Anthropic has no seed"),
                (
                    wants_json(req),
                    "response_format",
                    "Anthropic has no JSON mode; describe the format in the prompt or use a tool",
                ),
                (req.temperature.is_some_and(|t| t > 1.0), "temperature", "Anthropic takes 0 to 1"),
                (plain_http, "image_url", "Anthropic fetches image URLs only over https"),
            ],
        )
    }

    fn events(&self, body: BodyStream) -> EventStream {
        sse::events(body, Decoder::default())
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        status_error(status, retry_after(headers), ERROR.of_body(body, None))
    }
}

/// A message as Anthropic content: a string when it is only text, else blocks.
fn message(m: &ChatMessage) -> Value {
    let content =
        if m.parts.is_empty() { json!(m.content) } else { Value::Array(m.pieces().map(block).collect()) };
    json!({"role": m.role.as_str(), "content": content})
}

fn block(piece: Piece<'_>) -> Value {
    match piece {
        Piece::Text(t) => json!({"type": "text", "text": t}),
        Piece::Image(Image { data: Some(d), .. }) => json!({"type": "image", "source": {
            "type": "base64", "media_type": d.media_type, "data": d.base64,
        }}),
        Piece::Image(i) => json!({"type": "image", "source": {"type": "url", "url": i.url}}),
        Piece::ToolCall(c) => json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}),
        Piece::ToolResult(r) => {
            json!({"type": "tool_result", "tool_use_id": r.call_id, "content": r.content})
        }
    }
}

fn tool(t: &Tool) -> Value {
    let mut tool = json!({"name": t.name, "input_schema": t.parameters});
    if let Some(d) = &t.description {
        tool["description"] = json!(d);
    }
    tool
}

/// `tool_choice`, which also carries `parallel_tool_calls: false`.
fn tool_choice(req: &ChatRequest) -> Option<Value> {
    let mut choice = match req.tool_choice.as_ref() {
        Some(ToolChoice::None) => return Some(json!({"type": "none"})),
        Some(ToolChoice::Auto) => json!({"type": "auto"}),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Function(name)) => json!({"type": "tool", "name": name}),
        None if req.parallel_tool_calls == Some(false) && !req.tools.is_empty() => json!({"type": "auto"}),
        None => return None,
    };
    if req.parallel_tool_calls == Some(false) {
        choice["disable_parallel_tool_use"] = json!(true);
    }
    Some(choice)
}

#[derive(Deserialize)]
struct MessageStart {
    message: MessageStartBody,
}

#[derive(Deserialize)]
struct MessageStartBody {
    usage: Option<Tokens>,
}

#[derive(Deserialize)]
struct BlockStart {
    #[serde(default)]
    index: u64,
    content_block: Block,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    /// A `tool_use` block's.
    id: Option<String>,
    name: Option<String>,
    /// An `input_json_delta`'s piece of the arguments.
    partial_json: Option<String>,
}

#[derive(Deserialize)]
struct BlockDelta {
    #[serde(default)]
    index: u64,
    delta: Block,
}

#[derive(Deserialize)]
struct BlockStop {
    #[serde(default)]
    index: u64,
}

#[derive(Deserialize)]
struct MessageDelta {
    delta: StopReason,
    usage: Option<Tokens>,
}

#[derive(Deserialize)]
struct StopReason {
    stop_reason: Option<String>,
}

/// Usage as Anthropic counts it: cumulative, and with cached prompt tokens apart.
#[derive(Deserialize)]
struct Tokens {
    input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

#[derive(Default)]
struct Decoder {
    tools: ToolIndexes,
    input: [u64; 3],
    output: u64,
    finish: Option<FinishReason>,
}

impl Decoder {
    fn usage(&mut self, tokens: Tokens) -> ProviderEvent {
        let counts =
            [tokens.input_tokens, tokens.cache_creation_input_tokens, tokens.cache_read_input_tokens];
        for (total, count) in self.input.iter_mut().zip(counts) {
            *total = count.unwrap_or(*total);
        }
        self.output = tokens.output_tokens.unwrap_or(self.output);
        ProviderEvent::Usage(Usage { input_tokens: self.input.iter().sum(), output_tokens: self.output })
    }
}

impl Decode<Event> for Decoder {
    fn decode(&mut self, event: Event, out: &mut Vec<ProviderEvent>) -> Result<Flow, ProviderError> {
        let json: Value = parse(WHAT, event.data.as_bytes())?;
        // The event's name and its `type` agree; `type` also survives proxies that drop names.
        let kind = json["type"].as_str().unwrap_or(&event.event).to_owned();
        match kind.as_str() {
            "message_start" => {
                if let Some(tokens) = convert::<MessageStart>(WHAT, json)?.message.usage {
                    out.push(self.usage(tokens));
                }
            }
            "content_block_start" => {
                let start = convert::<BlockStart>(WHAT, json)?;
                let block = start.content_block;
                match block.kind.as_str() {
                    "text" => out.extend(block.text.map(ProviderEvent::Text)),
                    // Its `input` is `{}` here: the arguments follow as deltas.
                    "tool_use" => out.push(ProviderEvent::ToolCall(ToolCallDelta {
                        index: self.tools.start(start.index),
                        id: block.id,
                        name: block.name,
                        arguments: String::new(),
                    })),
                    _ => {}
                }
            }
            "content_block_delta" => {
                // Only `text_delta` is reply text (not thinking, tool input or signatures).
                let BlockDelta { index, delta } = convert::<BlockDelta>(WHAT, json)?;
                match delta.kind.as_str() {
                    "text_delta" => out.extend(delta.text.map(ProviderEvent::Text)),
                    "input_json_delta" => {
                        let piece = self.tools.feed(index, delta.partial_json.unwrap_or_default());
                        out.extend(piece.map(ProviderEvent::ToolCall));
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let stop = convert::<BlockStop>(WHAT, json)?;
                out.extend(self.tools.end(stop.index).map(ProviderEvent::ToolCall));
            }
            "message_delta" => {
                let delta = convert::<MessageDelta>(WHAT, json)?;
                if let Some(reason) = delta.delta.stop_reason {
                    self.finish = Some(finish_reason(&reason));
                }
                if let Some(tokens) = delta.usage {
                    out.push(self.usage(tokens));
                }
            }
            "message_stop" => {
                out.push(ProviderEvent::Finish(self.finish.unwrap_or(FinishReason::Stop)));
                return Ok(Flow::Done);
            }
            "error" => {
                let message = ERROR.of_json(&json).unwrap_or(event.data);
                return Err(ProviderError::Upstream(message));
            }
            // `ping`, and event types added later.
            _ => {}
        }
        Ok(Flow::More)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "refusal" => FinishReason::ContentFilter,
        "tool_use" => FinishReason::ToolCalls,
        // "end_turn", "stop_sequence", "pause_turn"…
        _ => FinishReason::Stop,
    }
}
