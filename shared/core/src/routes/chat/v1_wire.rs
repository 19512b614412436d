//! OpenAI's API as `/v1` speaks it: the chat completion request it reads and the
//! objects it writes, field for field what the `openai` SDKs parse.

use crate::chat::sse::data_only;
use crate::http::{ErrorBody, ErrorDetail};
use crate::providers::{ChatRole, FinishReason, ProviderError, Usage};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An OpenAI chat completion request. Fields confab does not know are kept in `other`
/// and refused unless they leave the reply as it would be without them.
#[derive(Deserialize, ToSchema)]
pub struct CompletionRequest {
    pub model: String,
    pub messages: Vec<InputMessage>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    #[schema(value_type = Option<Value>)]
    pub stop: Option<Stop>,
    pub n: Option<u32>,
    pub seed: Option<i64>,
    #[schema(value_type = Option<Vec<Value>>)]
    pub tools: Option<Vec<ToolSpec>>,
    #[schema(value_type = Option<Value>)]
    pub tool_choice: Option<ToolChoiceSpec>,
    pub parallel_tool_calls: Option<bool>,
    #[schema(value_type = Option<Value>)]
    pub response_format: Option<ResponseFormatSpec>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct InputMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text, or an array of `text` (and, in user messages, `image_url`) parts.
    #[schema(value_type = Value)]
    pub content: Option<Content>,
    /// An assistant message's calls.
    #[schema(value_type = Option<Vec<Value>>)]
    pub tool_calls: Option<Vec<ToolCallSpec>>,
    /// A tool message's call.
    pub tool_call_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Deserialize)]
pub struct ImageUrl {
    pub url: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolSpec {
    Function { function: FunctionSpec },
}

#[derive(Deserialize)]
pub struct FunctionSpec {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<serde_json::Value>,
    pub strict: Option<bool>,
}

/// `"none"`, `"auto"`, `"required"` or `{"type": "function", "function": {"name"}}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum ToolChoiceSpec {
    Mode(String),
    Function { function: FunctionName },
}

#[derive(Deserialize)]
pub struct FunctionName {
    pub name: String,
}

#[derive(Deserialize)]
pub struct ToolCallSpec {
    pub id: String,
    pub function: CalledFunction,
}

#[derive(Deserialize)]
pub struct CalledFunction {
    pub name: String,
    /// JSON text, as OpenAI sends it.
    pub arguments: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormatSpec {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaSpec },
}

#[derive(Deserialize)]
pub struct JsonSchemaSpec {
    pub name: String,
    pub description: Option<String>,
    pub schema: Option<serde_json::Value>,
    pub strict: Option<bool>,
}

impl Stop {
    pub fn sequences(&self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s.clone()],
            Stop::Many(v) => v.clone(),
        }
    }
}

/// What every object of one completion repeats.
pub struct Envelope {
    /// `chatcmpl-…`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    pub model: String,
}

/// A `chat.completion`: the whole reply at once.
#[derive(Serialize)]
pub struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: UsageCounts,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    finish_reason: FinishReason,
    /// Always null: confab returns no log probabilities.
    logprobs: (),
}

#[derive(Serialize)]
struct Message<'a> {
    role: ChatRole,
    /// Null when the reply is only tool calls, as OpenAI sends it.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tool_calls: &'a [OutputToolCall],
}

/// A whole tool call in a `chat.completion`.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct OutputToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OutputFunction,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct OutputFunction {
    pub name: String,
    pub arguments: String,
}

/// A piece of a streamed tool call: `id`, `type` and the name come with the first.
#[derive(Serialize)]
pub struct ToolCallChunk<'a> {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionChunk<'a>,
}

#[derive(Serialize)]
pub struct FunctionChunk<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

/// A `chat.completion.chunk`: one step of a streamed reply.
#[derive(Serialize)]
pub struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    /// Empty in the closing usage chunk.
    choices: Vec<ChunkChoice<'a>>,
    /// Only in the closing usage chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageCounts>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    finish_reason: Option<FinishReason>,
    logprobs: (),
}

/// What a chunk adds to the reply: the role first, then text; empty with the finish reason.
#[derive(Serialize, Default)]
pub struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<ChatRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallChunk<'a>; 1]>,
}

#[derive(Serialize)]
struct UsageCounts {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

impl From<Usage> for UsageCounts {
    fn from(u: Usage) -> Self {
        UsageCounts {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            total_tokens: u.input_tokens + u.output_tokens,
        }
    }
}

impl Envelope {
    pub fn completion<'a>(
        &'a self,
        content: &'a str,
        tool_calls: &'a [OutputToolCall],
        finish: FinishReason,
        usage: Usage,
    ) -> Completion<'a> {
        let content = (!content.is_empty() || tool_calls.is_empty()).then_some(content);
        Completion {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: &self.model,
            choices: [Choice {
                index: 0,
                message: Message { role: ChatRole::Assistant, content, tool_calls },
                finish_reason: finish,
                logprobs: (),
            }],
            usage: usage.into(),
        }
    }

    pub fn chunk<'a>(&'a self, delta: Delta<'a>, finish: Option<FinishReason>) -> Chunk<'a> {
        let choice = ChunkChoice { index: 0, delta, finish_reason: finish, logprobs: () };
        self.chunk_of(vec![choice], None)
    }

    /// The chunk after the last, when the client asked for `stream_options.include_usage`.
    pub fn usage_chunk(&self, usage: Usage) -> Chunk<'_> {
        self.chunk_of(Vec::new(), Some(usage.into()))
    }

    fn chunk_of<'a>(&'a self, choices: Vec<ChunkChoice<'a>>, usage: Option<UsageCounts>) -> Chunk<'a> {
        Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        }
    }
}

/// An error in place of the next chunk, once the reply has begun.
pub fn stream_error(e: &ProviderError) -> ErrorBody {
    ErrorBody { error: ErrorDetail { code: e.code(), message: e.public_message(), kind: "api_error" } }
}

/// `value` as one `data:` event.
pub fn event(value: &impl Serialize) -> Bytes {
    match serde_json::to_string(value) {
        Ok(text) => data_only(&text),
        Err(e) => {
            tracing::error!(error = %e, "a /v1 event could not be encoded");
            Bytes::new()
        }
    }
}

/// The event that ends every stream.
pub fn done() -> Bytes {
    data_only("[DONE]")
}

/// A `list` of `model` objects: what `GET /v1/models` answers.
#[derive(Serialize)]
pub struct ModelList<'a> {
    object: &'static str,
    data: Vec<Model<'a>>,
}

#[derive(Serialize)]
struct Model<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    owned_by: &'static str,
}

impl<'a> ModelList<'a> {
    pub fn of(names: impl IntoIterator<Item = &'a str>) -> Self {
        let model = |id| Model { id, object: "model", created: 0, owned_by: "confab" };
        ModelList { object: "list", data: names.into_iter().map(model).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn envelope() -> Envelope {
        Envelope { id: "chatcmpl-1".into(), created: 7, model: "m".into() }
    }

    fn encoded(value: &impl Serialize) -> Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn completions_have_openais_shape() {
        let usage = Usage { input_tokens: 3, output_tokens: 2 };
        assert_eq!(
            encoded(&envelope().completion("hi", &[], FinishReason::Length, usage)),
            json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 7, "model": "m",
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": "hi" },
                              "finish_reason": "length", "logprobs": null }],
                "usage": { "prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5 },
            })
        );
    }

    #[test]
    fn chunks_carry_role_then_text_then_finish_then_usage() {
        let e = envelope();
        let chunk = |delta: Value, finish: Value| {
            json!({
                "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": "m",
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish, "logprobs": null }],
            })
        };
        let role = Delta { role: Some(ChatRole::Assistant), content: Some(""), ..Delta::default() };
        assert_eq!(
            encoded(&e.chunk(role, None)),
            chunk(json!({"role": "assistant", "content": ""}), json!(null))
        );
        let text = Delta { content: Some("a"), ..Delta::default() };
        assert_eq!(encoded(&e.chunk(text, None)), chunk(json!({"content": "a"}), json!(null)));
        assert_eq!(
            encoded(&e.chunk(Delta::default(), Some(FinishReason::Stop))),
            chunk(json!({}), json!("stop"))
        );
        assert_eq!(
            encoded(&e.usage_chunk(Usage { input_tokens: 1, output_tokens: 1 })),
            json!({
                "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": "m",
                "choices": [], "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 },
            })
        );
    }

    #[test]
    fn streams_frame_events_errors_and_done() {
        let error = stream_error(&ProviderError::Transport("reset".into()));
        assert_eq!(
            event(&error),
            "data: {\"error\":{\"code\":\"upstream_error\",\"message\":\"the connection to the provider was \
             lost\",\"type\":\"api_error\"}}\n\n"
        );
        assert_eq!(done(), "data: [DONE]\n\n");
    }

    #[test]
    fn model_lists_name_every_model() {
        assert_eq!(
            encoded(&ModelList::of(["a", "b"])),
            json!({ "object": "list", "data": [
                { "id": "a", "object": "model", "created": 0, "owned_by": "confab" },
                { "id": "b", "object": "model", "created": 0, "owned_by": "confab" },
            ]})
        );
    }
}
