//! OpenAI's API as `/v1` speaks it: the chat completion request it reads and the
//! objects it writes, field for field what the `openai` SDKs parse.

use crate::chat::sse::data_only;
use crate::error::{ApiError, ApiResult};
use crate::http::{ErrorBody, ErrorDetail};
use crate::providers::{ChatRole, FinishReason, ProviderError, Usage};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The OpenAI request fields confab acts on; other fields are accepted and ignored.
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
}

#[derive(Deserialize, ToSchema)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct InputMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// Text, or an array of content parts of which the `text` ones are used.
    #[schema(value_type = Value)]
    pub content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Content {
    /// The message's text; parts other than text are refused.
    pub fn text(&self) -> ApiResult<String> {
        match self {
            Content::Text(t) => Ok(t.clone()),
            Content::Parts(parts) => parts
                .iter()
                .map(|p| match (p.kind.as_str(), &p.text) {
                    ("text", Some(t)) => Ok(t.as_str()),
                    (kind, _) => Err(ApiError::InvalidRequest(format!(
                        "content parts of type {kind:?} are not supported"
                    ))),
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(|texts| texts.join("")),
        }
    }
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
    content: &'a str,
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
    pub fn completion<'a>(&'a self, content: &'a str, finish: FinishReason, usage: Usage) -> Completion<'a> {
        Completion {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: &self.model,
            choices: [Choice {
                index: 0,
                message: Message { role: ChatRole::Assistant, content },
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
            encoded(&envelope().completion("hi", FinishReason::Length, usage)),
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
        let role = Delta { role: Some(ChatRole::Assistant), content: Some("") };
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
