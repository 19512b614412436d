//! Google Gemini: `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent` (server-sent events with `?alt=sse`, else a streamed JSON array).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::dialect::{
    ApiError, Body, Checks, Dialect, PathTarget, RawRequest, TextPart, array, error_json, image_bytes,
    mock_id, parse_json, sse, string, strings, texts, tool,
};
use crate::plan::{ChatRequest, Finish, Plan};
use crate::record::{Provider, Seen, SeenCall, SeenImage, SeenResult};

/// How the stream is framed: `?alt=sse` events, or the elements of one JSON array.
pub(crate) struct Gemini {
    sse: bool,
}

/// Proto3 JSON: fields are read in lowerCamelCase or their original snake_case.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateBody {
    contents: Option<Vec<Content>>,
    #[serde(alias = "system_instruction")]
    system_instruction: Option<Content>,
    #[serde(alias = "generation_config")]
    generation_config: Option<GenerationConfig>,
}

#[derive(Deserialize)]
struct Content {
    role: Option<String>,
    #[serde(default)]
    parts: Vec<TextPart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(alias = "max_output_tokens")]
    max_output_tokens: Option<u32>,
}

const NO_KEY: &str = "Method doesn't allow unregistered callers (callers without established identity). \
    Please use API Key or other form of API consumer identity to call this API.";
/// SSE lines end in CRLF, as Google's front end sends them.
const EOL: &str = "\r\n";

impl Dialect for Gemini {
    const PROVIDER: Provider = Provider::Gemini;
    const STREAM_CONTENT_TYPE: &'static str = "text/event-stream";
    const OVERLOADED: u16 = 503;

    fn presented_key(request: &RawRequest) -> Option<String> {
        request.header("x-goog-api-key").map(str::to_owned).or_else(|| request.query("key"))
    }

    fn authenticate(request: &RawRequest, _: &Checks<'_>) -> Result<(), ApiError> {
        match Self::presented_key(request) {
            Some(key) if !key.is_empty() => Ok(()),
            _ => Err(ApiError::new(StatusCode::FORBIDDEN).message(NO_KEY)),
        }
    }

    fn parse(request: &RawRequest, target: &PathTarget) -> Result<(ChatRequest, Self), ApiError> {
        let body: GenerateBody = parse_json(&request.body)
            .map_err(|error| ApiError::bad_request(format!("Invalid JSON payload received. {error}")))?;
        let contents = body.contents.filter(|contents| !contents.is_empty()).ok_or_else(|| {
            ApiError::bad_request("* GenerateContentRequest.contents: contents is not specified\n")
        })?;
        let max_tokens = body.generation_config.and_then(|config| config.max_output_tokens);
        let model = target.model.clone().unwrap_or_default();
        let mut chat = ChatRequest::new(model, target.stream, max_tokens);
        chat.seen = parse_json::<Value>(&request.body).map(|body| seen(&body)).unwrap_or_default();
        if needs_signatures(&chat.model) {
            check_signatures(&request.body)?;
        }
        if let Some(system) = &body.system_instruction {
            chat.system(texts(&system.parts));
        }
        for content in &contents {
            let from_user = match content.role.as_deref() {
                None | Some("user") => true,
                Some("model") => false,
                Some(_) => return Err(ApiError::bad_request("Please use a valid role: user, model.")),
            };
            chat.message(from_user, texts(&content.parts));
        }
        Ok((chat, Gemini { sse: request.query("alt").as_deref() == Some("sse") }))
    }

    fn error_response(error: &ApiError) -> Response<Body> {
        error_json(error, &error_body(error), Vec::new())
    }

    fn headers(_: &Plan) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn complete(&self, plan: &Plan) -> Value {
        let text = plan.has_text().then(|| json!({"text": plan.text()}));
        let parts: Vec<Value> = text.into_iter().chain(call_parts(plan)).collect();
        response(plan, parts, Some(finish_reason(plan)), plan.tokens.len())
    }

    fn stream_open(&self, _: &Plan) -> Vec<Bytes> {
        Vec::new()
    }

    fn stream_token(&self, plan: &Plan, index: usize, last: bool) -> Bytes {
        let finish = (last && plan.calls.is_empty()).then(|| finish_reason(plan));
        let parts = vec![json!({"text": plan.tokens[index]})];
        self.frame(&response(plan, parts, finish, index + 1), index == 0)
    }

    fn stream_close(&self, plan: &Plan) -> Vec<Bytes> {
        // The last token carried the finish reason, unless calls follow: they come whole, in
        // one last chunk. An empty reply still needs a final chunk.
        let mut chunks = Vec::new();
        let first = plan.tokens.is_empty();
        if !plan.calls.is_empty() {
            let parts = call_parts(plan).collect();
            chunks.push(
                self.frame(&response(plan, parts, Some(finish_reason(plan)), plan.tokens.len()), first),
            );
        } else if first {
            let parts = vec![json!({"text": ""})];
            chunks.push(self.frame(&response(plan, parts, Some(finish_reason(plan)), 0), true));
        }
        if !self.sse {
            chunks.push(Bytes::from_static(b"]"));
        }
        chunks
    }

    fn stream_error(&self, _: &Plan, sent: usize, error: &ApiError) -> Bytes {
        let frame = self.frame(&error_body(error), sent == 0);
        match self.sse {
            true => frame,
            false => [frame, Bytes::from_static(b"]")].concat().into(),
        }
    }
}

impl Gemini {
    /// One `GenerateContentResponse` of the stream.
    fn frame(&self, value: &Value, first: bool) -> Bytes {
        match (self.sse, first) {
            (true, _) => sse(None, &value.to_string(), EOL),
            (false, true) => Bytes::from(format!("[{value}")),
            (false, false) => Bytes::from(format!(",{EOL}{value}")),
        }
    }
}

/// A `GenerateContentResponse` with one candidate holding `parts`; usage counts the `emitted`
/// tokens so far, as the API's cumulative counts do.
fn response(plan: &Plan, parts: Vec<Value>, finish_reason: Option<&str>, emitted: usize) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(reason) = finish_reason {
        candidate["finishReason"] = json!(reason);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage(plan, emitted),
        "modelVersion": plan.model,
        "responseId": mock_id("", plan.seq),
    })
}

/// The reply's calls as `functionCall` parts, whole (Gemini streams no partial arguments). The
/// first carries a `thoughtSignature`, as thinking models (Gemini 3) send it.
fn call_parts(plan: &Plan) -> impl Iterator<Item = Value> + '_ {
    plan.calls.iter().enumerate().map(|(i, call)| {
        let mut part = json!({"functionCall": {"name": call.name, "args": call.arguments_json()}});
        if i == 0 {
            part["thoughtSignature"] = json!(thought_signature(plan));
        }
        part
    })
}

/// An opaque signature (base64, as Gemini's are) unique to the reply.
pub(crate) fn thought_signature(plan: &Plan) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("mock thought signature {}", plan.seq))
}

/// Gemini 3 refuses a function call sent back without the signature it came with.
fn needs_signatures(model: &str) -> bool {
    model.trim_start_matches("models/").starts_with("gemini-3")
}

/// The first `functionCall` part of every model turn must carry its `thoughtSignature`.
fn check_signatures(body: &[u8]) -> Result<(), ApiError> {
    let body: Value = parse_json(body).unwrap_or_default();
    for (position, content) in array(&body["contents"]).iter().enumerate() {
        let first_call = array(&content["parts"]).iter().find(|p| p.get("functionCall").is_some());
        if let Some(part) = first_call.filter(|p| !p["thoughtSignature"].is_string()) {
            let name = part["functionCall"]["name"].as_str().unwrap_or_default();
            return Err(ApiError::bad_request(format!(
                "Function call is missing a thought_signature in functionCall parts. This is required for                  tools to work correctly, and missing thought_signature may lead to degraded model                  performance. Additional data, function call `default_api:{name}` , position {}. Please                  refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                position + 1
            )));
        }
    }
    Ok(())
}

/// What the request asks beyond its text.
fn seen(body: &Value) -> Seen {
    let config =
        body.get("generationConfig").or_else(|| body.get("generation_config")).unwrap_or(&Value::Null);
    let mut seen = Seen {
        stop: strings(&config["stopSequences"]),
        temperature: config["temperature"].as_f64(),
        top_p: config["topP"].as_f64(),
        seed: config["seed"].as_i64(),
        json_schema: config.get("responseJsonSchema").or_else(|| config.get("responseSchema")).cloned(),
        ..Seen::default()
    };
    for f in array(&body["tools"]).iter().flat_map(|t| array(&t["functionDeclarations"])) {
        let parameters = f.get("parametersJsonSchema").unwrap_or(&f["parameters"]);
        seen.tools.push(tool(&f["name"], &f["description"], parameters));
    }
    for part in array(&body["contents"]).iter().flat_map(|c| array(&c["parts"])) {
        if let Some(data) = part.get("inlineData") {
            seen.images.push(image_bytes(string(&data["mimeType"]), &data["data"]));
        }
        if let Some(file) = part.get("fileData") {
            let media_type = string(&file["mimeType"]);
            seen.images.push(SeenImage { url: string(&file["fileUri"]), media_type, base64: None });
        }
        if let Some(call) = part.get("functionCall") {
            seen.tool_calls.push(SeenCall {
                id: string(&call["id"]),
                name: string(&call["name"]).unwrap_or_default(),
                arguments: call["args"].clone(),
                thought_signature: string(&part["thoughtSignature"]),
            });
        }
        if let Some(result) = part.get("functionResponse") {
            let response = &result["response"];
            let content = response["content"].as_str().map_or_else(|| response.to_string(), str::to_owned);
            seen.tool_results.push(SeenResult {
                call_id: string(&result["id"]),
                name: string(&result["name"]),
                content,
            });
        }
    }
    seen
}

/// Proto3 JSON leaves out zero counts.
fn usage(plan: &Plan, emitted: usize) -> Value {
    let output = u32::try_from(emitted).unwrap_or(u32::MAX);
    let mut usage = json!({
        "promptTokenCount": plan.input_tokens,
        "totalTokenCount": plan.input_tokens.saturating_add(output),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": plan.input_tokens}],
    });
    if output > 0 {
        usage["candidatesTokenCount"] = json!(output);
    }
    usage
}

fn finish_reason(plan: &Plan) -> &'static str {
    match plan.finish {
        // Gemini ends a reply of calls with STOP too.
        Finish::Stop | Finish::ToolCalls => "STOP",
        Finish::Length => "MAX_TOKENS",
    }
}

fn error_body(error: &ApiError) -> Value {
    let (status, stock) = stock_error(error.status);
    let mut body = json!({"error": {
        "code": error.status.as_u16(),
        "message": error.message_or(stock),
        "status": error.code.unwrap_or(status),
    }});
    if let Some(seconds) = error.retry_after_s {
        let retry =
            json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{seconds}s")});
        body["error"]["details"] = json!([retry]);
    }
    body
}

/// The `google.rpc.Code` name and a message for a status.
fn stock_error(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
        403 => ("PERMISSION_DENIED", "The caller does not have permission"),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        409 => ("ABORTED", "The operation was aborted."),
        429 => ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        499 => ("CANCELLED", "The operation was cancelled."),
        500 => (
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        ),
        501 => ("UNIMPLEMENTED", "Method not implemented."),
        503 => ("UNAVAILABLE", "The model is overloaded. Please try again later."),
        504 => ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
        _ => ("UNKNOWN", "Unknown error."),
    }
}
