//! What every wire format shares: the endpoint URL and the JSON POST that asks for a
//! reply, the loop that turns a reply's decoded units (SSE events, event-stream
//! frames) into [`ProviderEvent`]s, and reading the explanation out of an error body.

use super::{
    ChatRequest, EventStream, FinishReason, Image, ImageData, ProviderError, ProviderEvent, ResponseFormat,
    ToolCallDelta,
};
use crate::ports::MaybeSend;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderValue, StatusCode, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;

/// `base_url` (or `default` when it is empty) followed by `path`, as an absolute URL.
pub(super) fn endpoint(base_url: &str, default: &str, path: &str) -> Result<Uri, ProviderError> {
    let base = match base_url.trim() {
        "" => default,
        base => base,
    };
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let uri: Uri =
        url.parse().map_err(|_| ProviderError::Config(format!("base_url {base:?} is not a URL")))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(uri),
        _ => Err(ProviderError::Config(format!("base_url {base:?} is not an http(s) URL"))),
    }
}

/// Everything but RFC 3986's unreserved characters, as AWS and Google escape a label
/// that goes into a URL path (a Bedrock model ID's `:`, an ARN's `/`).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `value` escaped to be one segment of a URL path.
pub(super) fn path_segment(value: &str) -> String {
    utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

/// A POST of `body` as JSON, carrying the API key (if any) in the `key` header, which is
/// marked sensitive so it never shows in logs.
pub(super) fn post_json(
    uri: Uri,
    key: Option<(&'static str, String)>,
    extra: &[(&'static str, &'static str)],
    body: &impl Serialize,
) -> Result<http::Request<Bytes>, ProviderError> {
    let body =
        serde_json::to_vec(body).map_err(|e| ProviderError::Config(format!("cannot encode request: {e}")))?;
    let mut request = http::Request::post(uri).header(http::header::CONTENT_TYPE, "application/json");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    if let Some((name, value)) = key {
        let mut value = HeaderValue::try_from(value)
            .map_err(|_| ProviderError::Config(format!("the API key cannot go in the {name} header")))?;
        value.set_sensitive(true);
        request = request.header(name, value);
    }
    request.body(Bytes::from(body)).map_err(|e| ProviderError::Config(format!("invalid request: {e}")))
}

/// Whether a decoder has seen the end of the reply.
pub(super) enum Flow {
    More,
    Done,
}

/// Turns one format's decoded units (`T`) into events.
pub(super) trait Decode<T>: MaybeSend + 'static {
    /// Handles the next unit, appending the events it stands for to `out`.
    fn decode(&mut self, unit: T, out: &mut Vec<ProviderEvent>) -> Result<Flow, ProviderError>;

    /// The body ended before [`Decode::decode`] returned [`Flow::Done`]. Formats whose
    /// reply ends with the body itself (after a finish reason) override this.
    fn end(&mut self, _out: &mut Vec<ProviderEvent>) -> Result<(), ProviderError> {
        Err(ended_early())
    }
}

/// The end of a reply whose end is the body's: its finish reason, if one came.
pub(super) fn finish_at_end(
    finish: Option<FinishReason>,
    out: &mut Vec<ProviderEvent>,
) -> Result<(), ProviderError> {
    out.push(ProviderEvent::Finish(finish.ok_or_else(ended_early)?));
    Ok(())
}

/// Whether `req` sets any of the sampling options (which some formats group).
pub(super) fn tuned(req: &ChatRequest) -> bool {
    req.max_tokens.is_some()
        || req.temperature.is_some()
        || req.top_p.is_some()
        || req.top_k.is_some()
        || !req.stop.is_empty()
        || req.seed.is_some()
        || wants_json(req)
}

/// A request field `format` cannot honour, as [`super::WireFormat::check`] says it.
pub(super) fn refuse(format: &str, field: &str, why: &str) -> Result<(), String> {
    Err(format!("{field} is not supported by {format} targets: {why}"))
}

/// The first of `checks` (a refusal's condition, field and reason) that holds.
pub(super) fn first_refusal(format: &str, checks: &[(bool, &str, &str)]) -> Result<(), String> {
    match checks.iter().find(|(refused, ..)| *refused) {
        Some((_, field, why)) => refuse(format, field, why),
        None => Ok(()),
    }
}

/// Whether `req` asks for a JSON reply.
pub(super) fn wants_json(req: &ChatRequest) -> bool {
    matches!(req.response_format, Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema(_)))
}

/// Numbers tool calls in the order they start, for formats that number a reply's
/// blocks (text and tool calls) together.
#[derive(Default)]
pub(super) struct ToolIndexes {
    /// Each call's block index, in call order.
    blocks: Vec<u64>,
    /// Whether each call's arguments have begun.
    fed: Vec<bool>,
}

impl ToolIndexes {
    /// The next call's index, its block being `block`.
    pub fn start(&mut self, block: u64) -> u32 {
        self.blocks.push(block);
        self.fed.push(false);
        (self.blocks.len() - 1) as u32
    }

    /// The call whose block is `block`, if it is one.
    pub fn of(&self, block: u64) -> Option<u32> {
        self.blocks.iter().rposition(|b| *b == block).map(|i| i as u32)
    }

    /// The piece of arguments `piece` of the call whose block is `block`, if it is one.
    pub fn feed(&mut self, block: u64, piece: String) -> Option<ToolCallDelta> {
        let index = self.of(block)?;
        self.fed[index as usize] |= !piece.is_empty();
        Some(ToolCallDelta { index, arguments: piece, ..ToolCallDelta::default() })
    }

    /// What ends the call whose block is `block`: `{}` when no arguments came. Anthropic
    /// (and Claude on Bedrock) send none for a tool without parameters, and OpenAI's
    /// clients parse the arguments as JSON.
    pub fn end(&self, block: u64) -> Option<ToolCallDelta> {
        let index = self.of(block).filter(|i| !self.fed[*i as usize])?;
        Some(ToolCallDelta { index, arguments: "{}".into(), ..ToolCallDelta::default() })
    }
}

/// An image's bytes, which formats without URLs need: fetched before the request is built.
pub(super) fn image_data(image: &Image) -> Result<&ImageData, ProviderError> {
    image.data.as_ref().ok_or_else(|| ProviderError::Config("an image URL was not fetched".into()))
}

/// The error for a reply cut off before the format's proper end.
pub(super) fn ended_early() -> ProviderError {
    ProviderError::Transport("stream ended early".into())
}

/// The events `decoder` makes of `units`. The stream ends after the reply's end, or
/// after the first error; empty text (and empty tool-call pieces) is dropped.
pub(super) fn drive<T, I, D>(units: I, decoder: D) -> EventStream
where
    T: MaybeSend + 'static,
    I: Stream<Item = Result<T, ProviderError>> + MaybeSend + 'static,
    D: Decode<T>,
{
    struct State<I, D> {
        units: std::pin::Pin<Box<I>>,
        decoder: D,
        queue: VecDeque<Result<ProviderEvent, ProviderError>>,
        ended: bool,
    }
    let state = State { units: Box::pin(units), decoder, queue: VecDeque::new(), ended: false };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(item) = s.queue.pop_front() {
                return Some((item, s));
            }
            if s.ended {
                return None;
            }
            let mut out = Vec::new();
            let step = match s.units.next().await {
                Some(Ok(unit)) => s.decoder.decode(unit, &mut out).map(|flow| matches!(flow, Flow::Done)),
                Some(Err(e)) => Err(e),
                None => s.decoder.end(&mut out).map(|()| true),
            };
            let nonempty = |e: &ProviderEvent| match e {
                ProviderEvent::Text(t) => !t.is_empty(),
                ProviderEvent::ToolCall(c) => c.id.is_some() || c.name.is_some() || !c.arguments.is_empty(),
                _ => true,
            };
            s.queue.extend(out.into_iter().filter(nonempty).map(Ok));
            match step {
                Ok(done) => s.ended = done,
                Err(e) => {
                    s.queue.push_back(Err(e));
                    s.ended = true;
                }
            }
        }
    }))
}

/// `data` read as JSON of type `T`; `what` names it in the error.
pub(super) fn parse<T: DeserializeOwned>(what: &str, data: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(data).map_err(|e| ProviderError::Protocol(format!("bad {what}: {e}")))
}

/// `json` read as type `T`; `what` names it in the error.
pub(super) fn convert<T: DeserializeOwned>(what: &str, json: Value) -> Result<T, ProviderError> {
    serde_json::from_value(json).map_err(|e| ProviderError::Protocol(format!("bad {what}: {e}")))
}

/// Where a format's error JSON keeps its explanation, as JSON pointers tried in order.
pub(super) struct ErrorShape {
    /// The error's kind (`rate_limit_exceeded`, `overloaded_error`, `RESOURCE_EXHAUSTED`…).
    pub kind: &'static [&'static str],
    pub message: &'static [&'static str],
}

/// Most characters of a non-JSON error body quoted in an error.
const MAX_QUOTED: usize = 500;

impl ErrorShape {
    /// `kind: message` from an error object, or `None` when it has no message.
    pub fn of_json(&self, value: &Value) -> Option<String> {
        let message = first_string(value, self.message)?;
        Some(labelled(first_string(value, self.kind), message))
    }

    /// The explanation of an error response body: from its JSON (an object, or an array
    /// whose first element is one), else the body's own text. `kind` (from a header)
    /// takes precedence over a kind in the body.
    pub fn of_body(&self, body: &[u8], kind: Option<&str>) -> String {
        if let Ok(json) = serde_json::from_slice::<Value>(body) {
            let object = json.as_array().and_then(|a| a.first()).unwrap_or(&json);
            if let Some(message) = first_string(object, self.message) {
                return labelled(kind.or_else(|| first_string(object, self.kind)), message);
            }
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let quoted = match text.char_indices().nth(MAX_QUOTED) {
            Some((end, _)) => format!("{}…", &text[..end]),
            None => text.to_owned(),
        };
        labelled(kind, &quoted)
    }
}

fn first_string<'a>(value: &'a Value, pointers: &[&str]) -> Option<&'a str> {
    pointers.iter().find_map(|p| value.pointer(p)?.as_str().filter(|s| !s.is_empty()))
}

fn labelled(kind: Option<&str>, message: &str) -> String {
    match kind {
        Some(kind) if !message.is_empty() => format!("{kind}: {message}"),
        Some(kind) => kind.to_owned(),
        None => message.to_owned(),
    }
}

/// The error for an unsuccessful response; an empty explanation becomes the status's
/// reason phrase.
pub(super) fn status_error(
    status: StatusCode,
    retry_after: Option<Duration>,
    message: String,
) -> ProviderError {
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("no explanation").to_owned()
    } else {
        message
    };
    ProviderError::Status { status: status.as_u16(), retry_after, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: ErrorShape = ErrorShape { kind: &["/error/type"], message: &["/error/message", "/error"] };

    #[test]
    fn endpoints_join_and_validate() {
        let uri = endpoint("https://api.example.com/v1/", "https://default", "/chat").unwrap();
        assert_eq!(uri.to_string(), "https://api.example.com/v1/chat");
        assert_eq!(
            endpoint("", "https://default.example", "/x").unwrap().to_string(),
            "https://default.example/x"
        );
        assert!(matches!(endpoint("api.example.com", "", "/x"), Err(ProviderError::Config(_))));
        assert!(matches!(endpoint("ftp://example.com", "", "/x"), Err(ProviderError::Config(_))));
        assert!(matches!(endpoint("not a url", "", "/x"), Err(ProviderError::Config(_))));
    }

    #[test]
    fn path_segments_escape_all_but_unreserved() {
        assert_eq!(
            path_segment("anthropic.claude-3-haiku-20240307-v1:0"),
            "anthropic.claude-3-haiku-20240307-v1%3A0"
        );
        assert_eq!(path_segment("arn:aws:bedrock:x/y z~_"), "arn%3Aaws%3Abedrock%3Ax%2Fy%20z~_");
    }

    #[test]
    fn error_bodies_are_explained() {
        let body = br#"{"error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(SHAPE.of_body(body, None), "overloaded_error: Overloaded");
        assert_eq!(SHAPE.of_body(body, Some("Header")), "Header: Overloaded");
        assert_eq!(SHAPE.of_body(br#"[{"error":{"message":"in an array"}}]"#, None), "in an array");
        assert_eq!(SHAPE.of_body(br#"{"error":"model not found"}"#, None), "model not found");
        assert_eq!(SHAPE.of_body(b"  <html>Bad Gateway</html>\n", None), "<html>Bad Gateway</html>");
        assert_eq!(SHAPE.of_body(b"", Some("ThrottlingException")), "ThrottlingException");
        let long = "é".repeat(MAX_QUOTED + 10);
        assert_eq!(SHAPE.of_body(long.as_bytes(), None).chars().count(), MAX_QUOTED + 1);
        let e = status_error(StatusCode::BAD_GATEWAY, None, String::new());
        assert_eq!(
            e,
            ProviderError::Status { status: 502, retry_after: None, message: "Bad Gateway".into() }
        );
    }

    struct Count(u32);
    impl Decode<u32> for Count {
        fn decode(&mut self, unit: u32, out: &mut Vec<ProviderEvent>) -> Result<Flow, ProviderError> {
            self.0 += 1;
            out.push(ProviderEvent::Text(if unit == 0 { String::new() } else { unit.to_string() }));
            match unit {
                9 => Ok(Flow::Done),
                7 => Err(ProviderError::Upstream("seven".into())),
                _ => Ok(Flow::More),
            }
        }
    }

    fn run(units: Vec<Result<u32, ProviderError>>) -> Vec<Result<ProviderEvent, ProviderError>> {
        futures::executor::block_on(drive(futures::stream::iter(units), Count(0)).collect())
    }

    #[test]
    fn drive_stops_at_done_error_or_early_end() {
        let text = |s: &str| Ok(ProviderEvent::Text(s.into()));
        assert_eq!(run(vec![Ok(1), Ok(0), Ok(9), Ok(2)]), [text("1"), text("9")]);
        assert_eq!(
            run(vec![Ok(1), Ok(7), Ok(2)]),
            [text("1"), text("7"), Err(ProviderError::Upstream("seven".into()))]
        );
        assert_eq!(run(vec![Ok(1)]), [text("1"), Err(ended_early())]);
        let cut = ProviderError::Transport("reset".into());
        assert_eq!(run(vec![Ok(1), Err(cut.clone()), Ok(9)]), [text("1"), Err(cut)]);
    }
}
