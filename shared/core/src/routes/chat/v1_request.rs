//! The `/v1` chat completion request read into the provider-neutral [`ChatRequest`],
//! checked against the bounds every target shares. What one format cannot honour is
//! that format's [`crate::providers::WireFormat::check`].

use super::v1_wire::{
    CompletionRequest, Content, InputMessage, Part as WirePart, ResponseFormatSpec, Stop, ToolCallSpec,
    ToolChoiceSpec, ToolSpec,
};
use crate::chat::models::ModelRoute;
use crate::chat::quota::DEFAULT_REPLY_TOKENS;
use crate::error::{ApiError, ApiResult};
use crate::providers::{
    ChatMessage, ChatRequest, ChatRole, Image, ImageData, JsonSchema, Part, ResponseFormat, Tool, ToolCall,
    ToolChoice, ToolResult,
};
use base64::Engine;
use serde_json::Value;
use std::collections::HashMap;

/// Most tools a request may define (OpenAI's own limit).
pub const MAX_TOOLS: usize = 128;
/// Most bytes of one JSON schema (a tool's parameters, a response format's schema).
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
pub const MAX_STOP_SEQUENCES: usize = 16;
pub const MAX_STOP_CHARS: usize = 256;
/// Most images in one request.
pub const MAX_IMAGES: usize = 20;
pub const MAX_URL_CHARS: usize = 8192;
const MAX_NAME_CHARS: usize = 64;
/// Most characters of a tool call's id: a Gemini call's carries its thought signature.
const MAX_ID_CHARS: usize = 32 * 1024;
const MAX_DESCRIPTION_CHARS: usize = 4096;

/// Image types every format takes.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Request fields confab does not act on that change nothing about the reply.
const HARMLESS: [&str; 4] = ["user", "metadata", "store", "service_tier"];

pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::InvalidRequest(message.into())
}

/// The provider-neutral request: system and developer messages become the system
/// prompt, tool messages tool results in a user message, the rest the conversation.
pub fn to_request(body: &CompletionRequest, route: &ModelRoute) -> ApiResult<ChatRequest> {
    refuse_unknown(&body.other)?;
    if body.n.is_some_and(|n| n != 1) {
        return Err(invalid("n: only n = 1 is supported (ask again for another choice)"));
    }
    let tools = body.tools.iter().flatten().map(tool).collect::<ApiResult<Vec<_>>>()?;
    check_tools(&tools)?;
    let (system, messages) = conversation(&body.messages)?;
    Ok(ChatRequest {
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        messages,
        max_tokens: Some(reply_limit(body, route)?),
        temperature: bounded("temperature", body.temperature, 2.0)?,
        top_p: bounded("top_p", body.top_p, 1.0)?,
        top_k: None,
        stop: stop_sequences("stop", body.stop.as_ref().map(Stop::sequences).unwrap_or_default())?,
        seed: body.seed,
        tool_choice: body.tool_choice.as_ref().map(|c| tool_choice(c, &tools)).transpose()?,
        tools,
        parallel_tool_calls: body.parallel_tool_calls,
        response_format: body.response_format.as_ref().map(response_format).transpose()?,
    })
}

/// The reply's token limit: the client's, at most what the model may answer (its output
/// limit, else its window), else the model's default. Always a limit: the quota reserves
/// it, so the provider must be held to it.
fn reply_limit(body: &CompletionRequest, route: &ModelRoute) -> ApiResult<u32> {
    match (body.max_completion_tokens, body.max_tokens) {
        (Some(n), _) => bounded_reply("max_completion_tokens", n, route),
        (None, Some(n)) => bounded_reply("max_tokens", n, route),
        (None, None) => Ok(route.max_output_tokens.unwrap_or(DEFAULT_REPLY_TOKENS)),
    }
}

/// A reply limit the client asked for in `field`, within what the model may answer.
pub(super) fn bounded_reply(field: &str, requested: u32, route: &ModelRoute) -> ApiResult<u32> {
    let most = route.max_output_tokens.unwrap_or(route.context_tokens);
    if requested == 0 || requested > most {
        return Err(invalid(format!("{field} must be between 1 and {most} for this model, got {requested}")));
    }
    Ok(requested)
}

/// A neutral value (null, false, 0, empty) asks for nothing; anything else would be
/// silently ignored, so it is refused.
pub(super) fn refuse_unknown(other: &serde_json::Map<String, Value>) -> ApiResult<()> {
    let neutral = |v: &Value| match v {
        Value::Null | Value::Bool(false) => true,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(_) | Value::Bool(true) => false,
    };
    match other.iter().find(|(k, v)| !HARMLESS.contains(&k.as_str()) && !neutral(v)) {
        Some((key, _)) => Err(invalid(format!("{key}: this field is not supported"))),
        None => Ok(()),
    }
}

pub(super) fn bounded(field: &str, value: Option<f32>, max: f32) -> ApiResult<Option<f32>> {
    match value {
        Some(v) if !(0.0..=max).contains(&v) => Err(invalid(format!("{field} must be between 0 and {max}"))),
        v => Ok(v),
    }
}

pub(super) fn stop_sequences(field: &str, sequences: Vec<String>) -> ApiResult<Vec<String>> {
    if sequences.len() > MAX_STOP_SEQUENCES {
        return Err(invalid(format!("{field}: at most {MAX_STOP_SEQUENCES} sequences")));
    }
    if sequences.iter().any(|s| s.is_empty() || s.chars().count() > MAX_STOP_CHARS) {
        return Err(invalid(format!("{field}: each sequence must have 1 to {MAX_STOP_CHARS} characters")));
    }
    Ok(sequences)
}

/// A function or schema name as every format accepts it.
fn check_name(field: &str, name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be 1 to {MAX_NAME_CHARS} letters, digits, '_' or '-', got {name:?}"
        )))
    }
}

/// A JSON schema: an object of bounded size.
fn schema(field: &str, schema: Option<&Value>) -> ApiResult<Value> {
    let schema = schema.cloned().unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
    if !schema.is_object() {
        return Err(invalid(format!("{field} must be a JSON schema object")));
    }
    if serde_json::to_vec(&schema).map_or(true, |b| b.len() > MAX_SCHEMA_BYTES) {
        return Err(invalid(format!("{field} is larger than {MAX_SCHEMA_BYTES} bytes")));
    }
    Ok(schema)
}

fn description(field: &str, text: Option<&String>) -> ApiResult<Option<String>> {
    match text {
        Some(t) if t.chars().count() > MAX_DESCRIPTION_CHARS => {
            Err(invalid(format!("{field} is longer than {MAX_DESCRIPTION_CHARS} characters")))
        }
        t => Ok(t.cloned()),
    }
}

fn tool(spec: &ToolSpec) -> ApiResult<Tool> {
    let ToolSpec::Function { function: f } = spec;
    let fields = ["tools[].function.name", "tools[].function.description", "tools[].function.parameters"];
    let tool = checked_tool(fields, &f.name, f.description.as_ref(), f.parameters.as_ref())?;
    Ok(Tool { strict: f.strict, ..tool })
}

/// A tool within the bounds every format shares; `fields` name its name, description
/// and schema in the request.
pub(super) fn checked_tool(
    fields: [&str; 3],
    name: &str,
    text: Option<&String>,
    parameters: Option<&Value>,
) -> ApiResult<Tool> {
    check_name(fields[0], name)?;
    Ok(Tool {
        name: name.to_owned(),
        description: description(fields[1], text)?,
        parameters: schema(fields[2], parameters)?,
        strict: None,
    })
}

pub(super) fn check_tools(tools: &[Tool]) -> ApiResult<()> {
    if tools.len() > MAX_TOOLS {
        return Err(invalid(format!("tools: at most {MAX_TOOLS} tools")));
    }
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    match names.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(invalid(format!("tools: the name {:?} is used twice", w[0]))),
        None => Ok(()),
    }
}

fn tool_choice(choice: &ToolChoiceSpec, tools: &[Tool]) -> ApiResult<ToolChoice> {
    let choice = match choice {
        ToolChoiceSpec::Function { function } => ToolChoice::Function(function.name.clone()),
        ToolChoiceSpec::Mode(mode) => match mode.as_str() {
            "none" => ToolChoice::None,
            "auto" => ToolChoice::Auto,
            "required" => ToolChoice::Required,
            other => return Err(invalid(format!("tool_choice: unknown mode {other:?}"))),
        },
    };
    check_tool_choice(choice, tools)
}

/// `choice`, if it names one of `tools` (or none is needed).
pub(super) fn check_tool_choice(choice: ToolChoice, tools: &[Tool]) -> ApiResult<ToolChoice> {
    if let ToolChoice::Function(name) = &choice
        && !tools.iter().any(|t| &t.name == name)
    {
        return Err(invalid(format!("tool_choice: no tool is named {name:?}")));
    }
    if tools.is_empty() && choice != ToolChoice::None {
        return Err(invalid("tool_choice: the request defines no tools"));
    }
    Ok(choice)
}

fn response_format(spec: &ResponseFormatSpec) -> ApiResult<ResponseFormat> {
    Ok(match spec {
        ResponseFormatSpec::Text => ResponseFormat::Text,
        ResponseFormatSpec::JsonObject => ResponseFormat::JsonObject,
        ResponseFormatSpec::JsonSchema { json_schema: s } => {
            check_name("response_format.json_schema.name", &s.name)?;
            ResponseFormat::JsonSchema(JsonSchema {
                name: s.name.clone(),
                description: description("response_format.json_schema.description", s.description.as_ref())?,
                schema: schema("response_format.json_schema.schema", s.schema.as_ref())?,
                strict: s.strict,
            })
        }
    })
}

/// The system prompt's pieces and the conversation.
fn conversation(input: &[InputMessage]) -> ApiResult<(Vec<String>, Vec<ChatMessage>)> {
    let mut system = Vec::new();
    let mut messages: Vec<ChatMessage> = Vec::new();
    // Each tool call's name by its id, for the results (Gemini answers by name).
    let mut calls: HashMap<String, String> = HashMap::new();
    let mut images = 0;
    for (i, m) in input.iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].{field}");
        if m.tool_calls.as_ref().is_some_and(|c| !c.is_empty()) && m.role != "assistant" {
            return Err(invalid(format!("{}: only assistant messages make tool calls", at("tool_calls"))));
        }
        let message = match m.role.as_str() {
            "system" | "developer" => {
                system.push(text_only(&at("content"), m.content.as_ref())?);
                continue;
            }
            "user" => user(&at("content"), m.content.as_ref(), &mut images)?,
            "assistant" => {
                let mut message =
                    ChatMessage::text(ChatRole::Assistant, text_only(&at("content"), m.content.as_ref())?);
                for call in m.tool_calls.iter().flatten() {
                    let call = tool_call(&at("tool_calls"), call)?;
                    calls.insert(call.id.clone(), call.name.clone());
                    message.parts.push(Part::ToolCall(call));
                }
                message
            }
            "tool" => {
                let call_id = m.tool_call_id.clone().unwrap_or_default();
                let name = calls.get(&call_id).cloned().ok_or_else(|| {
                    invalid(format!(
                        "{}: no earlier assistant tool call has the id {call_id:?}",
                        at("tool_call_id")
                    ))
                })?;
                let content = text_only(&at("content"), m.content.as_ref())?;
                let result = Part::ToolResult(ToolResult { call_id, name, content });
                ChatMessage { role: ChatRole::User, content: String::new(), parts: vec![result] }
            }
            other => return Err(invalid(format!("{}: unknown role {other:?}", at("role")))),
        };
        push_merging_results(&mut messages, message);
    }
    check_ends_with_user(&messages, "messages must end with a user or tool message")?;
    Ok((system, messages))
}

/// Every format answers the user: the conversation must end with them.
pub(super) fn check_ends_with_user(messages: &[ChatMessage], why: &str) -> ApiResult<()> {
    match messages.last() {
        Some(m) if m.role == ChatRole::User => Ok(()),
        _ => Err(invalid(why)),
    }
}

/// Appends `message`, joining a user message to tool results just before it: Anthropic
/// and Bedrock carry results in a user message, and want roles to alternate.
pub(super) fn push_merging_results(messages: &mut Vec<ChatMessage>, message: ChatMessage) {
    let has_results = |m: &ChatMessage| m.parts.iter().any(|p| matches!(p, Part::ToolResult(_)));
    match messages.last_mut() {
        Some(last) if last.role == ChatRole::User && message.role == ChatRole::User && has_results(last) => {
            if !message.content.is_empty() {
                last.parts.push(Part::Text(message.content));
            }
            last.parts.extend(message.parts);
        }
        _ => messages.push(message),
    }
}

/// The text of a message that may hold only text.
fn text_only(field: &str, content: Option<&Content>) -> ApiResult<String> {
    match content {
        None => Ok(String::new()),
        Some(Content::Text(t)) => Ok(t.clone()),
        Some(Content::Parts(parts)) => parts
            .iter()
            .map(|p| match p {
                WirePart::Text { text } => Ok(text.as_str()),
                WirePart::ImageUrl { .. } => {
                    Err(invalid(format!("{field}: only user messages may hold images")))
                }
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(|texts| texts.concat()),
    }
}

/// A user message: its leading text, then its other parts in order.
fn user(field: &str, content: Option<&Content>, images: &mut usize) -> ApiResult<ChatMessage> {
    let mut message = ChatMessage::text(ChatRole::User, "");
    let parts = match content {
        None => return Ok(message),
        Some(Content::Text(t)) => {
            message.content = t.clone();
            return Ok(message);
        }
        Some(Content::Parts(parts)) => parts,
    };
    for part in parts {
        match part {
            WirePart::Text { text } if message.parts.is_empty() => message.content.push_str(text),
            WirePart::Text { text } => message.parts.push(Part::Text(text.clone())),
            WirePart::ImageUrl { image_url } => {
                count_image(field, images)?;
                message.parts.push(Part::Image(image(field, &image_url.url)?));
            }
        }
    }
    Ok(message)
}

/// Counts one more image of the request, refused past [`MAX_IMAGES`].
pub(super) fn count_image(field: &str, images: &mut usize) -> ApiResult<()> {
    *images += 1;
    if *images > MAX_IMAGES {
        return Err(invalid(format!("{field}: at most {MAX_IMAGES} images per request")));
    }
    Ok(())
}

/// An image from a `data:` URL (its bytes) or an http(s) URL (fetched later, where needed).
pub(super) fn image(field: &str, url: &str) -> ApiResult<Image> {
    if url.len() > MAX_URL_CHARS && !url.starts_with("data:") {
        return Err(invalid(format!("{field}: image URLs may have at most {MAX_URL_CHARS} characters")));
    }
    if let Some(rest) = url.strip_prefix("data:") {
        return Ok(Image { url: None, data: Some(data_url(field, rest)?) });
    }
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return Err(invalid(format!("{field}: an image URL must be https://, http:// or data:")));
    }
    Ok(Image { url: Some(url.to_owned()), data: None })
}

/// `image/png;base64,…` read into its type and checked base64.
fn data_url(field: &str, rest: &str) -> ApiResult<ImageData> {
    let (head, data) = rest
        .split_once(',')
        .ok_or_else(|| invalid(format!("{field}: a data: URL needs a ',' before its data")))?;
    let media_type =
        head.strip_suffix(";base64").ok_or_else(|| invalid(format!("{field}: data: URLs must be base64")))?;
    image_data(field, media_type, data)
}

/// An image's bytes in base64, checked, and its type, which every format must take.
pub(super) fn image_data(field: &str, media_type: &str, base64: &str) -> ApiResult<ImageData> {
    let media_type = media_type.to_ascii_lowercase();
    check_image_type(field, &media_type)?;
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .map_err(|_| invalid(format!("{field}: the image data is not valid base64")))?;
    Ok(ImageData { media_type, base64: base64.to_owned() })
}

pub fn check_image_type(field: &str, media_type: &str) -> ApiResult<()> {
    if IMAGE_TYPES.contains(&media_type) {
        Ok(())
    } else {
        Err(invalid(format!("{field}: images must be one of {}, got {media_type:?}", IMAGE_TYPES.join(", "))))
    }
}

fn tool_call(field: &str, spec: &ToolCallSpec) -> ApiResult<ToolCall> {
    let (id_field, name_field) = (format!("{field}[].id"), format!("{field}[].function.name"));
    let arguments: Value = serde_json::from_str(&spec.function.arguments)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| invalid(format!("{field}[].function.arguments must be a JSON object")))?;
    checked_call([&id_field, &name_field], &spec.id, &spec.function.name, arguments)
}

/// A tool call within the bounds every format shares; `fields` name its id and name.
pub(super) fn checked_call(fields: [&str; 2], id: &str, name: &str, arguments: Value) -> ApiResult<ToolCall> {
    check_name(fields[1], name)?;
    if id.is_empty() || id.len() > MAX_ID_CHARS {
        return Err(invalid(format!("{} must be 1 to {MAX_ID_CHARS} characters", fields[0])));
    }
    Ok(ToolCall { id: id.to_owned(), name: name.to_owned(), arguments })
}

#[cfg(test)]
mod tests;
