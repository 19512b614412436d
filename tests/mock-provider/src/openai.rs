//! OpenAI Chat Completions: `POST /v1/chat/completions` (JSON or server-sent events) and
//! `GET /v1/models`.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::dialect::{
    ApiError, Body, Checks, Dialect, PathTarget, RawRequest, TextContent, array, error_json, image_url,
    json_response, mock_id, padding, parse_json, result_text, sse, string, strings, tool,
};
use crate::plan::{ChatRequest, Finish, Plan};
use crate::record::{Provider, Seen, SeenCall, SeenResult};

/// Per-request rendering options of a chat completion.
pub(crate) struct OpenAi {
    include_usage: bool,
    obfuscation: bool,
}

#[derive(Deserialize)]
struct CompletionBody {
    model: Option<String>,
    messages: Option<Vec<Message>>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Option<TextContent>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
    include_obfuscation: Option<bool>,
}

const NO_KEY: &str = "You didn't provide an API key. You need to provide your API key in an Authorization \
    header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank \
    username) if you're accessing the API from your browser and are prompted for a username and password. \
    You can obtain an API key from https://platform.openai.com/account/api-keys.";
const BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't \
    using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid \
    JSON. If you have trouble figuring out how to fix this, please contact us through our help center at \
    help.openai.com.)";

impl Dialect for OpenAi {
    const PROVIDER: Provider = Provider::OpenAi;
    const STREAM_CONTENT_TYPE: &'static str = "text/event-stream; charset=utf-8";
    const OVERLOADED: u16 = 503;

    fn presented_key(request: &RawRequest) -> Option<String> {
        request.bearer().map(str::to_owned)
    }

    fn authenticate(request: &RawRequest, _: &Checks<'_>) -> Result<(), ApiError> {
        match request.bearer() {
            Some(key) if !key.is_empty() => Ok(()),
            _ => Err(ApiError::new(StatusCode::UNAUTHORIZED).message(NO_KEY)),
        }
    }

    fn parse(request: &RawRequest, _: &PathTarget) -> Result<(ChatRequest, Self), ApiError> {
        let body: CompletionBody = parse_json(&request.body).map_err(|_| ApiError::bad_request(BAD_JSON))?;
        let model = body.model.ok_or_else(|| ApiError::bad_request("you must provide a model parameter"))?;
        let messages = body.messages.ok_or_else(|| {
            ApiError::bad_request("Missing required parameter: 'messages'.")
                .param("messages")
                .code("missing_required_parameter")
        })?;
        let stream = body.stream.unwrap_or(false);
        if body.stream_options.is_some() && !stream {
            let message = "The 'stream_options' parameter is only allowed when 'stream' is enabled.";
            return Err(ApiError::bad_request(message).param("stream_options"));
        }
        let mut chat = ChatRequest::new(model, stream, body.max_completion_tokens.or(body.max_tokens));
        chat.seen = parse_json::<Value>(&request.body).map(|body| seen(&body)).unwrap_or_default();
        for message in &messages {
            let texts = message.content.as_ref().map(TextContent::texts).unwrap_or_default();
            match message.role.as_str() {
                "system" | "developer" => chat.system(texts),
                role => chat.message(role == "user", texts),
            }
        }
        let options = body.stream_options.as_ref();
        let dialect = OpenAi {
            include_usage: options.and_then(|o| o.include_usage).unwrap_or(false),
            obfuscation: options.and_then(|o| o.include_obfuscation).unwrap_or(true),
        };
        Ok((chat, dialect))
    }

    fn error_response(error: &ApiError) -> Response<Body> {
        error_json(error, &error_body(error), Vec::new())
    }

    fn headers(plan: &Plan) -> Vec<(&'static str, String)> {
        vec![("x-request-id", mock_id("req_", plan.seq))]
    }

    fn complete(&self, plan: &Plan) -> Value {
        // A reply of tool calls alone has null content, as OpenAI sends it.
        let content = Some(plan.text()).filter(|t| !t.is_empty() || plan.calls.is_empty());
        let mut message =
            json!({"role": "assistant", "content": content, "refusal": null, "annotations": []});
        if !plan.calls.is_empty() {
            let calls: Vec<Value> = plan
                .calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    json!({"id": call_id(plan, i), "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments}})
                })
                .collect();
            message["tool_calls"] = json!(calls);
        }
        json!({
            "id": completion_id(plan),
            "object": "chat.completion",
            "created": plan.created,
            "model": plan.model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(plan)}],
            "usage": usage(plan),
            "service_tier": "default",
            "system_fingerprint": "fp_mock",
        })
    }

    fn stream_open(&self, plan: &Plan) -> Vec<Bytes> {
        let delta = json!({"role": "assistant", "content": "", "refusal": null});
        vec![self.chunk(plan, choice(delta, None), None, 0)]
    }

    fn stream_token(&self, plan: &Plan, index: usize, _last: bool) -> Bytes {
        let delta = json!({"content": plan.tokens[index]});
        self.chunk(plan, choice(delta, None), None, index + 1)
    }

    fn stream_close(&self, plan: &Plan) -> Vec<Bytes> {
        let mut chunks = self.tool_call_chunks(plan);
        chunks.push(self.chunk(plan, choice(json!({}), Some(finish_reason(plan))), None, 0));
        if self.include_usage {
            chunks.push(self.chunk(plan, json!([]), Some(usage(plan)), 0));
        }
        chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
        chunks
    }

    fn stream_error(&self, _: &Plan, _: usize, error: &ApiError) -> Bytes {
        sse(None, &error_body(error).to_string(), "\n")
    }
}

impl OpenAi {
    /// Each call's opening delta (index, id, name), then its arguments in fragments.
    fn tool_call_chunks(&self, plan: &Plan) -> Vec<Bytes> {
        let mut chunks = Vec::new();
        for (index, call) in plan.calls.iter().enumerate() {
            let opening = json!({"index": index, "id": call_id(plan, index), "type": "function",
                "function": {"name": call.name, "arguments": ""}});
            let deltas = std::iter::once(opening).chain(
                call.fragments().into_iter().map(|f| json!({"index": index, "function": {"arguments": f}})),
            );
            for (seed, delta) in deltas.enumerate() {
                chunks.push(self.chunk(plan, choice(json!({"tool_calls": [delta]}), None), None, seed));
            }
        }
        chunks
    }

    /// A `chat.completion.chunk` event; `usage` is present (as null until the usage chunk) only
    /// when the request asked for it.
    fn chunk(&self, plan: &Plan, choices: Value, usage: Option<Value>, seed: usize) -> Bytes {
        let mut chunk = json!({
            "id": completion_id(plan),
            "object": "chat.completion.chunk",
            "created": plan.created,
            "model": plan.model,
            "service_tier": "default",
            "system_fingerprint": "fp_mock",
            "choices": choices,
        });
        if self.include_usage {
            chunk["usage"] = usage.unwrap_or(Value::Null);
        }
        if self.obfuscation {
            chunk["obfuscation"] = Value::String(padding(seed));
        }
        sse(None, &chunk.to_string(), "\n")
    }
}

/// The body of `GET /v1/models`.
pub(crate) fn models_response(models: &[String]) -> Response<Body> {
    let data: Vec<Value> = models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "confab-mock"}))
        .collect();
    json_response(StatusCode::OK, &json!({"object": "list", "data": data}), Vec::new(), None)
}

fn completion_id(plan: &Plan) -> String {
    mock_id("chatcmpl-", plan.seq)
}

fn call_id(plan: &Plan, index: usize) -> String {
    plan.call_id("call_", index)
}

/// What the request asks beyond its text.
fn seen(body: &Value) -> Seen {
    let mut seen = Seen {
        stop: strings(&body["stop"]),
        temperature: body["temperature"].as_f64(),
        top_p: body["top_p"].as_f64(),
        seed: body["seed"].as_i64(),
        json_schema: body.pointer("/response_format/json_schema/schema").cloned(),
        ..Seen::default()
    };
    for t in array(&body["tools"]) {
        let f = &t["function"];
        seen.tools.push(tool(&f["name"], &f["description"], &f["parameters"]));
    }
    for message in array(&body["messages"]) {
        for call in array(&message["tool_calls"]) {
            let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
            seen.tool_calls.push(SeenCall {
                id: string(&call["id"]),
                name: string(&call["function"]["name"]).unwrap_or_default(),
                arguments: serde_json::from_str(arguments).unwrap_or(Value::String(arguments.to_owned())),
                thought_signature: None,
            });
        }
        if message["role"] == "tool" {
            let content = result_text(&message["content"]);
            seen.tool_results.push(SeenResult {
                call_id: string(&message["tool_call_id"]),
                name: None,
                content,
            });
        }
        let images = array(&message["content"]).iter().filter(|p| p["type"] == "image_url");
        seen.images.extend(images.map(|p| image_url(p["image_url"]["url"].as_str().unwrap_or_default())));
    }
    seen
}

fn choice(delta: Value, finish_reason: Option<&str>) -> Value {
    json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}])
}

fn finish_reason(plan: &Plan) -> &'static str {
    match plan.finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
    }
}

fn usage(plan: &Plan) -> Value {
    json!({
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens(),
        "total_tokens": plan.total_tokens(),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

fn error_body(error: &ApiError) -> Value {
    let (kind, stock, stock_code) = stock_error(error.status);
    json!({"error": {
        "message": error.message_or(stock),
        "type": kind,
        "param": error.param,
        "code": error.code.or(stock_code),
    }})
}

/// OpenAI's error `type`, message and `code` for a status.
fn stock_error(status: StatusCode) -> (&'static str, &'static str, Option<&'static str>) {
    match status.as_u16() {
        401 => ("invalid_request_error", "Incorrect API key provided.", None),
        403 => ("invalid_request_error", "You are not allowed to sample from this model.", None),
        404 => (
            "invalid_request_error",
            "The model does not exist or you do not have access to it.",
            Some("model_not_found"),
        ),
        429 => (
            "requests",
            "Rate limit reached for requests. Please try again later.",
            Some("rate_limit_exceeded"),
        ),
        503 => ("server_error", "The server is overloaded or not ready yet.", None),
        500..=599 => {
            ("server_error", "The server had an error while processing your request. Sorry about that!", None)
        }
        _ => ("invalid_request_error", "Invalid request.", None),
    }
}
