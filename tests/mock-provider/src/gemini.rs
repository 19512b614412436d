//! Google Gemini: `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent` (server-sent events with `?alt=sse`, else a streamed JSON array).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::dialect::{
    ApiError, Body, Checks, Dialect, PathTarget, RawRequest, TextPart, error_json, mock_id, parse_json, sse,
    texts,
};
use crate::plan::{ChatRequest, Finish, Plan};
use crate::record::Provider;

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
        response(plan, &plan.text(), Some(finish_reason(plan)), plan.tokens.len())
    }

    fn stream_open(&self, _: &Plan) -> Vec<Bytes> {
        Vec::new()
    }

    fn stream_token(&self, plan: &Plan, index: usize, last: bool) -> Bytes {
        let finish = last.then(|| finish_reason(plan));
        self.frame(&response(plan, &plan.tokens[index], finish, index + 1), index == 0)
    }

    fn stream_close(&self, plan: &Plan) -> Vec<Bytes> {
        // The last token carried the finish reason; an empty reply still needs a final chunk.
        let mut chunks = Vec::new();
        if plan.tokens.is_empty() {
            chunks.push(self.frame(&response(plan, "", Some(finish_reason(plan)), 0), true));
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

/// A `GenerateContentResponse` with one candidate holding `text`; usage counts the `emitted`
/// tokens so far, as the API's cumulative counts do.
fn response(plan: &Plan, text: &str, finish_reason: Option<&str>, emitted: usize) -> Value {
    let mut candidate = json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
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
        Finish::Stop => "STOP",
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
