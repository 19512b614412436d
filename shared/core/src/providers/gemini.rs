//! Google Gemini (`POST /v1beta/models/{model}:streamGenerateContent?alt=sse`). Each SSE
//! event is a whole `GenerateContentResponse`; the reply ends with the body, after a
//! candidate's `finishReason`.

use super::sse::{self, Event};
use super::wire::{
    Decode, ErrorShape, Flow, convert, endpoint, finish_at_end, first_refusal, image_data, parse,
    path_segment, post_json, status_error, tuned, wants_json,
};
use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub struct Gemini;

const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
const WHAT: &str = "Gemini response";

const ERROR: ErrorShape = ErrorShape { kind: &["/error/status"], message: &["/error/message"] };

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    contents: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<[Value; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<Value>,
}

const NAME: &str = "Gemini";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    /// JSON Schema as the client gave it (`responseSchema` takes only an OpenAPI subset).
    #[serde(skip_serializing_if = "Option::is_none")]
    response_json_schema: Option<&'a Value>,
}

impl WireFormat for Gemini {
    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &ChatRequest,
        _now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError> {
        let path = format!("/v1beta/{}:streamGenerateContent?alt=sse", model_name(&target.model));
        let uri = endpoint(&target.base_url, DEFAULT_BASE_URL, &path)?;
        self.check(req).map_err(ProviderError::Config)?;
        let contents = req.messages.iter().map(content).collect::<Result<_, _>>()?;
        let config = GenerationConfig {
            max_output_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            top_k: req.top_k,
            stop_sequences: &req.stop,
            seed: req.seed,
            response_mime_type: wants_json(req).then_some("application/json"),
            response_json_schema: match &req.response_format {
                Some(ResponseFormat::JsonSchema(s)) => Some(&s.schema),
                _ => None,
            },
        };
        let declarations: Vec<Value> = req.tools.iter().map(declaration).collect();
        let body = Body {
            contents,
            system_instruction: req.system.as_deref().map(|text| json!({"parts": [{"text": text}]})),
            generation_config: tuned(req).then_some(config),
            tools: (!declarations.is_empty()).then(|| [json!({"functionDeclarations": declarations})]),
            tool_config: req.tool_choice.as_ref().map(tool_config),
        };
        let key = credentials.api_key.clone().map(|key| ("x-goog-api-key", key));
        post_json(uri, key, &[], &body)
    }

    fn check(&self, req: &ChatRequest) -> Result<(), String> {
        first_refusal(
            NAME,
            &[(
                req.parallel_tool_calls == Some(false),
                "parallel_tool_calls",
                "Gemini cannot be limited to one tool call",
            )],
        )
    }

    fn inline_images(&self) -> bool {
        true
    }

    fn events(&self, body: BodyStream) -> EventStream {
        sse::events(body, Decoder::default())
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let wait = retry_after(headers).or_else(|| retry_info(body));
        status_error(status, wait, ERROR.of_body(body, None))
    }
}

fn content(m: &ChatMessage) -> Result<Value, ProviderError> {
    let role = match m.role {
        ChatRole::User => "user",
        ChatRole::Assistant => "model",
    };
    let parts = m.pieces().map(part).collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"role": role, "parts": parts}))
}

fn part(piece: Piece<'_>) -> Result<Value, ProviderError> {
    Ok(match piece {
        Piece::Text(t) => json!({"text": t}),
        Piece::Image(i) => {
            let d = image_data(i)?;
            json!({"inlineData": {"mimeType": d.media_type, "data": d.base64}})
        }
        Piece::ToolCall(c) => {
            let mut part = json!({"functionCall": {"name": c.name, "args": c.arguments}});
            if let Some(signature) = thought_signature(&c.id) {
                part["thoughtSignature"] = json!(signature);
            }
            part
        }
        // Gemini wants an object back; the tool's text goes in as `content`.
        Piece::ToolResult(r) => {
            json!({"functionResponse": {"name": r.name, "response": {"content": r.content}}})
        }
    })
}

/// Marks the thought signature in a call's id. Gemini 3 refuses a function call sent back
/// without the signature it came with, and the id is the one field every OpenAI client
/// keeps (streamed or not) and sends back, so the signature travels in it, base64url
/// (letters, digits, `-`, `_`: an id Anthropic and Bedrock accept too).
const SIGNATURE_MARK: &str = "__ts_";

/// `id` carrying `signature`, if there is one.
fn with_signature(id: String, signature: Option<&str>) -> String {
    match signature {
        Some(signature) => format!("{id}{SIGNATURE_MARK}{}", URL_SAFE_NO_PAD.encode(signature)),
        None => id,
    }
}

/// The thought signature a call's id carries, as Gemini sent it.
fn thought_signature(id: &str) -> Option<String> {
    let (_, encoded) = id.split_once(SIGNATURE_MARK)?;
    String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()
}

fn declaration(t: &Tool) -> Value {
    let mut declaration = json!({"name": t.name, "parametersJsonSchema": t.parameters});
    if let Some(d) = &t.description {
        declaration["description"] = json!(d);
    }
    declaration
}

fn tool_config(choice: &ToolChoice) -> Value {
    let config = match choice {
        ToolChoice::None => json!({"mode": "NONE"}),
        ToolChoice::Auto => json!({"mode": "AUTO"}),
        ToolChoice::Required => json!({"mode": "ANY"}),
        ToolChoice::Function(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
    };
    json!({"functionCallingConfig": config})
}

/// The model's resource name, escaped for a URL path: a bare name (`gemini-2.5-flash`)
/// is a model; a resource name (`models/…`, `tunedModels/…`) is used as it is.
pub(super) fn model_name(model: &str) -> String {
    if model.contains('/') {
        model.split('/').map(path_segment).collect::<Vec<_>>().join("/")
    } else {
        format!("models/{}", path_segment(model))
    }
}

/// The wait a `google.rpc.RetryInfo` in the error's details asks for (Gemini's 429s
/// carry one rather than a `Retry-After`), capped like [`retry_after`].
fn retry_info(body: &[u8]) -> Option<std::time::Duration> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let json = json.as_array().and_then(|a| a.first()).unwrap_or(&json);
    let details = json.pointer("/error/details")?.as_array()?;
    let info = details.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")?;
    let secs: f64 = info["retryDelay"].as_str()?.strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| std::time::Duration::from_secs_f64(secs.min(60.0)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    candidates: Vec<Candidate>,
    prompt_feedback: Option<PromptFeedback>,
    usage_metadata: Option<UsageMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    index: u32,
    content: Option<CandidateContent>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<CandidatePart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CandidatePart {
    text: Option<String>,
    function_call: Option<FunctionCall>,
    /// Thinking models' (Gemini 3) signature of their reasoning, to be sent back with the part.
    thought_signature: Option<String>,
    /// A thought summary (when thoughts are asked for), not part of the answer.
    #[serde(default)]
    thought: bool,
}

/// A whole call: Gemini streams no partial arguments.
#[derive(Deserialize)]
struct FunctionCall {
    id: Option<String>,
    name: String,
    #[serde(default)]
    args: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    /// Thinking tokens, billed as output but not in `candidatesTokenCount`.
    #[serde(default)]
    thoughts_token_count: u64,
}

#[derive(Default)]
struct Decoder {
    finish: Option<FinishReason>,
    calls: u32,
}

impl Decoder {
    fn part(&mut self, part: CandidatePart, out: &mut Vec<ProviderEvent>) {
        if part.thought {
            return;
        }
        out.extend(part.text.map(ProviderEvent::Text));
        if let Some(call) = part.function_call {
            let index = self.calls;
            self.calls += 1;
            let args = if call.args.is_null() { json!({}) } else { call.args };
            // Older models give calls no id: one unique within the reply is made up.
            let id = call.id.unwrap_or_else(|| format!("call_{index}"));
            out.push(ProviderEvent::ToolCall(ToolCallDelta {
                index,
                id: Some(with_signature(id, part.thought_signature.as_deref())),
                name: Some(call.name),
                arguments: args.to_string(),
            }));
        }
    }
}

impl Decode<Event> for Decoder {
    fn decode(&mut self, event: Event, out: &mut Vec<ProviderEvent>) -> Result<Flow, ProviderError> {
        let json: Value = parse(WHAT, event.data.as_bytes())?;
        if json.get("error").is_some_and(|e| !e.is_null()) {
            return Err(ProviderError::Upstream(ERROR.of_json(&json).unwrap_or(event.data)));
        }
        let response: Response = convert(WHAT, json)?;
        // A blocked prompt gets no candidates, only the reason.
        if response.prompt_feedback.and_then(|f| f.block_reason).is_some() {
            self.finish = Some(FinishReason::ContentFilter);
        }
        for candidate in response.candidates.into_iter().filter(|c| c.index == 0) {
            let parts = candidate.content.map(|c| c.parts).unwrap_or_default();
            for part in parts {
                self.part(part, out);
            }
            if let Some(reason) = candidate.finish_reason {
                self.finish = Some(finish_reason(&reason));
            }
        }
        if let Some(usage) = response.usage_metadata {
            out.push(ProviderEvent::Usage(Usage {
                input_tokens: usage.prompt_token_count,
                output_tokens: usage.candidates_token_count + usage.thoughts_token_count,
            }));
        }
        Ok(Flow::More)
    }

    fn end(&mut self, out: &mut Vec<ProviderEvent>) -> Result<(), ProviderError> {
        // Gemini ends a reply of calls with STOP.
        let called = self.calls > 0 && self.finish == Some(FinishReason::Stop);
        finish_at_end(if called { Some(FinishReason::ToolCalls) } else { self.finish }, out)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT" => FinishReason::ContentFilter,
        // "STOP", "LANGUAGE", "OTHER", "MALFORMED_FUNCTION_CALL"…
        _ => FinishReason::Stop,
    }
}
