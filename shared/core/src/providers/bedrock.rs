//! Amazon Bedrock ConverseStream (`POST /model/{modelId}/converse-stream`), signed with
//! AWS Signature Version 4 and streamed as `application/vnd.amazon.eventstream` frames.
//! The reply ends with the body, after `messageStop` (the `metadata` event with the
//! usage follows it).

use super::eventstream::{Frame, frames};
use super::wire::{
    Decode, ErrorShape, Flow, ToolIndexes, drive, endpoint, finish_at_end, first_refusal, image_data, parse,
    path_segment, post_json, status_error, tuned, wants_json,
};
use super::*;
use crate::sigv4::{
    self,
    http_request::{SignableBody, SigningSettings},
};
use serde_json::{Value, json};

pub struct Bedrock;

/// The name Bedrock's runtime API is signed for.
const SIGNING_NAME: &str = "bedrock";

const ERROR: ErrorShape = ErrorShape { kind: &["/__type"], message: &["/message", "/Message"] };

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    messages: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<[Text<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inference_config: Option<InferenceConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<Value>,
}

const NAME: &str = "Bedrock";

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
        self.check(req).map_err(ProviderError::Config)?;
        let messages = req.messages.iter().map(message).collect::<Result<_, _>>()?;
        let config = InferenceConfig {
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: &req.stop,
        };
        let body = Body {
            messages,
            system: req.system.as_deref().map(|text| [Text { text }]),
            inference_config: tuned(req).then_some(config),
            tool_config: tool_config(req),
        };
        signed_post(target, credentials, "converse-stream", &body, now)
    }

    fn check(&self, req: &ChatRequest) -> Result<(), String> {
        let history_tools = req
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .any(|p| matches!(p, Part::ToolCall(_) | Part::ToolResult(_)));
        first_refusal(
            NAME,
            &[
                (req.seed.is_some(), "seed", "Converse has no seed"),
                (req.top_k.is_some(), "top_k", "Converse has no top_k"),
                (wants_json(req), "response_format", "Converse has no JSON mode; use a tool"),
                (
                    req.tool_choice == Some(ToolChoice::None),
                    "tool_choice",
                    "Converse cannot forbid tool calls; leave out the tools",
                ),
                (
                    req.parallel_tool_calls == Some(false),
                    "parallel_tool_calls",
                    "Converse cannot be limited to one tool call",
                ),
                (
                    history_tools && req.tools.is_empty(),
                    "tools",
                    "Converse needs the tools defined when the messages hold tool calls",
                ),
            ],
        )
    }

    fn inline_images(&self) -> bool {
        true
    }

    fn events(&self, body: BodyStream) -> EventStream {
        drive(frames(body), Decoder::default())
    }

    fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        // `x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/coral/…`
        let kind = headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok());
        let kind = kind.map(|k| k.split(':').next().unwrap_or(k)).filter(|k| !k.is_empty());
        status_error(status, retry_after(headers), ERROR.of_body(body, kind))
    }
}

fn message(m: &ChatMessage) -> Result<Value, ProviderError> {
    let content = m.pieces().map(block).collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"role": m.role.as_str(), "content": content}))
}

fn block(piece: Piece<'_>) -> Result<Value, ProviderError> {
    Ok(match piece {
        Piece::Text(t) => json!({"text": t}),
        Piece::Image(i) => {
            let d = image_data(i)?;
            let format = d.media_type.strip_prefix("image/").unwrap_or(&d.media_type);
            json!({"image": {"format": format, "source": {"bytes": d.base64}}})
        }
        Piece::ToolCall(c) => json!({"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.arguments}}),
        Piece::ToolResult(r) => {
            json!({"toolResult": {"toolUseId": r.call_id, "content": [{"text": r.content}]}})
        }
    })
}

fn tool_config(req: &ChatRequest) -> Option<Value> {
    if req.tools.is_empty() {
        return None;
    }
    let tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            let mut spec = json!({"name": t.name, "inputSchema": {"json": t.parameters}});
            if let Some(d) = &t.description {
                spec["description"] = json!(d);
            }
            json!({"toolSpec": spec})
        })
        .collect();
    let mut config = json!({"tools": tools});
    let choice = match &req.tool_choice {
        Some(ToolChoice::Auto) => Some(json!({"auto": {}})),
        Some(ToolChoice::Required) => Some(json!({"any": {}})),
        Some(ToolChoice::Function(name)) => Some(json!({"tool": {"name": name}})),
        Some(ToolChoice::None) | None => None,
    };
    if let Some(choice) = choice {
        config["toolChoice"] = choice;
    }
    Some(config)
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
#[serde(rename_all = "camelCase")]
struct BlockStart {
    #[serde(default)]
    content_block_index: u64,
    start: Option<Start>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Start {
    tool_use: Option<ToolUseStart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUseStart {
    tool_use_id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta {
    #[serde(default)]
    content_block_index: u64,
    delta: Option<DeltaText>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStop {
    #[serde(default)]
    content_block_index: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaText {
    text: Option<String>,
    tool_use: Option<ToolUseDelta>,
}

/// A piece of a tool call's arguments (JSON text).
#[derive(Deserialize)]
struct ToolUseDelta {
    #[serde(default)]
    input: String,
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

#[derive(Default)]
struct Decoder {
    finish: Option<FinishReason>,
    tools: ToolIndexes,
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
            Some("contentBlockStart") => {
                let start = parse::<BlockStart>("Bedrock contentBlockStart", payload)?;
                if let Some(tool) = start.start.and_then(|s| s.tool_use) {
                    out.push(ProviderEvent::ToolCall(ToolCallDelta {
                        index: self.tools.start(start.content_block_index),
                        id: Some(tool.tool_use_id),
                        name: Some(tool.name),
                        arguments: String::new(),
                    }));
                }
            }
            Some("contentBlockDelta") => {
                let BlockDelta { content_block_index, delta } =
                    parse::<BlockDelta>("Bedrock contentBlockDelta", payload)?;
                let Some(delta) = delta else { return Ok(Flow::More) };
                out.extend(delta.text.map(ProviderEvent::Text));
                let piece = delta.tool_use.and_then(|tool| self.tools.feed(content_block_index, tool.input));
                out.extend(piece.map(ProviderEvent::ToolCall));
            }
            Some("contentBlockStop") => {
                let stop = parse::<BlockStop>("Bedrock contentBlockStop", payload)?;
                out.extend(self.tools.end(stop.content_block_index).map(ProviderEvent::ToolCall));
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
            // `messageStart`, and later additions.
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
        "tool_use" => FinishReason::ToolCalls,
        // "end_turn", "stop_sequence"…
        _ => FinishReason::Stop,
    }
}
