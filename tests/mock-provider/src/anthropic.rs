//! Anthropic Messages: `POST /v1/messages`, JSON or named server-sent events.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::dialect::{
    ApiError, Body, Checks, Dialect, PathTarget, RawRequest, TextContent, array, error_json, image_bytes,
    mock_id, parse_json, result_text, sse, string, strings, tool,
};
use crate::plan::{ChatRequest, Finish, Plan};
use crate::record::{Provider, Seen, SeenCall, SeenImage, SeenResult};

/// Anthropic has no per-request rendering options.
pub(crate) struct Anthropic;

#[derive(Deserialize)]
struct MessagesBody {
    model: Option<String>,
    messages: Option<Vec<Message>>,
    max_tokens: Option<u32>,
    system: Option<TextContent>,
    stream: Option<bool>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: TextContent,
}

impl Dialect for Anthropic {
    const PROVIDER: Provider = Provider::Anthropic;
    const STREAM_CONTENT_TYPE: &'static str = "text/event-stream; charset=utf-8";
    const OVERLOADED: u16 = 529;

    fn presented_key(request: &RawRequest) -> Option<String> {
        request.header("x-api-key").map(str::to_owned)
    }

    fn authenticate(request: &RawRequest, _: &Checks<'_>) -> Result<(), ApiError> {
        if request.header("x-api-key").is_none_or(str::is_empty) {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED).message("x-api-key header is required"));
        }
        if request.header("anthropic-version").is_none_or(str::is_empty) {
            return Err(ApiError::bad_request("anthropic-version: header is required"));
        }
        Ok(())
    }

    fn parse(request: &RawRequest, _: &PathTarget) -> Result<(ChatRequest, Self), ApiError> {
        let body: MessagesBody = parse_json(&request.body).map_err(|error| {
            ApiError::bad_request(format!("There was an error parsing the body: {error}"))
        })?;
        let model = body.model.ok_or_else(|| ApiError::bad_request("model: Field required"))?;
        let messages = body.messages.ok_or_else(|| ApiError::bad_request("messages: Field required"))?;
        let max_tokens =
            body.max_tokens.ok_or_else(|| ApiError::bad_request("max_tokens: Field required"))?;
        let mut chat = ChatRequest::new(model, body.stream.unwrap_or(false), Some(max_tokens));
        chat.seen = parse_json::<Value>(&request.body).map(|body| seen(&body)).unwrap_or_default();
        if let Some(system) = &body.system {
            chat.system(system.texts());
        }
        for message in &messages {
            chat.message(message.role == "user", message.content.texts());
        }
        Ok((chat, Anthropic))
    }

    fn error_response(error: &ApiError) -> Response<Body> {
        let request_id = mock_id("req_", crate::dialect::next_seq());
        let mut body = error_body(error);
        body["request_id"] = Value::String(request_id.clone());
        error_json(error, &body, vec![("request-id", request_id)])
    }

    fn headers(plan: &Plan) -> Vec<(&'static str, String)> {
        vec![("request-id", mock_id("req_", plan.seq))]
    }

    fn complete(&self, plan: &Plan) -> Value {
        let text = plan.has_text().then(|| json!({"type": "text", "text": plan.text()}));
        let calls = plan.calls.iter().enumerate().map(|(i, call)| {
            json!({"type": "tool_use", "id": call_id(plan, i), "name": call.name, "input": call.arguments_json()})
        });
        let content: Vec<Value> = text.into_iter().chain(calls).collect();
        message(plan, json!(content), Some(stop_reason(plan)), plan.output_tokens())
    }

    fn stream_open(&self, plan: &Plan) -> Vec<Bytes> {
        // The stream announces the message with a provisional output count, as the API does.
        let start = json!({"type": "message_start", "message": message(plan, json!([]), None, 1)});
        let mut events = vec![event("message_start", &start)];
        if plan.has_text() {
            let block = json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}});
            events.push(event("content_block_start", &block));
        }
        events.push(ping());
        events
    }

    fn stream_token(&self, plan: &Plan, index: usize, _last: bool) -> Bytes {
        let delta = json!({
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": plan.tokens[index]},
        });
        event("content_block_delta", &delta)
    }

    fn stream_close(&self, plan: &Plan) -> Vec<Bytes> {
        let delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(plan), "stop_sequence": null},
            "usage": {"output_tokens": plan.output_tokens()},
        });
        let first_call = usize::from(plan.has_text());
        let mut events = Vec::new();
        if plan.has_text() {
            events.push(block_stop(0));
        }
        for (i, call) in plan.calls.iter().enumerate() {
            let index = first_call + i;
            let block = json!({"type": "tool_use", "id": call_id(plan, i), "name": call.name, "input": {}});
            let start = json!({"type": "content_block_start", "index": index, "content_block": block});
            events.push(event("content_block_start", &start));
            // The input arrives as JSON text in pieces, the first one empty; a call without
            // arguments gets that empty piece alone, as the API sends it.
            let pieces = if call.arguments == "{}" { Vec::new() } else { call.fragments() };
            for fragment in std::iter::once(String::new()).chain(pieces) {
                let delta = json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": fragment}});
                events.push(event("content_block_delta", &delta));
            }
            events.push(block_stop(index));
        }
        events.push(event("message_delta", &delta));
        events.push(event("message_stop", &json!({"type": "message_stop"})));
        events
    }

    fn stream_error(&self, _: &Plan, _: usize, error: &ApiError) -> Bytes {
        event("error", &error_body(error))
    }
}

fn event(name: &str, data: &Value) -> Bytes {
    sse(Some(name), &data.to_string(), "\n")
}

fn block_stop(index: usize) -> Bytes {
    event("content_block_stop", &json!({"type": "content_block_stop", "index": index}))
}

fn call_id(plan: &Plan, index: usize) -> String {
    plan.call_id("toolu_", index)
}

/// What the request asks beyond its text.
fn seen(body: &Value) -> Seen {
    let mut seen = Seen {
        stop: strings(&body["stop_sequences"]),
        temperature: body["temperature"].as_f64(),
        top_p: body["top_p"].as_f64(),
        ..Seen::default()
    };
    for t in array(&body["tools"]) {
        seen.tools.push(tool(&t["name"], &t["description"], &t["input_schema"]));
    }
    let blocks = array(&body["messages"]).iter().flat_map(|m| array(&m["content"]));
    for block in blocks {
        match block["type"].as_str() {
            Some("image") => seen.images.push(image(&block["source"])),
            Some("tool_use") => seen.tool_calls.push(SeenCall {
                id: string(&block["id"]),
                name: string(&block["name"]).unwrap_or_default(),
                arguments: block["input"].clone(),
                thought_signature: None,
            }),
            Some("tool_result") => seen.tool_results.push(SeenResult {
                call_id: string(&block["tool_use_id"]),
                name: None,
                content: result_text(&block["content"]),
            }),
            _ => {}
        }
    }
    seen
}

/// An image block's source: `base64` bytes or a `url`.
fn image(source: &Value) -> SeenImage {
    match source["type"].as_str() {
        Some("url") => SeenImage { url: string(&source["url"]), ..SeenImage::default() },
        _ => image_bytes(string(&source["media_type"]), &source["data"]),
    }
}

fn ping() -> Bytes {
    event("ping", &json!({"type": "ping"}))
}

fn message(plan: &Plan, content: Value, stop_reason: Option<&str>, output_tokens: u32) -> Value {
    json!({
        "id": mock_id("msg_", plan.seq),
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": plan.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        },
    })
}

fn stop_reason(plan: &Plan) -> &'static str {
    match plan.finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
    }
}

fn error_body(error: &ApiError) -> Value {
    let (kind, stock) = stock_error(error.status);
    json!({"type": "error", "error": {"type": error.code.unwrap_or(kind), "message": error.message_or(stock)}})
}

/// Anthropic's error type and message for a status, as its errors page lists them.
fn stock_error(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        401 => ("authentication_error", "invalid x-api-key"),
        402 => ("billing_error", "Your credit balance is too low to access the Anthropic API."),
        403 => ("permission_error", "Your API key does not have permission to use the specified resource."),
        404 => ("not_found_error", "The requested resource could not be found."),
        409 => ("conflict_error", "Conflict."),
        413 => ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
        429 => {
            ("rate_limit_error", "Number of requests has exceeded your rate limit. Please try again later.")
        }
        503 | 529 => ("overloaded_error", "Overloaded"),
        500..=599 => ("api_error", "Internal server error"),
        _ => ("invalid_request_error", "Invalid request."),
    }
}
