//! Amazon Bedrock Converse (`converse-stream`, AWS event-stream frames, SigV4).

use crate::common::*;
use confab_core::providers::AwsCredentials;
use confab_core::providers::bedrock::Bedrock;
use hmac::Mac;
use sha2::{Digest, Sha256};

/// The reply in `bedrock/stream.json`. Cut between messageStop and metadata, the reply
/// is whole but for its usage.
fn replies() -> Vec<Reply> {
    let (bytes, ends) = frames("bedrock/stream.json");
    let events = vec![text("Bonjour"), text(" à tous 👋"), usage(19, 6), finish(FinishReason::Stop)];
    let (tool_bytes, tool_ends) = frames("bedrock/tools.json");
    let tools = vec![
        text("Checking."),
        call(0, Some("tooluse_1"), Some("get_weather"), ""),
        call(0, None, None, "{\"city\":"),
        call(0, None, None, "\"Paris\"}"),
        call(1, Some("tooluse_2"), Some("get_time"), ""),
        call(1, None, None, "{\"zone\": \"Europe/"),
        call(1, None, None, "Paris\"}"),
        usage(80, 30),
        finish(FinishReason::ToolCalls),
    ];
    vec![
        Reply { complete_at: vec![ends[4]], ..Reply::new(bytes, events) },
        Reply { complete_at: vec![tool_ends[11]], ..Reply::new(tool_bytes, tools) },
    ]
}

wire_format_tests! {
    format: Bedrock,
    kind: ProviderKind::Bedrock,
    credentials: aws(None),
    replies: replies(),
}

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";

fn aws(session_token: Option<&str>) -> Credentials {
    Credentials {
        aws: Some(AwsCredentials {
            access_key_id: AKID.into(),
            secret_access_key: SECRET.into(),
            session_token: session_token.map(Into::into),
        }),
        ..Default::default()
    }
}

fn target_at(base_url: &str) -> Target {
    Target { region: Some("us-east-1".into()), ..target(ProviderKind::Bedrock, base_url, MODEL) }
}

/// One event-stream message, encoded here independently of the crate under test.
fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7); // string
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = (12 + h.len() + payload.len() + 4) as u32;
    let mut m = Vec::new();
    m.extend_from_slice(&total.to_be_bytes());
    m.extend_from_slice(&(h.len() as u32).to_be_bytes());
    m.extend_from_slice(&crc32(&m).to_be_bytes());
    m.extend_from_slice(&h);
    m.extend_from_slice(payload);
    m.extend_from_slice(&crc32(&m).to_be_bytes());
    m
}

/// CRC-32 (IEEE), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The frames a fixture describes, and where each ends.
fn frames(path: &str) -> (Vec<u8>, Vec<usize>) {
    frames_of(&fixture_json(path))
}

/// The frames `items` describe (`{"event" or "exception", "payload"}`), and where each ends.
fn frames_of(items: &Value) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for item in items.as_array().unwrap() {
        let payload = serde_json::to_vec(&item["payload"]).unwrap();
        let headers = match (item["event"].as_str(), item["exception"].as_str()) {
            (Some(event), _) => {
                [(":event-type", event), (":content-type", "application/json"), (":message-type", "event")]
            }
            (_, Some(exception)) => [
                (":exception-type", exception),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            _ => panic!("bad fixture item {item}"),
        };
        bytes.extend(frame(&headers, &payload));
        ends.push(bytes.len());
    }
    (bytes, ends)
}

#[test]
fn request() {
    let request = Bedrock.request(&target_at(""), &aws(None), &full_request(), NOW).unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(
        request.uri(),
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    );
    assert_eq!(body_json(&request), fixture_json("bedrock/request.json"));
    let names: Vec<_> = request.headers().keys().map(|n| n.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in ["content-type", "x-amz-date", "authorization"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(request.headers()["x-amz-date"], "20240501T120000Z");

    let minimal = Bedrock.request(&target_at(""), &aws(None), &minimal_request(), NOW).unwrap();
    assert_eq!(
        body_json(&minimal),
        json!({"messages": [{"role": "user", "content": [{"text": "Say hello in French."}]}]})
    );
}

#[test]
fn request_needs_region_and_credentials() {
    let no_region = Target { region: None, ..target_at("") };
    let e = Bedrock.request(&no_region, &aws(None), &minimal_request(), NOW).unwrap_err();
    assert!(matches!(e, ProviderError::Config(_)), "{e:?}");
    let e = Bedrock.request(&target_at(""), &Credentials::default(), &minimal_request(), NOW).unwrap_err();
    assert!(matches!(e, ProviderError::Config(_)), "{e:?}");
    assert!(!e.retryable());
}

type HmacSha256 = hmac::Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SigV4's string to sign and signature for a canonical request, computed here from
/// the algorithm's definition.
fn sigv4(canonical_request: &str, amz_date: &str, region: &str, service: &str) -> (String, String) {
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{SECRET}").as_bytes(), date);
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(&hmac(&key, &string_to_sign));
    (string_to_sign, signature)
}

#[test]
fn the_independent_sigv4_matches_the_aws_test_suite() {
    let dir = "bedrock/sigv4-post-x-www-form-urlencoded";
    let canonical = String::from_utf8(fixture(&format!("{dir}/header-canonical-request.txt"))).unwrap();
    let (string_to_sign, signature) = sigv4(&canonical, "20150830T123600Z", "us-east-1", "service");
    assert_eq!(string_to_sign.as_bytes(), fixture(&format!("{dir}/header-string-to-sign.txt")));
    assert_eq!(signature.as_bytes(), fixture(&format!("{dir}/header-signature.txt")));
}

/// Checks `request`'s signature against one computed here from its canonical form:
/// the path double-encoded as SigV4 requires for every service but S3.
fn check_signature(request: &http::Request<Bytes>, host: &str, session_token: Option<&str>) {
    let h = request.headers();
    let mut canonical_headers =
        format!("content-type:application/json\nhost:{host}\nx-amz-date:20240501T120000Z\n");
    let mut signed = "content-type;host;x-amz-date".to_owned();
    if let Some(token) = session_token {
        assert_eq!(h["x-amz-security-token"], token);
        canonical_headers.push_str(&format!("x-amz-security-token:{token}\n"));
        signed.push_str(";x-amz-security-token");
    }
    let canonical = format!(
        "POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse-stream\n\n{canonical_headers}\n{signed}\n{}",
        hex(&Sha256::digest(request.body()))
    );
    let (_, signature) = sigv4(&canonical, "20240501T120000Z", "us-east-1", "bedrock");
    let expected = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20240501/us-east-1/bedrock/aws4_request, SignedHeaders={signed}, Signature={signature}"
    );
    assert_eq!(h["authorization"].to_str().unwrap(), expected);
    assert!(h["authorization"].is_sensitive());
}

#[test]
fn signature_matches_an_independent_sigv4() {
    let request = Bedrock.request(&target_at(""), &aws(None), &full_request(), NOW).unwrap();
    check_signature(&request, "bedrock-runtime.us-east-1.amazonaws.com", None);

    let token = "IQoJb3JpZ2luX2VjEXAMPLE+/=";
    let request = Bedrock.request(&target_at(""), &aws(Some(token)), &full_request(), NOW).unwrap();
    check_signature(&request, "bedrock-runtime.us-east-1.amazonaws.com", Some(token));

    // A local endpoint (a mock, a proxy) signs its port into the host.
    let local = target_at("http://127.0.0.1:4010");
    let request = Bedrock.request(&local, &aws(None), &minimal_request(), NOW).unwrap();
    assert_eq!(
        request.uri(),
        "http://127.0.0.1:4010/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
    );
    check_signature(&request, "127.0.0.1:4010", None);
}

#[test]
fn a_cut_between_message_stop_and_metadata_lacks_only_usage() {
    let (bytes, ends) = frames("bedrock/stream.json");
    assert_eq!(
        run(&Bedrock, vec![&bytes[..ends[4]]]),
        [text("Bonjour"), text(" à tous 👋"), finish(FinishReason::Stop)]
    );
}

#[test]
fn exception_in_stream() {
    let (bytes, _) = frames("bedrock/throttled.json");
    let expected = vec![
        text("Bon"),
        Err(ProviderError::Upstream(
            "throttlingException: Too many tokens, please wait before trying again.".into(),
        )),
    ];
    check_every_split(&Bedrock, &bytes, &expected);
}

#[test]
fn stop_reasons() {
    let reply = |reason: &str| {
        let event = |name, payload: Value| {
            frame(
                &[(":event-type", name), (":content-type", "application/json"), (":message-type", "event")],
                &serde_json::to_vec(&payload).unwrap(),
            )
        };
        let mut bytes = event("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}));
        bytes.extend(event("messageStop", json!({"stopReason": reason})));
        let usage = json!({"inputTokens": 4, "outputTokens": 1, "cacheReadInputTokens": 10, "cacheWriteInputTokens": 2});
        bytes.extend(event("metadata", json!({"usage": usage, "metrics": {"latencyMs": 100}})));
        run(&Bedrock, vec![&bytes])
    };
    let expect = |reason| vec![text("Hi"), usage(16, 1), finish(reason)];
    assert_eq!(reply("end_turn"), expect(FinishReason::Stop));
    assert_eq!(reply("stop_sequence"), expect(FinishReason::Stop));
    assert_eq!(reply("tool_use"), expect(FinishReason::ToolCalls));
    assert_eq!(reply("max_tokens"), expect(FinishReason::Length));
    assert_eq!(reply("content_filtered"), expect(FinishReason::ContentFilter));
    assert_eq!(reply("guardrail_intervened"), expect(FinishReason::ContentFilter));
}

#[test]
fn corruption_is_a_protocol_error() {
    let (bytes, ends) = frames("bedrock/stream.json");
    // In the second frame: its prelude (length, CRC), a header, the payload, the message CRC.
    let start = ends[0];
    for at in [start + 2, start + 9, start + 20, ends[1] - 10, ends[1] - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        for chunks in [vec![&bad[..]], bad.chunks(7).collect()] {
            let out = run(&Bedrock, chunks);
            assert!(matches!(out.as_slice(), [Err(ProviderError::Protocol(_))]), "flip at {at}: {out:?}");
        }
    }
    // A frame without a message type is not Bedrock's.
    let stray = frame(&[(":event-type", "messageStop")], b"{}");
    assert!(matches!(run(&Bedrock, vec![&stray]).as_slice(), [Err(ProviderError::Protocol(_))]));
}

#[test]
fn error_response() {
    let h = headers(&[
        ("x-amzn-errortype", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        ("retry-after", "2"),
    ]);
    let e = Bedrock.error(StatusCode::TOO_MANY_REQUESTS, &h, &fixture("bedrock/error_throttling.json"));
    assert_eq!(
        e,
        ProviderError::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
            message: "ThrottlingException: Too many requests, please wait before trying again.".into()
        }
    );
    let h = headers(&[("x-amzn-errortype", "AccessDeniedException")]);
    let body = br#"{"Message":"User is not authorized to perform: bedrock:InvokeModelWithResponseStream"}"#;
    let e = Bedrock.error(StatusCode::FORBIDDEN, &h, body);
    assert_eq!(
        e,
        ProviderError::Status {
            status: 403,
            retry_after: None,
            message: "AccessDeniedException: User is not authorized to perform: bedrock:InvokeModelWithResponseStream"
                .into()
        }
    );
}
