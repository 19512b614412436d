//! OpenAI chat completions (`POST /chat/completions`, streamed as SSE), also spoken by
//! OpenRouter, Ollama, vLLM, Groq and most self-hosted servers.

use super::sse::{self, Event};
use super::wire::{Decode, ErrorShape, Flow, endpoint, first_refusal, parse, post_json, status_error};
use super::*;
use serde_json::{Value, json};

pub struct OpenAi;

const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// OpenAI's own API, where `max_tokens` is deprecated and refused by reasoning models.
const OPENAI_HOST: &str = "api.openai.com";
const NAME: &str = "OpenAI";

const ERROR: ErrorShape = ErrorShape {
    kind: &["/error/code", "/error/type"],
    // `/error` alone: Ollama's `{"error": "…"}`; `/message`: vLLM's `{"object": "error", "message": …}`.
    message: &["/error/message", "/error", "/message"],
};

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Value>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
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
        let system = req.system.iter().map(|content| json!({"role": "system", "content": content}));
        let turns = req.messages.iter().flat_map(messages);
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
            seed: req.seed,
            tools: req.tools.iter().map(tool).collect(),
            tool_choice: req.tool_choice.as_ref().map(tool_choice),
            // OpenAI refuses the flag without tools.
            parallel_tool_calls: req.parallel_tool_calls.filter(|_| !req.tools.is_empty()),
            response_format: req.response_format.as_ref().map(response_format),
        };
        let key = credentials.api_key.as_ref().map(|key| ("authorization", format!("Bearer {key}")));
        post_json(uri, key, &[], &body)
    }

    /// Everything the format has passes through: the target itself refuses what it
    /// cannot do.
    fn check(&self, req: &ChatRequest) -> Result<(), String> {
        first_refusal(NAME, &[(req.top_k.is_some(), "top_k", "OpenAI's chat completions have no top_k")])
    }

    fn events(&self, body: BodyStream) -> EventStream {
        sse::events(body, Decoder { finish: None, calls: 0 })
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        status_error(status, retry_after(headers), ERROR.of_body(body, None))
    }
}

/// `m` as OpenAI messages: a user message's tool results become `tool` messages
/// (first: they answer the calls just before), its other parts one user message.
fn messages(m: &ChatMessage) -> Vec<Value> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut parts = Vec::new();
    let mut calls = Vec::new();
    for piece in m.pieces() {
        match piece {
            Piece::Text(t) => {
                text.push_str(t);
                parts.push(json!({"type": "text", "text": t}));
            }
            Piece::Image(image) => {
                parts.push(json!({"type": "image_url", "image_url": {"url": image_url(image)}}))
            }
            Piece::ToolCall(c) => calls.push(json!({
                "id": c.id, "type": "function",
                "function": {"name": c.name, "arguments": c.arguments.to_string()},
            })),
            Piece::ToolResult(r) => {
                out.push(json!({"role": "tool", "tool_call_id": r.call_id, "content": r.content}));
            }
        }
    }
    let has_image = parts.iter().any(|p| p["type"] == "image_url");
    let content = if has_image { Value::Array(parts) } else { Value::String(text) };
    match m.role {
        ChatRole::Assistant if !calls.is_empty() => {
            let content = if content == "" { Value::Null } else { content };
            out.push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
        }
        // Tool results alone need no user message after them.
        ChatRole::User if !out.is_empty() && content == "" => {}
        role => out.push(json!({"role": role.as_str(), "content": content})),
    }
    out
}

/// The image's URL, or its bytes as a `data:` URL.
fn image_url(image: &Image) -> String {
    match (&image.url, &image.data) {
        (Some(url), _) => url.clone(),
        (None, Some(d)) => format!("data:{};base64,{}", d.media_type, d.base64),
        (None, None) => String::new(),
    }
}

fn tool(t: &Tool) -> Value {
    let mut function = json!({"name": t.name, "parameters": t.parameters});
    if let Some(d) = &t.description {
        function["description"] = json!(d);
    }
    if let Some(strict) = t.strict {
        function["strict"] = json!(strict);
    }
    json!({"type": "function", "function": function})
}

fn tool_choice(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::None => json!("none"),
        ToolChoice::Auto => json!("auto"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

fn response_format(f: &ResponseFormat) -> Value {
    match f {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema(s) => {
            let mut schema = json!({"name": s.name, "schema": s.schema});
            if let Some(d) = &s.description {
                schema["description"] = json!(d);
            }
            if let Some(strict) = s.strict {
                schema["strict"] = json!(strict);
            }
            json!({"type": "json_schema", "json_schema": schema})
        }
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<ChunkUsage>,
    /// Groq's usage, on servers that ignore `stream_options`.
    x_groq: Option<Groq>,
    /// An error in place of a chunk: OpenAI and OpenRouter send `{"error": {…}}`, vLLM
    /// `{"object": "error", "message": …}`.
    error: Option<serde::de::IgnoredAny>,
    object: Option<String>,
}

impl Chunk {
    fn is_error(&self) -> bool {
        self.error.is_some() || self.object.as_deref() == Some("error")
    }
}

/// What an event that is no chunk stands for: the provider's error (it sent one in
/// place of a chunk, or as an `error` event, as some proxies do), else why it is
/// not a chunk (`why`).
fn not_a_chunk(event: Event, why: Option<ProviderError>) -> ProviderError {
    let json = parse::<Value>("OpenAI chunk", event.data.as_bytes()).ok();
    let an_error =
        |json: &Value| json.get("error").is_some_and(|e| !e.is_null()) || json["object"] == "error";
    match why {
        Some(why) if event.event != "error" && !json.as_ref().is_some_and(an_error) => why,
        _ => ProviderError::Upstream(json.and_then(|json| ERROR.of_json(&json)).unwrap_or(event.data)),
    }
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
    #[serde(default)]
    tool_calls: Vec<ToolCallChunk>,
}

#[derive(Deserialize)]
struct ToolCallChunk {
    #[serde(default)]
    index: u32,
    id: Option<String>,
    function: Option<FunctionChunk>,
}

#[derive(Deserialize)]
struct FunctionChunk {
    name: Option<String>,
    arguments: Option<String>,
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
    /// Tool calls begun so far.
    calls: u32,
}

impl Decoder {
    /// Checks a call's index: an earlier call's, or the next one's (a far index would
    /// have the whole reply make room for that many calls).
    fn call_index(&mut self, index: u32) -> Result<u32, ProviderError> {
        if index > self.calls {
            return Err(ProviderError::Protocol(format!(
                "tool call {index} came after {} calls",
                self.calls
            )));
        }
        self.calls = self.calls.max(index + 1);
        Ok(index)
    }
}

impl Decode<Event> for Decoder {
    fn decode(&mut self, event: Event, out: &mut Vec<ProviderEvent>) -> Result<Flow, ProviderError> {
        if event.data.trim() == "[DONE]" {
            out.push(ProviderEvent::Finish(self.finish.unwrap_or(FinishReason::Stop)));
            return Ok(Flow::Done);
        }
        // One pass over the chunk; only an error (or no chunk at all) is read again.
        let chunk = match parse::<Chunk>("OpenAI chunk", event.data.as_bytes()) {
            Ok(chunk) if event.event != "error" && !chunk.is_error() => chunk,
            parsed => return Err(not_a_chunk(event, parsed.err())),
        };
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(delta) = choice.delta {
                out.extend(delta.content.into_iter().chain(delta.refusal).map(ProviderEvent::Text));
                for c in delta.tool_calls {
                    let function = c.function.unwrap_or(FunctionChunk { name: None, arguments: None });
                    out.push(ProviderEvent::ToolCall(ToolCallDelta {
                        index: self.call_index(c.index)?,
                        id: c.id,
                        name: function.name,
                        arguments: function.arguments.unwrap_or_default(),
                    }));
                }
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
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        // "stop", and whatever comes next.
        _ => FinishReason::Stop,
    }
}
