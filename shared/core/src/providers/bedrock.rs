//! Amazon Bedrock ConverseStream (`POST /model/{modelId}/converse-stream`), signed with
//! AWS Signature Version 4 and streamed as `application/vnd.amazon.eventstream` frames.
//! The reply ends with the body, after `messageStop` (the `metadata` event with the
//! usage follows it).

use super::eventstream::{Frame, frames};
use super::wire::{
    Decode, ErrorShape, Flow, drive, endpoint, finish_at_end, parse, path_segment, post_json, status_error,
    tuned,
};
use super::*;
use crate::sigv4::{
    self,
    http_request::{SignableBody, SigningSettings},
};

pub struct Bedrock;

/// The name Bedrock's runtime API is signed for.
const SIGNING_NAME: &str = "bedrock";

const ERROR: ErrorShape = ErrorShape { kind: &["/__type"], message: &["/message", "/Message"] };

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<[Text<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inference_config: Option<InferenceConfig<'a>>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: [Text<'a>; 1],
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InferenceConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
}

impl WireFormat for Bedrock {
    fn request(
        &self,
        target: &Target,
        credentials: &Credentials,
        req: &ChatRequest,
        now: OffsetDateTime,
    ) -> Result<http::Request<Bytes>, ProviderError> {
        let messages = req
            .messages
            .iter()
            .map(|m| Message { role: m.role.as_str(), content: [Text { text: &m.content }] });
        let config = InferenceConfig {
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: &req.stop,
        };
        let body = Body {
            messages: messages.collect(),
            system: req.system.as_deref().map(|text| [Text { text }]),
            inference_config: tuned(req).then_some(config),
        };
        signed_post(target, credentials, "converse-stream", &body, now)
    }

    fn events(&self, body: BodyStream) -> EventStream {
        drive(frames(body), Decoder { finish: None })
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        // `x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/coral/…`
        let kind = headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok());
        let kind = kind.map(|k| k.split(':').next().unwrap_or(k)).filter(|k| !k.is_empty());
        status_error(status, retry_after(headers), ERROR.of_body(body, kind))
    }
}

/// A SigV4-signed POST of `body` as JSON to the target model's `action`
/// (`/model/{modelId}/{action}`).
pub(super) fn signed_post(
    target: &Target,
    credentials: &Credentials,
    action: &str,
    body: &impl Serialize,
    now: OffsetDateTime,
) -> Result<http::Request<Bytes>, ProviderError> {
    let region = target
        .region
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ProviderError::Config("a Bedrock target needs a region".into()))?;
    let aws = credentials.aws.as_ref().ok_or_else(|| {
        ProviderError::Config("a Bedrock target needs AWS credentials (its api_key_secret)".into())
    })?;
    let default_base = format!("https://bedrock-runtime.{region}.amazonaws.com");
    let path = format!("/model/{}/{action}", path_segment(&target.model));
    let uri = endpoint(&target.base_url, &default_base, &path)?;
    let mut request = post_json(uri, None, &[], body)?;
    sign_v4(&mut request, aws, region, now)?;
    Ok(request)
}

/// Adds SigV4's `authorization`, `x-amz-date` (and `x-amz-security-token`) headers.
fn sign_v4(
    request: &mut http::Request<Bytes>,
    aws: &AwsCredentials,
    region: &str,
    now: OffsetDateTime,
) -> Result<(), ProviderError> {
    let scope =
        sigv4::Scope { credentials: aws, region, service: SIGNING_NAME, unix_seconds: now.unix_timestamp() };
    let body = request.body().clone();
    sigv4::sign(request, &scope, SigningSettings::default(), SignableBody::Bytes(&body))
        .map_err(ProviderError::Config)
}

#[derive(Deserialize)]
struct BlockDelta {
    delta: Option<DeltaText>,
}

#[derive(Deserialize)]
struct DeltaText {
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageStop {
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    usage: Option<TokenUsage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    /// Prompt tokens read from or written to the cache, not in `inputTokens`.
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_write_input_tokens: u64,
}

#[derive(Deserialize)]
struct Exception {
    #[serde(alias = "Message")]
    message: Option<String>,
}

struct Decoder {
    finish: Option<FinishReason>,
}

impl Decode<Frame> for Decoder {
    fn decode(&mut self, frame: Frame, out: &mut Vec<ProviderEvent>) -> Result<Flow, ProviderError> {
        match frame.header(":message-type") {
            Some("event") => {}
            Some("exception") => {
                let kind = frame.header(":exception-type").unwrap_or("exception");
                let message =
                    serde_json::from_slice::<Exception>(&frame.payload).ok().and_then(|e| e.message);
                let message = message.unwrap_or_else(|| String::from_utf8_lossy(&frame.payload).into_owned());
                return Err(ProviderError::Upstream(format!("{kind}: {message}")));
            }
            Some("error") => {
                let code = frame.header(":error-code").unwrap_or("error");
                let message = frame.header(":error-message").unwrap_or_default();
                return Err(ProviderError::Upstream(format!("{code}: {message}")));
            }
            other => {
                return Err(ProviderError::Protocol(format!("unknown event-stream message type {other:?}")));
            }
        }
        let payload = &frame.payload[..];
        match frame.header(":event-type") {
            Some("contentBlockDelta") => {
                let delta = parse::<BlockDelta>("Bedrock contentBlockDelta", payload)?.delta;
                out.extend(delta.and_then(|d| d.text).map(ProviderEvent::Text));
            }
            Some("messageStop") => {
                let stop = parse::<MessageStop>("Bedrock messageStop", payload)?;
                self.finish = Some(stop.stop_reason.as_deref().map_or(FinishReason::Stop, finish_reason));
            }
            Some("metadata") => {
                if let Some(u) = parse::<Metadata>("Bedrock metadata", payload)?.usage {
                    out.push(ProviderEvent::Usage(Usage {
                        input_tokens: u.input_tokens + u.cache_read_input_tokens + u.cache_write_input_tokens,
                        output_tokens: u.output_tokens,
                    }));
                }
            }
            // `messageStart`, `contentBlockStart`, `contentBlockStop`, and later additions.
            _ => {}
        }
        Ok(Flow::More)
    }

    fn end(&mut self, out: &mut Vec<ProviderEvent>) -> Result<(), ProviderError> {
        finish_at_end(self.finish, out)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "content_filtered" | "guardrail_intervened" => FinishReason::ContentFilter,
        // "end_turn", "stop_sequence", "tool_use"…
        _ => FinishReason::Stop,
    }
}
