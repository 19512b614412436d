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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

/// A provider-neutral chat request. `messages` alternate roles and end with the user.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub stop: Vec<String>,
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
}

/// One step of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderEvent {
    Text(String),
    /// Totals so far; a later `Usage` replaces an earlier one.
    Usage(Usage),
    Finish(FinishReason),
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
