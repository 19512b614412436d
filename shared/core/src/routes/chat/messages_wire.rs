//! Anthropic's Messages API as `/v1/messages` speaks it: the request it reads and the
//! message, stream events and errors it writes, field for field what the `anthropic`
//! SDKs parse.

use crate::http::ErrorDetail;
use crate::providers::{FinishReason, Usage};
use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The path, and those under it, whose errors take Anthropic's shape.
pub const PATH: &str = "/v1/messages";

pub fn is_messages_path(path: &str) -> bool {
    path.strip_prefix(PATH).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// An Anthropic Messages request. Fields confab does not know are kept in `other` and
/// refused unless they leave the reply as it would be without them.
#[derive(Deserialize, ToSchema)]
pub struct MessagesRequest {
    pub model: String,
    /// Required, as Anthropic requires it.
    pub max_tokens: u32,
    pub messages: Vec<InputMessage>,
    /// Text, or an array of `text` blocks.
    #[schema(value_type = Option<Value>)]
    pub system: Option<Content>,
    pub stop_sequences: Option<Vec<String>>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<ToolSpec>>,
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<ToolChoiceSpec>,
    #[serde(default)]
    pub stream: bool,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub other: serde_json::Map<String, Value>,
}

#[derive(Deserialize, ToSchema)]
pub struct InputMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// Text, or an array of blocks: `text`, `image` and `tool_result` (user messages),
    /// `text` and `tool_use` (assistant messages).
    #[schema(value_type = Value)]
    pub content: Content,
}

/// Blocks are read one by one (as [`Block`]), so that an error can say which.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Blocks(Vec<Value>),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: Option<Content>,
        #[serde(default)]
        is_error: bool,
    },
}

impl Block {
    pub fn kind(&self) -> &'static str {
        match self {
            Block::Text { .. } => "text",
            Block::Image { .. } => "image",
            Block::ToolUse { .. } => "tool_use",
            Block::ToolResult { .. } => "tool_result",
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

/// A client tool; Anthropic's server tools (`web_search_…`, `bash_…`) have a type.
#[derive(Deserialize)]
pub struct ToolSpec {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Option<Value>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoiceSpec {
    Auto {
        #[serde(default)]
        disable_parallel_tool_use: bool,
    },
    Any {
        #[serde(default)]
        disable_parallel_tool_use: bool,
    },
    Tool {
        name: String,
        #[serde(default)]
        disable_parallel_tool_use: bool,
    },
    None,
}

/// A block of the reply.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputBlock {
    Text { text: String },
    ToolUse { id: String, name: String, input: Value },
}

/// Why the model stopped, in Anthropic's words. A stop sequence is reported as
/// `end_turn`: no format says which sequence matched.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    ToolUse,
    Refusal,
}

impl From<FinishReason> for StopReason {
    fn from(reason: FinishReason) -> Self {
        match reason {
            FinishReason::Stop => StopReason::EndTurn,
            FinishReason::Length => StopReason::MaxTokens,
            FinishReason::ToolCalls => StopReason::ToolUse,
            FinishReason::ContentFilter => StopReason::Refusal,
        }
    }
}

/// A `message`: the whole reply, or (empty, without a stop reason) the stream's first event.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: String,
    pub content: Vec<OutputBlock>,
    pub stop_reason: Option<StopReason>,
    /// Always null: see [`StopReason`].
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

impl Message {
    pub fn new(
        id: &str,
        model: &str,
        content: Vec<OutputBlock>,
        stop: Option<StopReason>,
        usage: Usage,
    ) -> Self {
        Message {
            id: id.to_owned(),
            kind: "message",
            role: "assistant",
            model: model.to_owned(),
            content,
            stop_reason: stop,
            stop_sequence: None,
            usage,
        }
    }
}

/// One event of a streamed reply; its `type` is also the SSE event's name.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart { message: Message },
    ContentBlockStart { index: usize, content_block: OutputBlock },
    Ping,
    ContentBlockDelta { index: usize, delta: BlockDelta },
    ContentBlockStop { index: usize },
    MessageDelta { delta: MessageDelta, usage: Usage },
    MessageStop,
    Error { error: AnthropicError },
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    TextDelta { text: String },
    InputJsonDelta { partial_json: String },
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct MessageDelta {
    pub stop_reason: StopReason,
    pub stop_sequence: Option<String>,
}

impl StreamEvent {
    fn name(&self) -> &'static str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::Ping => "ping",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Error { .. } => "error",
        }
    }

    /// The event as SSE: its name, then its JSON.
    pub fn encode(&self) -> Bytes {
        match serde_json::to_string(self) {
            Ok(data) => Bytes::from(format!("event: {}\ndata: {data}\n\n", self.name())),
            Err(e) => {
                tracing::error!(error = %e, "a /v1/messages event could not be encoded");
                Bytes::new()
            }
        }
    }
}

/// An error as Anthropic's clients read it; `code` is confab's own, as on every error.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct AnthropicError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
    pub code: &'static str,
}

impl AnthropicError {
    pub fn new(status: StatusCode, detail: ErrorDetail) -> Self {
        AnthropicError { kind: error_type(status), message: detail.message, code: detail.code }
    }
}

/// `{"type": "error", "error": {…}}`, the body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    kind: &'static str,
    #[schema(value_type = Object)]
    error: AnthropicError,
}

impl ErrorEnvelope {
    pub fn new(error: AnthropicError) -> Self {
        ErrorEnvelope { kind: "error", error }
    }
}

/// Anthropic's error type for a response status; the SDKs pick their exception by
/// the status, and programs by this.
pub fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_messages_path_and_below_take_anthropics_errors() {
        assert!(is_messages_path("/v1/messages"));
        assert!(is_messages_path("/v1/messages/count_tokens"));
        assert!(!is_messages_path("/v1/messagesx"));
        assert!(!is_messages_path("/v1/chat/completions"));
    }

    #[test]
    fn messages_and_events_have_anthropics_shape() {
        let usage = Usage { input_tokens: 3, output_tokens: 2 };
        let text = OutputBlock::Text { text: "hi".into() };
        let whole = Message::new("msg_1", "m", vec![text], Some(StopReason::EndTurn), usage);
        assert_eq!(
            serde_json::to_value(&whole).unwrap(),
            json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                   "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
                   "stop_sequence": null, "usage": {"input_tokens": 3, "output_tokens": 2}})
        );
        let delta = StreamEvent::ContentBlockDelta {
            index: 1,
            delta: BlockDelta::InputJsonDelta { partial_json: "{\"a\"".into() },
        };
        assert_eq!(
            delta.encode(),
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":\
             {\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\"\"}}\n\n"
        );
        assert_eq!(StreamEvent::Ping.encode(), "event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }

    #[test]
    fn statuses_map_to_anthropics_error_types() {
        let table = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (415, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
        ];
        for (status, kind) in table {
            assert_eq!(error_type(StatusCode::from_u16(status).unwrap()), kind, "{status}");
        }
    }
}
