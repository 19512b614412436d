//! Anthropic Messages (`POST /v1/messages`, streamed as named SSE events).

use super::sse::{self, Event};
use super::wire::{Decode, ErrorShape, Flow, convert, endpoint, parse, post_json, status_error};
use super::*;
use serde_json::Value;

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
    messages: Vec<Message<'a>>,
    max_tokens: u32,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

impl WireFormat for Anthropic {
    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &ChatRequest,
        _now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError> {
        let uri = endpoint(&target.base_url, DEFAULT_BASE_URL, "/v1/messages")?;
        let messages = req.messages.iter().map(|m| Message { role: m.role.as_str(), content: &m.content });
        let body = Body {
            model: &target.model,
            system: req.system.as_deref(),
            messages: messages.collect(),
            max_tokens: req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            stream: true,
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: &req.stop,
        };
        let key = credentials.api_key.clone().map(|key| ("x-api-key", key));
        post_json(uri, key, &[("anthropic-version", VERSION)], &body)
    }

    fn events(&self, body: BodyStream) -> EventStream {
        sse::events(body, Decoder::default())
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        status_error(status, retry_after(headers), ERROR.of_body(body, None))
    }
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
    content_block: Block,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize)]
struct BlockDelta {
    delta: Block,
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
                let block = convert::<BlockStart>(WHAT, json)?.content_block;
                if block.kind == "text" {
                    out.extend(block.text.map(ProviderEvent::Text));
                }
            }
            "content_block_delta" => {
                // Only `text_delta` is reply text (not thinking, tool input or signatures).
                let delta = convert::<BlockDelta>(WHAT, json)?.delta;
                if delta.kind == "text_delta" {
                    out.extend(delta.text.map(ProviderEvent::Text));
                }
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
            // `ping`, `content_block_stop`, and event types added later.
            _ => {}
        }
        Ok(Flow::More)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "refusal" => FinishReason::ContentFilter,
        // "end_turn", "stop_sequence", "tool_use", "pause_turn"…
        _ => FinishReason::Stop,
    }
}
