//! Batching, fallback and usage over the fake HTTP client.

use super::*;
use crate::chat::fixtures;
use crate::chat::models::ModelKind;
use crate::config::Config;
use crate::providers::embeddings::Encoding;
use crate::testing::{self, Reply, TestApp};
use serde_json::{Value, json};

fn app() -> TestApp {
    fixtures::app(testing::app().with_config(Config { provider_retries: 0, ..Config::default() }))
}

fn gemini() -> Target {
    Target { model: "gemini-embedding-001".into(), ..fixtures::gemini() }
}

fn openai() -> Target {
    Target { model: "text-embedding-3-small".into(), ..fixtures::openai() }
}

fn route(targets: Vec<Target>) -> ModelRoute {
    ModelRoute { kind: ModelKind::Embedding, ..fixtures::route(targets) }
}

fn request(n: usize) -> EmbedRequest {
    EmbedRequest {
        inputs: (0..n).map(|i| Input::Text(format!("text number {i}"))).collect(),
        dimensions: None,
        user: None,
        encoding: Encoding::Float,
    }
}

/// Gemini's reply to a batch of `n`: vector `[first + i]` for input `i`.
fn gemini_reply(first: usize, n: usize) -> Reply {
    let embeddings: Vec<Value> = (0..n).map(|i| json!({"values": [(first + i) as f32]})).collect();
    Reply::new(200).body(json!({ "embeddings": embeddings }).to_string())
}

#[test]
fn inputs_go_in_the_targets_batches_and_come_back_in_order() {
    let t = app();
    t.http.reply(gemini_reply(0, 100));
    t.http.reply(gemini_reply(100, 50));
    let req = request(150);
    let vectors = t.run(embed(&t.app, &route(vec![gemini()]), &req)).unwrap();
    let sizes: Vec<usize> = t
        .http
        .sent()
        .iter()
        .map(|s| serde_json::from_slice::<Value>(&s.body).unwrap()["requests"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 50]);
    assert_eq!(vectors.vectors, (0..150).map(|i| vec![i as f32]).collect::<Vec<_>>());
    // Gemini counts nothing: about four characters a token ("text number 7" is 13, so 4).
    let estimate: u64 = req.inputs.iter().map(Input::estimated_tokens).sum();
    assert_eq!(vectors.prompt_tokens, estimate);
}

#[test]
fn a_failing_target_falls_back_to_the_next() {
    let t = app();
    t.http.reply(
        Reply::new(503).body(r#"{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}"#),
    );
    let reply = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0]}],
        "model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}"#;
    t.http.reply(Reply::new(200).body(reply));
    let vectors = t.run(embed(&t.app, &route(vec![gemini(), openai()]), &request(1))).unwrap();
    assert_eq!(vectors, Vectors { vectors: vec![vec![1.0]], prompt_tokens: 3 });
    let report = t.app.breakers.report([gemini()]);
    assert_eq!(report[0].consecutive_failures, 1);
}

#[test]
fn when_every_target_fails_the_last_error_is_the_answer() {
    let t = app();
    t.http.reply(
        Reply::new(503).body(r#"{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}"#),
    );
    t.http.reply(Reply::new(400).body(r#"{"error":{"message":"bad input","type":"invalid_request_error"}}"#));
    let result = t.run(embed(&t.app, &route(vec![gemini(), openai()]), &request(1)));
    assert!(matches!(result, Err(ProviderError::Status { status: 400, .. })), "{result:?}");
}
