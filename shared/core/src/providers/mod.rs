//! Model providers. Each wire format lives in its own module and translates between
//! one internal request/event model and the provider's HTTP API; [`call::stream`]
//! sends a request to one target and yields the reply as internal events.

pub mod anthropic;
pub mod bedrock;
pub mod call;
pub mod echo;
pub mod embeddings;
mod eventstream;
pub mod gemini;
pub mod openai;
pub mod settings;
mod sse;
mod wire;

use crate::ports::{BoxStream, HttpError, MaybeSend, MaybeSync};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI chat completions, and every server compatible with it (OpenRouter,
    /// Ollama, vLLM, Groq…).
    Openai,
    Anthropic,
    Gemini,
    Bedrock,
    /// Built in: answers with the user's own words. The default when nothing is set up.
    Echo,
}

impl ProviderKind {
    /// As configured and as the `provider` label of metrics.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Echo => "echo",
        }
    }
}

/// One upstream a model's requests may go to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub provider: ProviderKind,
    /// e.g. `https://api.openai.com/v1`, `https://api.anthropic.com`,
    /// `https://generativelanguage.googleapis.com`,
    /// `https://bedrock-runtime.us-east-1.amazonaws.com`. Unused by `echo`.
    #[serde(default)]
    pub base_url: String,
    /// The provider's own name for the model.
    pub model: String,
    /// Name of the secret holding the API key. For Bedrock, the secret is JSON
    /// `{"access_key_id", "secret_access_key", "session_token"?}`.
    #[serde(default)]
    pub api_key_secret: Option<String>,
    /// AWS region, for Bedrock's SigV4 signature.
    #[serde(default)]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    User,
    Assistant,
}

impl ChatRole {
    /// The role's name in the OpenAI, Anthropic and Bedrock formats.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: ChatRole,
    /// The message's text, or the text before its first other part.
    pub content: String,
    /// What follows `content`, in order: more text, images, tool calls (assistant
    /// messages), tool results (user messages, as Anthropic and Bedrock carry them).
    pub parts: Vec<Part>,
}

impl ChatMessage {
    /// A message of text alone.
    pub fn text(role: ChatRole, content: impl Into<String>) -> Self {
        ChatMessage { role, content: content.into(), parts: Vec::new() }
    }

    /// Every piece of the message in order, the leading text first (when there is one).
    pub fn pieces(&self) -> impl Iterator<Item = Piece<'_>> {
        let lead = (!self.content.is_empty()).then_some(Piece::Text(&self.content));
        lead.into_iter().chain(self.parts.iter().map(Piece::of))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Image(Image),
    ToolCall(ToolCall),
    ToolResult(ToolResult),
}

/// A borrowed [`Part`], or a message's leading text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Image(&'a Image),
    ToolCall(&'a ToolCall),
    ToolResult(&'a ToolResult),
}

impl<'a> Piece<'a> {
    fn of(part: &'a Part) -> Self {
        match part {
            Part::Text(t) => Piece::Text(t),
            Part::Image(i) => Piece::Image(i),
            Part::ToolCall(c) => Piece::ToolCall(c),
            Part::ToolResult(r) => Piece::ToolResult(r),
        }
    }
}

/// An image in a user message: its `https` URL, its bytes, or both (bytes fetched from
/// the URL for formats that take no URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub url: Option<String>,
    pub data: Option<ImageData>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageData {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
    pub media_type: String,
    /// The bytes in standard base64.
    pub base64: String,
}

/// A call the model made to one of the request's tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// A JSON object.
    pub arguments: serde_json::Value,
}

/// What a tool call returned, sent back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    pub call_id: String,
    /// The called tool's name (Gemini answers by name, not by id).
    pub name: String,
    pub content: String,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema object for the arguments.
    pub parameters: serde_json::Value,
    /// OpenAI's strict schema adherence (passed only to OpenAI-compatible targets).
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    None,
    Auto,
    Required,
    Function(String),
}

/// The shape the reply must take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema(JsonSchema),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonSchema {
    pub name: String,
    pub description: Option<String>,
    pub schema: serde_json::Value,
    pub strict: Option<bool>,
}

/// A provider-neutral chat request. `messages` end with the user (tool results are
/// user messages).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// Sample from the `k` likeliest tokens only (Anthropic and Gemini).
    pub top_k: Option<u32>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` asks for at most one tool call per reply.
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<ResponseFormat>,
}

impl ChatRequest {
    /// Every image in the request.
    pub fn images(&self) -> impl Iterator<Item = &Image> {
        self.messages.iter().flat_map(|m| &m.parts).filter_map(|p| match p {
            Part::Image(i) => Some(i),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Why the model stopped, in OpenAI's vocabulary (what clients of `/v1` expect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ContentFilter,
    ToolCalls,
}

/// One step of a streamed reply (kept as it came by the response cache).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderEvent {
    Text(String),
    ToolCall(ToolCallDelta),
    /// Totals so far; a later `Usage` replaces an earlier one.
    Usage(Usage),
    Finish(FinishReason),
}

/// A piece of a streamed tool call, as OpenAI streams them: the first piece of each
/// `index` names the call (`id`, `name`), the later ones add to its arguments' JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// The call's position among the reply's tool calls, from 0.
    pub index: u32,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Nothing reached the provider (refused, DNS, TLS).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The provider answered with an error status before any content.
    #[error("provider returned {status}: {message}")]
    Status { status: u16, retry_after: Option<Duration>, message: String },
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The connection broke while the reply was streaming.
    #[error("connection lost: {0}")]
    Transport(String),
    /// The provider reported an error inside the stream.
    #[error("provider error: {0}")]
    Upstream(String),
    /// The provider sent something this format cannot read.
    #[error("unreadable reply: {0}")]
    Protocol(String),
    /// The target is misconfigured (missing secret, bad URL…): retrying cannot help.
    #[error("target misconfigured: {0}")]
    Config(String),
}

impl ProviderError {
    /// The public, snake_case code clients see for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Timeout(_) => "upstream_timeout",
            ProviderError::Status { status: 429, .. } => "upstream_rate_limited",
            ProviderError::Config(_) => "upstream_misconfigured",
            ProviderError::Connect(_) | ProviderError::Status { .. } => "upstream_unavailable",
            ProviderError::Transport(_) | ProviderError::Upstream(_) | ProviderError::Protocol(_) => {
                "upstream_error"
            }
        }
    }

    /// What a caller is told: the kind of failure and the provider's status, never the
    /// provider's own words (its error body may quote keys or internal details; the
    /// full error goes to the log).
    pub fn public_message(&self) -> String {
        match self {
            ProviderError::Connect(_) => "the provider could not be reached".into(),
            ProviderError::Status { status, .. } => format!("the provider answered {status}"),
            ProviderError::Timeout(what) => format!("timed out waiting for {what}"),
            ProviderError::Transport(_) => "the connection to the provider was lost".into(),
            ProviderError::Upstream(_) => "the provider reported an error".into(),
            ProviderError::Protocol(_) => "the provider's reply could not be read".into(),
            ProviderError::Config(_) => "the model's provider is misconfigured".into(),
        }
    }

    /// Whether another attempt (on this target or the next) may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            ProviderError::Connect(_) | ProviderError::Timeout(_) | ProviderError::Transport(_) => true,
            ProviderError::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            ProviderError::Upstream(_) => true,
            ProviderError::Protocol(_) | ProviderError::Config(_) => false,
        }
    }
}

impl From<HttpError> for ProviderError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Connect(m) => ProviderError::Connect(m),
            HttpError::Timeout => ProviderError::Timeout("the provider"),
            HttpError::Transport(m) => ProviderError::Transport(m),
        }
    }
}

pub type EventStream = BoxStream<'static, Result<ProviderEvent, ProviderError>>;
pub type BodyStream = BoxStream<'static, Result<Bytes, HttpError>>;

/// Every provider secret's name starts with this: a target may name no other secret
/// (the signing keys, say), because its key is sent to the target's URL.
pub const SECRET_PREFIX: &str = "confab-provider-";
const MAX_SECRET_NAME: usize = 128;

/// Checks that `name` is in the provider secrets' namespace: [`SECRET_PREFIX`] and then
/// letters, digits, `-`, `_` or `.`.
pub fn check_secret_name(name: &str) -> Result<(), String> {
    let rest = name.strip_prefix(SECRET_PREFIX).unwrap_or_default();
    let ok = !rest.is_empty()
        && name.len() <= MAX_SECRET_NAME
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "provider secret names must start with {SECRET_PREFIX:?} followed by letters, digits, '-', '_' or \
             '.' (at most {MAX_SECRET_NAME} characters), got {name:?}"
        ))
    }
}

/// What a target authenticates with, read from its secret.
#[derive(Clone, Default)]
pub struct Credentials {
    /// The API key (OpenAI, Anthropic, Gemini).
    pub api_key: Option<String>,
    /// AWS credentials (Bedrock).
    pub aws: Option<AwsCredentials>,
}

pub use crate::sigv4::AwsCredentials;

/// A provider's HTTP wire format.
pub trait WireFormat: MaybeSend + MaybeSync {
    /// The HTTP request that asks `target` to stream a reply to `req`.
    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &ChatRequest,
        now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError>;

    /// Why the format cannot honour `req` (which field, and why), if it cannot.
    /// [`WireFormat::request`] refuses such a request too.
    fn check(&self, req: &ChatRequest) -> Result<(), String>;

    /// Whether images must be sent as bytes (an image URL is fetched for it first).
    fn inline_images(&self) -> bool {
        false
    }

    /// The reply events in a successful streaming response body.
    fn events(&self, body: BodyStream) -> EventStream;

    /// The error an unsuccessful response stands for.
    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError;
}

/// `Retry-After` in seconds (the form providers send), capped at a minute.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: f64 = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(60.0)))
}
