//! OpenAI chat completions (`POST /chat/completions`, streamed as SSE), also spoken by
//! OpenRouter, Ollama, vLLM, Groq and most self-hosted servers.

use super::sse::{self, Event};
use super::wire::{Decode, ErrorShape, Flow, convert, endpoint, parse, post_json, status_error};
use super::*;
use serde_json::Value;

pub struct OpenAi;

const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// OpenAI's own API, where `max_tokens` is deprecated and refused by reasoning models.
const OPENAI_HOST: &str = "api.openai.com";

const ERROR: ErrorShape = ErrorShape {
    kind: &["/error/code", "/error/type"],
    // `/error` alone: Ollama's `{"error": "…"}`; `/message`: vLLM's `{"object": "error", "message": …}`.
    message: &["/error/message", "/error", "/message"],
};

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    stream: bool,
    stream_options: StreamOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop: &'a [String],
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

impl WireFormat for OpenAi {
    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &ChatRequest,
        _now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError> {
        let uri = endpoint(&target.base_url, DEFAULT_BASE_URL, "/chat/completions")?;
        let system = req.system.iter().map(|content| Message { role: "system", content });
        let turns = req.messages.iter().map(|m| Message { role: m.role.as_str(), content: &m.content });
        // OpenAI itself wants `max_completion_tokens` (its reasoning models refuse
        // `max_tokens`); compatible servers know `max_tokens`, and some (Ollama) only it.
        let official = uri.host() == Some(OPENAI_HOST);
        let body = Body {
            model: &target.model,
            messages: system.chain(turns).collect(),
            stream: true,
            stream_options: StreamOptions { include_usage: true },
            max_tokens: req.max_tokens.filter(|_| !official),
            max_completion_tokens: req.max_tokens.filter(|_| official),
            temperature: req.temperature,
            top_p: req.top_p,
            stop: &req.stop,
        };
        let key = credentials.api_key.as_ref().map(|key| ("authorization", format!("Bearer {key}")));
        post_json(uri, key, &[], &body)
    }

    fn events(&self, body: BodyStream) -> EventStream {
        sse::events(body, Decoder { finish: None })
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        status_error(status, retry_after(headers), ERROR.of_body(body, None))
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<ChunkUsage>,
    /// Groq's usage, on servers that ignore `stream_options`.
    x_groq: Option<Groq>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    index: u32,
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    /// What the model says instead of content when it refuses (structured outputs).
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct Groq {
    usage: Option<ChunkUsage>,
}

struct Decoder {
    finish: Option<FinishReason>,
}

impl Decode<Event> for Decoder {
    fn decode(&mut self, event: Event, out: &mut Vec<ProviderEvent>) -> Result<Flow, ProviderError> {
        if event.data.trim() == "[DONE]" {
            out.push(ProviderEvent::Finish(self.finish.unwrap_or(FinishReason::Stop)));
            return Ok(Flow::Done);
        }
        let json = parse::<Value>("OpenAI chunk", event.data.as_bytes());
        // An error in place of a chunk: OpenAI and OpenRouter send `{"error": {…}}`,
        // vLLM `{"object": "error", "message": …}`, some proxies an `error` event.
        let is_error =
            |json: &Value| json.get("error").is_some_and(|e| !e.is_null()) || json["object"] == "error";
        if event.event == "error" || json.as_ref().is_ok_and(is_error) {
            let message = json.ok().and_then(|json| ERROR.of_json(&json)).unwrap_or(event.data);
            return Err(ProviderError::Upstream(message));
        }
        let chunk: Chunk = convert("OpenAI chunk", json?)?;
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(delta) = choice.delta {
                out.extend(delta.content.into_iter().chain(delta.refusal).map(ProviderEvent::Text));
            }
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(finish_reason(&reason));
            }
        }
        if let Some(usage) = chunk.usage.or_else(|| chunk.x_groq?.usage) {
            out.push(ProviderEvent::Usage(Usage {
                input_tokens: usage.prompt_tokens,
                output_tokens: usage.completion_tokens,
            }));
        }
        Ok(Flow::More)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        // "stop", "tool_calls", "function_call", and whatever comes next.
        _ => FinishReason::Stop,
    }
}
