//! What every wire format shares: the received request, provider errors, response helpers, and
//! the [`Dialect`] trait each format implements to read a request and render a planned reply.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, Method, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::plan::{ChatRequest, Plan};
use crate::record::{Provider, SeenImage, SeenTool};
use crate::sigv4::AwsKeys;

/// The body of every response the mock sends.
pub(crate) type Body = BoxBody<Bytes, io::Error>;

/// A request whose body has been read in full.
pub(crate) struct RawRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.uri.query()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

/// Facts some formats carry in the URL rather than the body.
#[derive(Clone, Debug, Default)]
pub(crate) struct PathTarget {
    pub model: Option<String>,
    pub stream: bool,
}

/// Server settings a format may need to check a request.
pub(crate) struct Checks<'a> {
    pub bedrock_keys: Option<&'a AwsKeys>,
}

/// A provider error, rendered in each provider's own shape.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    /// The provider's own name for the error (OpenAI `code`, Anthropic error `type`, Gemini
    /// `status`, Bedrock exception name); absent, the format derives it from the status.
    pub code: Option<&'static str>,
    /// Absent, the format uses its stock message for the status.
    pub message: Option<String>,
    /// OpenAI's `param`.
    pub param: Option<&'static str>,
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode) -> Self {
        Self { status, code: None, message: None, param: None, retry_after_s: None }
    }

    /// The error a scenario's status code stands for (an invalid code counts as 500).
    pub fn from_status(status: u16) -> Self {
        Self::new(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub fn retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after_s = seconds;
        self
    }

    /// The message to show: the specific one, else the format's stock one.
    pub fn message_or<'a>(&'a self, stock: &'a str) -> &'a str {
        self.message.as_deref().unwrap_or(stock)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST).message(message)
    }
}

/// One wire format. A value of the type is made per request by [`Dialect::parse`] and carries
/// that request's rendering options.
pub(crate) trait Dialect: Sized + Send + Sync + 'static {
    const PROVIDER: Provider;
    const STREAM_CONTENT_TYPE: &'static str;
    /// The status of the format's "overloaded, try later" error, the default mid-stream error.
    const OVERLOADED: u16;

    /// The credential the request presents, unchecked, for the request log.
    fn presented_key(request: &RawRequest) -> Option<String>;

    /// Rejects a request without acceptable credentials.
    fn authenticate(request: &RawRequest, checks: &Checks<'_>) -> Result<(), ApiError>;

    /// Reads the chat request.
    fn parse(request: &RawRequest, target: &PathTarget) -> Result<(ChatRequest, Self), ApiError>;

    /// The error response, status and body, in the provider's shape.
    fn error_response(error: &ApiError) -> Response<Body>;

    /// Extra headers of a successful response (request ids).
    fn headers(plan: &Plan) -> Vec<(&'static str, String)>;

    /// The body of the non-streaming reply.
    fn complete(&self, plan: &Plan) -> Value;

    /// What the stream sends before the first token.
    fn stream_open(&self, plan: &Plan) -> Vec<Bytes>;

    /// The chunk carrying token `index`; `last` when it ends a stream that finishes normally.
    fn stream_token(&self, plan: &Plan, index: usize, last: bool) -> Bytes;

    /// What the stream sends after the last token when it finishes normally.
    fn stream_close(&self, plan: &Plan) -> Vec<Bytes>;

    /// The provider's mid-stream error, after `sent` tokens.
    fn stream_error(&self, plan: &Plan, sent: usize, error: &ApiError) -> Bytes;
}

/// The text parts of a message: a plain string or an array of parts, of which those with a
/// `text` field count (OpenAI and Anthropic content, Gemini parts, Bedrock content blocks).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum TextContent {
    Text(String),
    Parts(Vec<TextPart>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct TextPart {
    #[serde(default)]
    pub text: Option<String>,
}

impl TextContent {
    pub fn texts(&self) -> Vec<&str> {
        match self {
            TextContent::Text(text) => vec![text.as_str()],
            TextContent::Parts(parts) => texts(parts),
        }
    }
}

/// The texts of the parts that have one.
pub(crate) fn texts(parts: &[TextPart]) -> Vec<&str> {
    parts.iter().filter_map(|part| part.text.as_deref()).collect()
}

/// Parses a JSON body, or explains why not.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|error| error.to_string())
}

/// A number unique within the process, for ids.
pub(crate) fn next_seq() -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(1);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// An id made of `prefix` and 24 hex digits.
pub(crate) fn mock_id(prefix: &str, seq: u64) -> String {
    format!("{prefix}{seq:024x}")
}

/// A body holding `bytes`.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never: Infallible| match never {}).boxed()
}

/// A JSON response with extra headers, and `Retry-After` when given.
pub(crate) fn json_response(
    status: StatusCode,
    value: &Value,
    headers: Vec<(&'static str, String)>,
    retry_after_s: Option<u64>,
) -> Response<Body> {
    let mut builder = Response::builder().status(status).header(CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    if let Some(seconds) = retry_after_s {
        builder = builder.header(RETRY_AFTER, seconds);
    }
    builder.body(full(value.to_string())).expect("static response parts are valid")
}

/// A JSON error response carrying the error's status and `Retry-After`.
pub(crate) fn error_json(
    error: &ApiError,
    value: &Value,
    headers: Vec<(&'static str, String)>,
) -> Response<Body> {
    json_response(error.status, value, headers, error.retry_after_s)
}

/// One server-sent event: an optional `event:` line, a `data:` line, then a blank line, with
/// `eol` as the line ending.
pub(crate) fn sse(event: Option<&str>, data: &str, eol: &str) -> Bytes {
    let event = event.map(|name| format!("event: {name}{eol}")).unwrap_or_default();
    Bytes::from(format!("{event}data: {data}{eol}{eol}"))
}

/// Padding of varying length, like the providers' anti side-channel padding fields.
pub(crate) fn padding(seed: usize) -> String {
    const ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    ALPHABET[..1 + (seed * 7) % 40].to_owned()
}

/// The elements of `value` when it is an array, else none.
pub(crate) fn array(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

/// `value` when it is a string.
pub(crate) fn string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// A string or an array of strings (OpenAI's `stop`), as a list.
pub(crate) fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        many => array(many).iter().filter_map(string).collect(),
    }
}

/// A tool result's content: its text, the texts of its parts joined, or its JSON as text.
pub(crate) fn result_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(parts) if parts.iter().all(|p| p["text"].is_string()) => {
            parts.iter().filter_map(|p| p["text"].as_str()).collect()
        }
        other => other.to_string(),
    }
}

/// An image given by URL: a `data:` URL's type and bytes, or the URL itself.
pub(crate) fn image_url(url: &str) -> SeenImage {
    let inline = url.strip_prefix("data:").and_then(|rest| rest.split_once(";base64,"));
    match inline {
        Some((media_type, data)) => SeenImage {
            media_type: Some(media_type.to_owned()),
            base64: Some(data.to_owned()),
            ..SeenImage::default()
        },
        None => SeenImage { url: Some(url.to_owned()), ..SeenImage::default() },
    }
}

/// Inline image bytes.
pub(crate) fn image_bytes(media_type: Option<String>, base64: &Value) -> SeenImage {
    SeenImage { media_type, base64: string(base64), ..SeenImage::default() }
}

/// A tool definition from its fields.
pub(crate) fn tool(name: &Value, description: &Value, parameters: &Value) -> SeenTool {
    SeenTool {
        name: string(name).unwrap_or_default(),
        description: string(description),
        parameters: parameters.clone(),
    }
}
