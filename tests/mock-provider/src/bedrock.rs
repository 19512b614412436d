//! Amazon Bedrock Runtime Converse: `POST /model/{modelId}/converse` (JSON) and
//! `/model/{modelId}/converse-stream` (AWS event stream), signed with SigV4.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::dialect::{
    ApiError, Body, Checks, Dialect, PathTarget, RawRequest, TextPart, array, error_json, image_bytes,
    parse_json, result_text, string, strings, texts, tool,
};
use crate::eventstream;
use crate::plan::{ChatRequest, Finish, Plan};
use crate::record::{Provider, Seen, SeenCall, SeenResult};
use crate::sigv4::{self, SigV4Error};

/// Bedrock has no per-request rendering options.
pub(crate) struct Bedrock;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseBody {
    messages: Option<Vec<Message>>,
    #[serde(default)]
    system: Vec<TextPart>,
    inference_config: Option<InferenceConfig>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Vec<TextPart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig {
    max_tokens: Option<u32>,
}

const SERVICE: &str = "bedrock";
const FIRST_USER: &str = "A conversation must start with a user message. Try again with a conversation that starts with a user message.";

impl Dialect for Bedrock {
    const PROVIDER: Provider = Provider::Bedrock;
    const STREAM_CONTENT_TYPE: &'static str = "application/vnd.amazon.eventstream";
    const OVERLOADED: u16 = 503;

    fn presented_key(request: &RawRequest) -> Option<String> {
        let header = request.header("authorization")?;
        sigv4::parse_authorization(header).map(|authorization| authorization.access_key_id)
    }

    fn authenticate(request: &RawRequest, checks: &Checks<'_>) -> Result<(), ApiError> {
        sigv4::check(request, SERVICE, checks.bedrock_keys).map_err(signature_error)
    }

    fn parse(request: &RawRequest, target: &PathTarget) -> Result<(ChatRequest, Self), ApiError> {
        let body: ConverseBody = parse_json(&request.body).map_err(|_| {
            ApiError::bad_request("Malformed input request, please reformat your input and try again.")
        })?;
        let messages = body.messages.ok_or_else(|| {
            ApiError::bad_request(
                "1 validation error detected: Value null at 'messages' failed to satisfy constraint: \
                 Member must not be null",
            )
        })?;
        if messages.first().is_none_or(|first| first.role != "user") {
            return Err(ApiError::bad_request(FIRST_USER));
        }
        let max_tokens = body.inference_config.and_then(|config| config.max_tokens);
        let mut chat = ChatRequest::new(target.model.clone().unwrap_or_default(), target.stream, max_tokens);
        chat.seen = parse_json::<Value>(&request.body).map(|body| seen(&body)).unwrap_or_default();
        chat.system(texts(&body.system));
        for (index, message) in messages.iter().enumerate() {
            if message.role != "user" && message.role != "assistant" {
                return Err(ApiError::bad_request(format!(
                    "1 validation error detected: Value '{}' at 'messages.{}.member.role' failed to satisfy \
                     constraint: Member must satisfy enum value set: [user, assistant]",
                    message.role,
                    index + 1
                )));
            }
            chat.message(message.role == "user", texts(&message.content));
        }
        Ok((chat, Bedrock))
    }

    fn error_response(error: &ApiError) -> Response<Body> {
        let (name, stock) = stock_error(error.status);
        let name = error.code.unwrap_or(name);
        let headers =
            vec![("x-amzn-ErrorType", error_type_header(name)), ("x-amzn-RequestId", request_id(0))];
        error_json(error, &json!({"message": error.message_or(stock)}), headers)
    }

    fn headers(plan: &Plan) -> Vec<(&'static str, String)> {
        vec![("x-amzn-RequestId", request_id(plan.seq))]
    }

    fn complete(&self, plan: &Plan) -> Value {
        let text = plan.has_text().then(|| json!({"text": plan.text()}));
        let calls = plan.calls.iter().enumerate().map(|(i, call)| {
            json!({"toolUse": {"toolUseId": call_id(plan, i), "name": call.name, "input": call.arguments_json()}})
        });
        let content: Vec<Value> = text.into_iter().chain(calls).collect();
        json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason(plan),
            "usage": usage(plan),
            "metrics": {"latencyMs": plan.elapsed_ms()},
        })
    }

    fn stream_open(&self, _: &Plan) -> Vec<Bytes> {
        vec![event("messageStart", json!({"role": "assistant"}))]
    }

    fn stream_token(&self, plan: &Plan, index: usize, _last: bool) -> Bytes {
        event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": plan.tokens[index]}}))
    }

    fn stream_close(&self, plan: &Plan) -> Vec<Bytes> {
        let first_call = usize::from(plan.has_text());
        let mut events = Vec::new();
        if plan.has_text() {
            events.push(event("contentBlockStop", json!({"contentBlockIndex": 0})));
        }
        for (i, call) in plan.calls.iter().enumerate() {
            let index = first_call + i;
            let start = json!({"toolUse": {"toolUseId": call_id(plan, i), "name": call.name}});
            events.push(event("contentBlockStart", json!({"contentBlockIndex": index, "start": start})));
            for fragment in call.fragments() {
                let delta = json!({"toolUse": {"input": fragment}});
                events.push(event("contentBlockDelta", json!({"contentBlockIndex": index, "delta": delta})));
            }
            events.push(event("contentBlockStop", json!({"contentBlockIndex": index})));
        }
        events.push(event("messageStop", json!({"stopReason": stop_reason(plan)})));
        events.push(event(
            "metadata",
            json!({"usage": usage(plan), "metrics": {"latencyMs": plan.elapsed_ms()}}),
        ));
        events
    }

    fn stream_error(&self, _: &Plan, _: usize, error: &ApiError) -> Bytes {
        let (name, stock) = stock_error(error.status);
        let name = match error.status.as_u16() {
            424 => "ModelStreamErrorException",
            _ => error.code.unwrap_or(name),
        };
        let payload = json!({"message": error.message_or(stock)});
        eventstream::exception(&lower_camel(name), payload.to_string().as_bytes())
    }
}

/// An event whose JSON payload carries Bedrock's `p` padding field, which readers must ignore.
fn event(event_type: &str, mut payload: Value) -> Bytes {
    let seed = payload.to_string().len();
    payload["p"] = Value::String(crate::dialect::padding(seed));
    eventstream::event(event_type, payload.to_string().as_bytes())
}

fn call_id(plan: &Plan, index: usize) -> String {
    plan.call_id("tooluse_", index)
}

/// What the request asks beyond its text.
fn seen(body: &Value) -> Seen {
    let config = &body["inferenceConfig"];
    let mut seen = Seen {
        stop: strings(&config["stopSequences"]),
        temperature: config["temperature"].as_f64(),
        top_p: config["topP"].as_f64(),
        ..Seen::default()
    };
    for spec in array(&body["toolConfig"]["tools"]).iter().map(|t| &t["toolSpec"]) {
        seen.tools.push(tool(&spec["name"], &spec["description"], &spec["inputSchema"]["json"]));
    }
    for block in array(&body["messages"]).iter().flat_map(|m| array(&m["content"])) {
        if let Some(image) = block.get("image") {
            let media_type = image["format"].as_str().map(|f| format!("image/{f}"));
            seen.images.push(image_bytes(media_type, &image["source"]["bytes"]));
        }
        if let Some(call) = block.get("toolUse") {
            seen.tool_calls.push(SeenCall {
                id: string(&call["toolUseId"]),
                name: string(&call["name"]).unwrap_or_default(),
                arguments: call["input"].clone(),
                thought_signature: None,
            });
        }
        if let Some(result) = block.get("toolResult") {
            let parts: Vec<Value> = array(&result["content"])
                .iter()
                .map(|c| c.get("json").map_or_else(|| c.clone(), |json| json!({"text": json.to_string()})))
                .collect();
            let content = result_text(&Value::Array(parts));
            seen.tool_results.push(SeenResult { call_id: string(&result["toolUseId"]), name: None, content });
        }
    }
    seen
}

fn usage(plan: &Plan) -> Value {
    json!({
        "inputTokens": plan.input_tokens,
        "outputTokens": plan.output_tokens(),
        "totalTokens": plan.total_tokens(),
    })
}

fn stop_reason(plan: &Plan) -> &'static str {
    match plan.finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
    }
}

/// A request id in the UUID form AWS uses.
fn request_id(seq: u64) -> String {
    let seq = if seq == 0 { crate::dialect::next_seq() } else { seq };
    format!("00000000-0000-4000-8000-{seq:012x}")
}

/// `x-amzn-ErrorType`: the exception name and the namespace of the service that raised it.
fn error_type_header(name: &str) -> String {
    let namespace = match name {
        "MissingAuthenticationTokenException"
        | "IncompleteSignatureException"
        | "InvalidSignatureException"
        | "UnrecognizedClientException" => "com.amazon.coral.service",
        _ => "com.amazon.bedrock",
    };
    format!("{name}:http://internal.amazon.com/coral/{namespace}/")
}

fn signature_error(error: SigV4Error) -> ApiError {
    let (name, message) = match error {
        SigV4Error::Missing => ("MissingAuthenticationTokenException", "Missing Authentication Token"),
        SigV4Error::Malformed => (
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters \
             (AWS4-HMAC-SHA256).",
        ),
        SigV4Error::MissingDate => (
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ),
        SigV4Error::WrongService => {
            ("InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'.")
        }
        SigV4Error::UnknownAccessKey => {
            ("UnrecognizedClientException", "The security token included in the request is invalid.")
        }
        SigV4Error::Mismatch => (
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS \
             Secret Access Key and signing method. Consult the service documentation for details.",
        ),
    };
    ApiError::new(StatusCode::FORBIDDEN).code(name).message(message)
}

/// Bedrock Runtime's exception and message for a status.
fn stock_error(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        403 => ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
        404 => ("ResourceNotFoundException", "The specified resource could not be found."),
        408 => (
            "ModelTimeoutException",
            "Model has timed out in processing the request. Try your request again.",
        ),
        424 => ("ModelErrorException", "The request failed due to an error while processing the model."),
        429 => ("ThrottlingException", "Too many requests, please wait before trying again."),
        503 => ("ServiceUnavailableException", "Bedrock is unable to process your request."),
        500..=599 => (
            "InternalServerException",
            "The server encountered an internal error while processing the request.",
        ),
        _ => (
            "ValidationException",
            "Input validation failed. Check your request parameters and retry the request.",
        ),
    }
}

/// `ThrottlingException` → `throttlingException`, the member names of the stream's union.
fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}
