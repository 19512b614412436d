//! Each format against real wire bodies: the request it sends for a batch (URL, headers,
//! JSON) and the vectors and usage it reads back, through the fake HTTP client.

use super::*;
use crate::testing::{self, Reply, TestApp};
use serde_json::{Value, json};

fn target(provider: ProviderKind, base_url: &str, model: &str) -> Target {
    Target {
        provider,
        base_url: base_url.into(),
        model: model.into(),
        api_key_secret: Some("confab-provider-test".into()),
        region: Some("us-east-1".into()),
    }
}

fn texts(texts: &[&str]) -> EmbedRequest {
    EmbedRequest {
        inputs: texts.iter().map(|t| Input::Text(t.to_string())).collect(),
        dimensions: None,
        user: None,
        encoding: Encoding::Float,
    }
}

fn app(secret: &str) -> TestApp {
    let t = testing::app().build();
    t.secrets.set("confab-provider-test", secret);
    t
}

/// Sends the whole of `req` as one batch; returns what came back and the request sent.
fn send(
    t: &TestApp,
    target: &Target,
    req: &EmbedRequest,
    reply: Reply,
) -> (Result<Embedded, ProviderError>, Value) {
    t.http.reply(reply);
    let result = t.run(call(&t.app, target, req, &req.inputs));
    let sent = t.http.sent().pop().expect("a request");
    (result, serde_json::from_slice(&sent.body).expect("a JSON body"))
}

fn json_reply(body: &str) -> Reply {
    Reply::new(200).header("content-type", "application/json").body(body.to_string())
}

const OPENAI_REPLY: &str = r#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.5,-0.25]},
    {"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292]}],
    "model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}"#;

#[test]
fn openai_passes_everything_through_and_reads_floats_in_index_order() {
    let t = app("sk-test");
    let target = target(ProviderKind::Openai, "https://api.openai.com/v1", "text-embedding-3-small");
    let req = EmbedRequest {
        inputs: vec![Input::Text("hello".into()), Input::Tokens(vec![15339, 1917])],
        dimensions: Some(2),
        user: Some("u-1".into()),
        encoding: Encoding::Float,
    };
    let (result, body) = send(&t, &target, &req, json_reply(OPENAI_REPLY));
    assert_eq!(
        body,
        json!({"model": "text-embedding-3-small", "input": ["hello", [15339, 1917]], "dimensions": 2, "user": "u-1"})
    );
    let sent = &t.http.sent()[0];
    assert_eq!(sent.uri, "https://api.openai.com/v1/embeddings");
    assert_eq!(sent.headers["authorization"], "Bearer sk-test");
    let embedded = result.unwrap();
    assert_eq!(embedded.vectors, [vec![0.0023064255, -0.009327292], vec![0.5, -0.25]]);
    assert_eq!(embedded.prompt_tokens, Some(8));
}

#[test]
fn openai_asks_for_and_decodes_base64() {
    let t = app("sk-test");
    let target = target(ProviderKind::Openai, "http://127.0.0.1:11434/v1/", "nomic-embed-text");
    let req = EmbedRequest { encoding: Encoding::Base64, ..texts(&["hi"]) };
    let reply = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAMA="}],
        "model":"nomic-embed-text","usage":{"prompt_tokens":1,"total_tokens":1}}"#;
    let (result, body) = send(&t, &target, &req, json_reply(reply));
    assert_eq!(body, json!({"model": "nomic-embed-text", "input": ["hi"], "encoding_format": "base64"}));
    assert_eq!(t.http.sent()[0].uri, "http://127.0.0.1:11434/v1/embeddings");
    assert_eq!(result.unwrap().vectors, [vec![1.0, -2.0]]);
}

#[test]
fn openai_errors_and_short_replies_are_provider_errors() {
    let t = app("sk-test");
    let target = target(ProviderKind::Openai, "https://api.openai.com/v1", "text-embedding-3-small");
    let limited = Reply::new(429)
        .header("retry-after", "2")
        .body(r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#);
    let (result, _) = send(&t, &target, &texts(&["a"]), limited);
    assert!(matches!(result, Err(ProviderError::Status { status: 429, .. })), "{result:?}");
    let (result, _) = send(&t, &target, &texts(&["a", "b", "c"]), json_reply(OPENAI_REPLY));
    assert!(matches!(result, Err(ProviderError::Protocol(_))), "{result:?}");
}

#[test]
fn gemini_sends_one_request_per_input_with_the_models_name() {
    let t = app("AIza-test");
    let target =
        target(ProviderKind::Gemini, "https://generativelanguage.googleapis.com", "gemini-embedding-001");
    let req = EmbedRequest { dimensions: Some(768), ..texts(&["first", "second"]) };
    let reply = r#"{"embeddings":[{"values":[0.1,0.2]},{"values":[0.3,0.4]}]}"#;
    let (result, body) = send(&t, &target, &req, json_reply(reply));
    let one = |text: &str| {
        json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": text}]},
               "outputDimensionality": 768})
    };
    assert_eq!(body, json!({"requests": [one("first"), one("second")]}));
    let sent = &t.http.sent()[0];
    assert_eq!(
        sent.uri,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(sent.headers["x-goog-api-key"], "AIza-test");
    assert_eq!(
        result.unwrap(),
        Embedded { vectors: vec![vec![0.1, 0.2], vec![0.3, 0.4]], prompt_tokens: None }
    );
}

const AWS_SECRET: &str =
    r#"{"access_key_id":"AKIDEXAMPLE","secret_access_key":"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}"#;

#[test]
fn titan_is_signed_and_sends_one_normalized_text() {
    let t = app(AWS_SECRET);
    let target = target(ProviderKind::Bedrock, "", "amazon.titan-embed-text-v2:0");
    let req = EmbedRequest { dimensions: Some(256), ..texts(&["hello world"]) };
    let reply =
        r#"{"embedding":[0.031,-0.044],"embeddingsByType":{"float":[0.031,-0.044]},"inputTextTokenCount":3}"#;
    let (result, body) = send(&t, &target, &req, json_reply(reply));
    assert_eq!(body, json!({"inputText": "hello world", "dimensions": 256, "normalize": true}));
    let sent = &t.http.sent()[0];
    assert_eq!(
        sent.uri,
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke"
    );
    let auth = sent.headers["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250615/us-east-1/bedrock/aws4_request"),
        "{auth}"
    );
    assert_eq!(result.unwrap(), Embedded { vectors: vec![vec![0.031, -0.044]], prompt_tokens: Some(3) });
}

#[test]
fn cohere_sends_texts_as_documents_and_reads_the_token_header() {
    let t = app(AWS_SECRET);
    let target = target(ProviderKind::Bedrock, "", "cohere.embed-multilingual-v3");
    let reply = json_reply(
        r#"{"embeddings":[[0.01,0.02],[0.03,0.04]],"id":"1b2c","response_type":"embeddings_floats","texts":["a b","c"]}"#,
    )
    .header("x-amzn-bedrock-input-token-count", "4");
    let (result, body) = send(&t, &target, &texts(&["a b", "c"]), reply);
    assert_eq!(body, json!({"texts": ["a b", "c"], "input_type": "search_document"}));
    assert!(t.http.sent()[0].uri.ends_with("/model/cohere.embed-multilingual-v3/invoke"));
    assert_eq!(
        result.unwrap(),
        Embedded { vectors: vec![vec![0.01, 0.02], vec![0.03, 0.04]], prompt_tokens: Some(4) }
    );
}

#[test]
fn bedrock_errors_keep_their_exception_name() {
    let t = app(AWS_SECRET);
    let target = target(ProviderKind::Bedrock, "", "cohere.embed-english-v3");
    let reply = Reply::new(400)
        .header(
            "x-amzn-errortype",
            "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        )
        .body(r#"{"message":"Malformed input request"}"#);
    let (result, _) = send(&t, &target, &texts(&["a"]), reply);
    match result {
        Err(ProviderError::Status { status: 400, message, .. }) => {
            assert_eq!(message, "ValidationException: Malformed input request")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn what_each_target_takes() {
    let openai = target(ProviderKind::Openai, "https://x", "m");
    let gemini = target(ProviderKind::Gemini, "https://x", "m");
    let titan = target(
        ProviderKind::Bedrock,
        "",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
    );
    let cohere = target(ProviderKind::Bedrock, "", "us.cohere.embed-english-v3");
    let tokens = EmbedRequest { inputs: vec![Input::Tokens(vec![1, 2])], ..texts(&[]) };
    assert!(check(&openai, &tokens).is_ok());
    for t in [&gemini, &titan, &cohere] {
        assert!(check(t, &tokens).unwrap_err().contains("token arrays"));
    }
    let sized = |d| EmbedRequest { dimensions: Some(d), ..texts(&["a"]) };
    assert!(check(&titan, &sized(512)).is_ok());
    assert!(check(&titan, &sized(300)).unwrap_err().contains("256, 512 or 1024"));
    assert!(check(&cohere, &sized(1024)).is_err());
    assert!(check(&cohere, &texts(&[&"x".repeat(2049)])).unwrap_err().contains("2048 characters"));
    let sizes: Vec<_> = [&openai, &gemini, &titan, &cohere].map(|t| batch_size(t).unwrap()).into();
    assert_eq!(sizes, [2048, 100, 1, 96]);
    assert!(supports(&target(ProviderKind::Bedrock, "", "amazon.titan-embed-text-v1")).is_err());
    assert!(supports(&target(ProviderKind::Anthropic, "https://x", "claude")).is_err());
}
