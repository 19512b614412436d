//! Google Gemini (`POST /v1beta/models/{model}:streamGenerateContent?alt=sse`). Each SSE
//! event is a whole `GenerateContentResponse`; the reply ends with the body, after a
//! candidate's `finishReason`.

use super::sse::{self, Event};
use super::wire::{
    Decode, ErrorShape, Flow, convert, endpoint, finish_at_end, parse, path_segment, post_json, status_error,
    tuned,
};
use super::*;
use serde_json::Value;

pub struct Gemini;

const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
const WHAT: &str = "Gemini response";

const ERROR: ErrorShape = ErrorShape { kind: &["/error/status"], message: &["/error/message"] };

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig<'a>>,
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: [Part<'a>; 1],
}

#[derive(Serialize)]
struct Part<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
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
        let contents = req.messages.iter().map(|m| Content {
            role: Some(match m.role {
                ChatRole::User => "user",
                ChatRole::Assistant => "model",
            }),
            parts: [Part { text: &m.content }],
        });
        let config = GenerationConfig {
            max_output_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: &req.stop,
        };
        let body = Body {
            contents: contents.collect(),
            system_instruction: req
                .system
                .as_deref()
                .map(|text| Content { role: None, parts: [Part { text }] }),
            generation_config: tuned(req).then_some(config),
        };
        let key = credentials.api_key.clone().map(|key| ("x-goog-api-key", key));
        post_json(uri, key, &[], &body)
    }

    fn events(&self, body: BodyStream) -> EventStream {
        sse::events(body, Decoder { finish: None })
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let wait = retry_after(headers).or_else(|| retry_info(body));
        status_error(status, wait, ERROR.of_body(body, None))
    }
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
struct CandidatePart {
    text: Option<String>,
    /// A thought summary (when thoughts are asked for), not part of the answer.
    #[serde(default)]
    thought: bool,
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

struct Decoder {
    finish: Option<FinishReason>,
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
            out.extend(
                parts.into_iter().filter(|p| !p.thought).filter_map(|p| p.text).map(ProviderEvent::Text),
            );
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
        finish_at_end(self.finish, out)
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
