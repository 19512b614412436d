//! Helpers shared by the integration tests: a server, a client, and independent decoders of the
//! providers' stream formats.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use confab_mock_provider::{MockHandle, MockProvider};
use eventsource_stream::{Event, Eventsource};
use futures_util::StreamExt;
use serde_json::Value;

pub const ACCESS_KEY_ID: &str = "AKIDMOCKTEST0001";
pub const SECRET: &str = "mock/secret+access+key";

/// A mock with no latency that verifies Bedrock signatures with the test credentials.
pub async fn spawn() -> MockHandle {
    MockProvider::builder().bedrock_credentials(ACCESS_KEY_ID, SECRET).spawn("127.0.0.1:0").await.unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

/// POSTs JSON to an OpenAI-compatible endpoint.
pub async fn openai(mock: &MockHandle, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/chat/completions", mock.base_url()))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// POSTs JSON to the Anthropic Messages endpoint.
pub async fn anthropic(mock: &MockHandle, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", mock.base_url()))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// POSTs JSON to a Gemini endpoint, `method` being e.g. `generateContent` or
/// `streamGenerateContent?alt=sse`.
pub async fn gemini(mock: &MockHandle, model: &str, method: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1beta/models/{model}:{method}", mock.base_url()))
        .header("x-goog-api-key", "gemini-test-key")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// POSTs a Bedrock Converse request signed with the test credentials.
pub async fn bedrock(mock: &MockHandle, model: &str, operation: &str, body: Value) -> reqwest::Response {
    bedrock_signed(mock, model, operation, &body.to_string(), ACCESS_KEY_ID, SECRET).await
}

/// POSTs `body` to `/model/{model}/{operation}`, the model id percent-encoded as the AWS SDKs do,
/// signed with the given credentials.
pub async fn bedrock_signed(
    mock: &MockHandle,
    model: &str,
    operation: &str,
    body: &str,
    access_key_id: &str,
    secret: &str,
) -> reqwest::Response {
    let url = bedrock_url(mock, model, operation);
    let mut request = client().post(&url).header("content-type", "application/json").body(body.to_owned());
    for (name, value) in sigv4_headers(&url, body.as_bytes(), access_key_id, secret) {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

pub fn bedrock_url(mock: &MockHandle, model: &str, operation: &str) -> String {
    let model = model.replace(':', "%3A");
    format!("{}/model/{model}/{operation}", mock.base_url())
}

/// The headers `aws-sigv4` adds to sign a JSON POST to `url` for service `bedrock`.
pub fn sigv4_headers(url: &str, body: &[u8], access_key_id: &str, secret: &str) -> Vec<(String, String)> {
    let identity = Credentials::new(access_key_id, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("bedrock")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [("content-type", "application/json")];
    let signable = SignableRequest::new("POST", url, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();
    instructions.headers().map(|(name, value)| (name.to_owned(), value.to_owned())).collect()
}

/// Reads a whole server-sent event stream.
pub async fn sse_events(response: reqwest::Response) -> Vec<Event> {
    response.bytes_stream().eventsource().map(|event| event.expect("a well-formed event")).collect().await
}

/// The `data` of each event, parsed as JSON.
pub fn event_json(events: &[Event]) -> Vec<Value> {
    events.iter().map(|event| serde_json::from_str(&event.data).expect("JSON data")).collect()
}

/// Reads a body until it ends or fails: the bytes received and whether it failed.
pub async fn read_body(response: reqwest::Response) -> (Vec<u8>, bool) {
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => return (received, true),
        }
    }
    (received, false)
}

/// Reads a body until `wanted` appears in it, then waits `quiet` more: the bytes received and
/// whether anything at all arrived during the quiet time.
pub async fn read_then_listen(response: reqwest::Response, wanted: &str, quiet: Duration) -> (Vec<u8>, bool) {
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains(wanted) {
        let bytes: Bytes = stream.next().await.expect("more body").expect("no body error");
        received.extend_from_slice(&bytes);
    }
    let more = tokio::time::timeout(quiet, stream.next()).await.is_ok();
    (received, more)
}

/// One decoded AWS event stream message.
#[derive(Debug)]
pub struct Frame {
    pub headers: BTreeMap<String, String>,
    pub payload: Value,
}

impl Frame {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// Decodes AWS event stream messages, checking lengths and both CRCs of each; panics on any
/// malformed message. Returns the messages and the count of trailing bytes that were not a
/// whole message.
pub fn decode_frames(mut buffer: &[u8]) -> (Vec<Frame>, usize) {
    let mut frames = Vec::new();
    while buffer.len() >= 12 {
        let total = read_u32(&buffer[0..4]) as usize;
        if buffer.len() < total {
            break;
        }
        let headers_len = read_u32(&buffer[4..8]) as usize;
        assert_eq!(read_u32(&buffer[8..12]), crc32fast::hash(&buffer[..8]), "prelude CRC");
        assert_eq!(read_u32(&buffer[total - 4..total]), crc32fast::hash(&buffer[..total - 4]), "message CRC");
        let headers = decode_headers(&buffer[12..12 + headers_len]);
        let payload = serde_json::from_slice(&buffer[12 + headers_len..total - 4]).expect("JSON payload");
        frames.push(Frame { headers, payload });
        buffer = &buffer[total..];
    }
    (frames, buffer.len())
}

fn decode_headers(mut bytes: &[u8]) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::new();
    while !bytes.is_empty() {
        let name_len = bytes[0] as usize;
        let name = String::from_utf8(bytes[1..1 + name_len].to_vec()).unwrap();
        bytes = &bytes[1 + name_len..];
        assert_eq!(bytes[0], 7, "string header");
        let value_len = u16::from_be_bytes([bytes[1], bytes[2]]) as usize;
        let value = String::from_utf8(bytes[3..3 + value_len].to_vec()).unwrap();
        bytes = &bytes[3 + value_len..];
        headers.insert(name, value);
    }
    headers
}

fn read_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes.try_into().unwrap())
}
