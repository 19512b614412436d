//! The log of requests the providers received, for tests to assert what the gateway sent.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dialect::RawRequest;

/// Which wire format a request spoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI-compatible chat completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini.
    Gemini,
    /// Amazon Bedrock Runtime Converse.
    Bedrock,
}

/// One request as the mock received it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Arrival order across the whole server, from 1.
    pub seq: u64,
    /// Arrival time, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The wire format of the endpoint.
    pub provider: Provider,
    /// The model, from the path (Gemini, Bedrock) or the body's `model` field.
    pub model: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// Path and query as received, with the value of a `key` query parameter redacted.
    pub path: String,
    /// Headers, names lowercased, repeated ones joined with `, `; secret-bearing ones
    /// (`authorization`, `x-api-key`, `x-goog-api-key`, `x-amz-security-token`, ...) read
    /// `<redacted>`.
    pub headers: BTreeMap<String, String>,
    /// The credential presented, in clear for assertions: the API key (OpenAI bearer token,
    /// Anthropic `x-api-key`, Gemini `x-goog-api-key` or `key`), or the Bedrock access key id.
    pub api_key: Option<String>,
    /// The body as JSON; a body that is not JSON is kept as a JSON string, an empty one as null.
    pub body: Value,
    /// The trace id of the W3C `traceparent` header received (`00-<trace id>-<parent>-<flags>`),
    /// so tests can follow a request from the client to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// What a chat request asked of the model, read the same way from every format; absent
    /// for other requests and for chat requests the format could not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<Seen>,
}

/// The tools, images, tool traffic and sampling options of a chat request, in the same terms
/// whatever its wire format, so tests can assert what reached the provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    /// The tools the model may call, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<SeenTool>,
    /// The tool calls of the conversation's assistant messages, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<SeenCall>,
    /// The tool results sent back, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_results: Vec<SeenResult>,
    /// The images of the conversation, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<SeenImage>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// The JSON schema the reply must follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<Value>,
}

/// A tool definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeenTool {
    /// The function's name.
    pub name: String,
    /// What the function does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON schema of its arguments.
    #[serde(default)]
    pub parameters: Value,
}

/// A tool call an assistant message made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeenCall {
    /// The call's id (Gemini's calls may have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The called function.
    pub name: String,
    /// The arguments, as a JSON value (OpenAI's JSON text parsed).
    #[serde(default)]
    pub arguments: Value,
    /// Gemini's `thoughtSignature` on the call's part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
}

/// A tool result sent back to the model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeenResult {
    /// The id of the call it answers (Gemini answers by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The function's name, where the format carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The result: its text, or its JSON as text.
    pub content: String,
}

/// An image in a message: by URL, or its bytes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeenImage {
    /// The image's URL, when it came by URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `image/png` and the like, when the format says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The bytes in base64, when they came inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

const REDACTED: &str = "<redacted>";
const SECRET_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "x-amz-security-token",
    "cookie",
];

/// The most recent requests, oldest first, bounded so a long benchmark cannot exhaust memory.
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<RecordedRequest>>,
    capacity: usize,
    seq: AtomicU64,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        Self { entries: Mutex::default(), capacity, seq: AtomicU64::new(0) }
    }

    pub fn record(
        &self,
        provider: Provider,
        request: &RawRequest,
        model: Option<String>,
        api_key: Option<String>,
        chat: Option<Seen>,
    ) {
        let headers = redacted_headers(request);
        let entry = RecordedRequest {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            unix_ms: unix_millis(),
            provider,
            model,
            method: request.method.to_string(),
            path: redacted_path(request),
            trace_id: headers.get("traceparent").map(String::as_str).and_then(trace_id),
            headers,
            api_key,
            body: body_json(&request.body),
            chat,
        };
        let mut entries = self.lock();
        if self.capacity == 0 {
            return;
        }
        while entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The recorded requests, oldest first, for one model or all of them.
    pub fn list(&self, model: Option<&str>) -> Vec<RecordedRequest> {
        self.lock().iter().filter(|entry| matches(entry, model)).cloned().collect()
    }

    /// Forgets the requests of one model, or all of them.
    pub fn clear(&self, model: Option<&str>) {
        self.lock().retain(|entry| !matches(entry, model));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RecordedRequest>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The trace id field of a `traceparent` value, when it has the W3C shape.
fn trace_id(traceparent: &str) -> Option<String> {
    let id = traceparent.trim().split('-').nth(1)?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
}

fn matches(entry: &RecordedRequest, model: Option<&str>) -> bool {
    model.is_none_or(|model| entry.model.as_deref() == Some(model))
}

fn redacted_headers(request: &RawRequest) -> BTreeMap<String, String> {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &request.headers {
        let value = match SECRET_HEADERS.contains(&name.as_str()) {
            true => REDACTED.to_owned(),
            false => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        };
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    headers
}

fn redacted_path(request: &RawRequest) -> String {
    let path = request.uri.path();
    let Some(query) = request.uri.query() else {
        return path.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("key", _)) => format!("key={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

fn body_json(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn unix_millis() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.as_millis().try_into().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::trace_id;

    #[test]
    fn the_trace_id_is_read_from_a_w3c_traceparent() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(trace_id(traceparent).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        for bad in
            ["", "garbage", "00-4bf92f35-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e473z-0-01"]
        {
            assert_eq!(trace_id(bad), None, "{bad}");
        }
    }
}
