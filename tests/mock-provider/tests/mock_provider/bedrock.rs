//! The Amazon Bedrock Runtime Converse wire format and its SigV4 checks.

use crate::common;

use common::{
    ACCESS_KEY_ID, SECRET, bedrock, bedrock_signed, bedrock_url, client, decode_frames, read_body,
    sigv4_headers, spawn,
};
use confab_mock_provider::{Fault, MockProvider, Scenario};
use serde_json::{Value, json};

const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const REPLY: &str = "Mock reply to: Explain SigV4";

fn request() -> Value {
    json!({
        "system": [{"text": "Be short."}],
        "messages": [{"role": "user", "content": [{"text": "Explain SigV4"}]}],
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
    })
}

fn error_type(response: &reqwest::Response) -> String {
    response.headers()["x-amzn-errortype"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn converse_returns_the_output_message_and_usage() {
    let mock = spawn().await;
    let response = bedrock(&mock, MODEL, "converse", request()).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-amzn-requestid"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["output"]["message"], json!({"role": "assistant", "content": [{"text": REPLY}]}));
    assert_eq!(body["stopReason"], "end_turn");
    // "Be short." + "Explain SigV4" = 22 characters = 6 tokens.
    assert_eq!(body["usage"], json!({"inputTokens": 6, "outputTokens": 5, "totalTokens": 11}));
    assert!(body["metrics"]["latencyMs"].is_u64());
    assert_eq!(mock.requests(MODEL)[0].api_key.as_deref(), Some(ACCESS_KEY_ID));
}

#[tokio::test]
async fn converse_stream_is_event_stream_frames_with_valid_checksums() {
    let mock = spawn().await;
    let response = bedrock(&mock, MODEL, "converse-stream", request()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/vnd.amazon.eventstream");
    let (bytes, failed) = read_body(response).await;
    assert!(!failed);
    let (frames, leftover) = decode_frames(&bytes);
    assert_eq!(leftover, 0);

    let types: Vec<&str> = frames.iter().map(|frame| frame.header(":event-type")).collect();
    let mut expected = vec!["messageStart"];
    expected.extend(["contentBlockDelta"; 5]);
    expected.extend(["contentBlockStop", "messageStop", "metadata"]);
    assert_eq!(types, expected);
    for frame in &frames {
        assert_eq!(frame.header(":message-type"), "event");
        assert_eq!(frame.header(":content-type"), "application/json");
    }
    assert_eq!(frames[0].payload["role"], "assistant");
    let text: String = frames[1..6]
        .iter()
        .map(|frame| {
            assert_eq!(frame.payload["contentBlockIndex"], 0);
            frame.payload["delta"]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, REPLY);
    assert_eq!(frames[6].payload["contentBlockIndex"], 0);
    assert_eq!(frames[7].payload["stopReason"], "end_turn");
    assert_eq!(frames[8].payload["usage"], json!({"inputTokens": 6, "outputTokens": 5, "totalTokens": 11}));
    assert!(frames[8].payload["metrics"]["latencyMs"].is_u64());
}

#[tokio::test]
async fn converse_stream_decodes_with_the_aws_sdk_decoder() {
    let mock = spawn().await;
    let (bytes, _) = read_body(bedrock(&mock, MODEL, "converse-stream", request()).await).await;
    let mut buffer = bytes::Bytes::from(bytes);
    let mut types = Vec::new();
    while !buffer.is_empty() {
        let message = aws_smithy_eventstream::frame::read_message_from(&mut buffer).expect("valid message");
        let event_type =
            message.headers().iter().find(|header| header.name().as_str() == ":event-type").unwrap();
        types.push(event_type.value().as_string().unwrap().as_str().to_owned());
        let _: Value = serde_json::from_slice(message.payload()).unwrap();
    }
    assert_eq!(types.first().map(String::as_str), Some("messageStart"));
    assert_eq!(types.last().map(String::as_str), Some("metadata"));
}

#[tokio::test]
async fn signatures_are_verified_against_the_configured_credentials() {
    let mock = spawn().await;
    let body = request().to_string();
    let good = bedrock_signed(&mock, MODEL, "converse", &body, ACCESS_KEY_ID, SECRET).await;
    assert_eq!(good.status(), 200);

    let wrong_secret = bedrock_signed(&mock, MODEL, "converse", &body, ACCESS_KEY_ID, "not-the-secret").await;
    assert_eq!(wrong_secret.status(), 403);
    assert!(error_type(&wrong_secret).starts_with("InvalidSignatureException:"));
    let message: Value = wrong_secret.json().await.unwrap();
    assert!(message["message"].as_str().unwrap().contains("signature"));

    let unknown_key = bedrock_signed(&mock, MODEL, "converse", &body, "AKIDUNKNOWN", SECRET).await;
    assert_eq!(unknown_key.status(), 403);
    assert!(error_type(&unknown_key).starts_with("UnrecognizedClientException:"));

    // A body other than the one signed.
    let url = bedrock_url(&mock, MODEL, "converse");
    let mut tampered =
        client().post(&url).header("content-type", "application/json").body(body.replace("512", "513"));
    for (name, value) in sigv4_headers(&url, body.as_bytes(), ACCESS_KEY_ID, SECRET) {
        tampered = tampered.header(name, value);
    }
    assert_eq!(tampered.send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_403() {
    let mock = spawn().await;
    let url = bedrock_url(&mock, MODEL, "converse");
    let post = || client().post(&url).header("content-type", "application/json").body(request().to_string());

    let unsigned = post().send().await.unwrap();
    assert_eq!(unsigned.status(), 403);
    assert!(error_type(&unsigned).starts_with("MissingAuthenticationTokenException:"));
    let body: Value = unsigned.json().await.unwrap();
    assert_eq!(body, json!({"message": "Missing Authentication Token"}));

    let bearer = post().bearer_auth("token").header("x-amz-date", "20250101T000000Z").send().await.unwrap();
    assert_eq!(bearer.status(), 403);
    assert!(error_type(&bearer).starts_with("IncompleteSignatureException:"));

    let authorization = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request, \
                         SignedHeaders=host, Signature=00";
    let undated = post().header("authorization", authorization).send().await.unwrap();
    assert_eq!(undated.status(), 403);
    assert!(error_type(&undated).starts_with("IncompleteSignatureException:"));
}

#[tokio::test]
async fn without_credentials_only_the_shape_is_checked() {
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    let url = bedrock_url(&mock, MODEL, "converse");
    let post = |scope: &str| {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDANY/20250101/eu-west-1/{scope}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcdef"
        );
        client()
            .post(&url)
            .header("authorization", authorization)
            .header("x-amz-date", "20250101T000000Z")
            .body(request().to_string())
            .send()
    };
    assert_eq!(post("bedrock").await.unwrap().status(), 200);
    let other_service = post("s3").await.unwrap();
    assert_eq!(other_service.status(), 403);
    assert!(error_type(&other_service).starts_with("InvalidSignatureException:"));
}

#[tokio::test]
async fn errors_before_the_stream_are_json_with_an_error_type_header() {
    let mock = spawn().await;
    let scenario =
        Scenario::default().then(Fault::status(429)).then(Fault::status(400)).then(Fault::status(500));
    mock.set_scenario(MODEL, scenario);
    let expected =
        [(429, "ThrottlingException"), (400, "ValidationException"), (500, "InternalServerException")];
    for (status, exception) in expected {
        let response = bedrock(&mock, MODEL, "converse-stream", request()).await;
        assert_eq!(response.status(), status);
        assert_eq!(
            error_type(&response),
            format!("{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/")
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].is_string());
    }
}

#[tokio::test]
async fn validation_errors_are_validation_exceptions() {
    let mock = spawn().await;
    let body = json!({"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]});
    let response = bedrock(&mock, MODEL, "converse", body).await;
    assert_eq!(response.status(), 400);
    assert!(error_type(&response).starts_with("ValidationException:"));
}

#[tokio::test]
async fn mid_stream_errors_are_exception_messages() {
    let mock = spawn().await;
    let scenario = Scenario::reply("a b c")
        .then(Fault::error_event_after(1))
        .then(Fault::ErrorEventAfter { tokens: 2, status: Some(424) });
    mock.set_scenario(MODEL, scenario);
    for (tokens, exception) in [(1, "serviceUnavailableException"), (2, "modelStreamErrorException")] {
        let (bytes, failed) = read_body(bedrock(&mock, MODEL, "converse-stream", request()).await).await;
        assert!(!failed);
        let (frames, leftover) = decode_frames(&bytes);
        assert_eq!(leftover, 0);
        let (last, events) = frames.split_last().unwrap();
        assert_eq!(events.len(), 1 + tokens, "messageStart and the deltas");
        assert_eq!(last.header(":message-type"), "exception");
        assert_eq!(last.header(":exception-type"), exception);
        assert_eq!(last.header(":content-type"), "application/json");
        assert!(last.payload["message"].is_string());
    }
}
