//! The embeddings endpoints: OpenAI, Gemini batchEmbedContents, Bedrock Titan v2 and Cohere.

use crate::common::{bedrock, client, gemini, spawn};
use base64::Engine;
use confab_mock_provider::{Fault, MockHandle, Scenario};
use serde_json::{Value, json};

async fn openai_embeddings(mock: &MockHandle, body: Value) -> reqwest::Response {
    let url = format!("{}/v1/embeddings", mock.base_url());
    client().post(url).bearer_auth("sk-test").json(&body).send().await.unwrap()
}

fn norm(values: &[f32]) -> f32 {
    values.iter().map(|v| v * v).sum::<f32>().sqrt()
}

fn floats(value: &Value) -> Vec<f32> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

#[tokio::test]
async fn openai_answers_floats_or_base64_with_usage() {
    let mock = spawn().await;
    let body = json!({"model": "text-embedding-3-small", "input": ["hello there", "bye"], "dimensions": 8});
    let response = openai_embeddings(&mock, body).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "text-embedding-3-small");
    assert_eq!(body["usage"], json!({"prompt_tokens": 4, "total_tokens": 4}));
    assert_eq!(body["data"][1]["index"], 1);
    let first = floats(&body["data"][0]["embedding"]);
    assert_eq!(first.len(), 8);
    assert!((norm(&first) - 1.0).abs() < 1e-4);

    let base64 = json!({"model": "text-embedding-3-small", "input": "hello there", "encoding_format": "base64", "dimensions": 8});
    let body: Value = openai_embeddings(&mock, base64).await.json().await.unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> =
        bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(decoded, first, "the same text gets the same vector");
}

#[tokio::test]
async fn openai_refuses_bad_inputs_as_openai_does() {
    let mock = spawn().await;
    for input in [json!(""), json!([]), json!(["a", ""]), json!({"a": 1})] {
        let response =
            openai_embeddings(&mock, json!({"model": "text-embedding-3-small", "input": input})).await;
        assert_eq!(response.status(), 400, "{input}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["param"], "input");
    }
    let response =
        openai_embeddings(&mock, json!({"model": "text-embedding-ada-002", "input": "a", "dimensions": 8}))
            .await;
    assert_eq!(response.status(), 400);
    let tokens =
        openai_embeddings(&mock, json!({"model": "text-embedding-3-large", "input": [[1, 2, 3]]})).await;
    let body: Value = tokens.json().await.unwrap();
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 3072);
    assert_eq!(body["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn gemini_batches_answer_one_embedding_per_request() {
    let mock = spawn().await;
    let one = |text: &str| json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": text}]}, "outputDimensionality": 16});
    let body = json!({"requests": [one("first"), one("second")]});
    let response = gemini(&mock, "gemini-embedding-001", "batchEmbedContents", body).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let embeddings = body["embeddings"].as_array().unwrap();
    assert_eq!(embeddings.len(), 2);
    assert_eq!(floats(&embeddings[0]["values"]).len(), 16);
    assert!(body.get("usageMetadata").is_none());

    let wrong = json!({"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]});
    let response = gemini(&mock, "gemini-embedding-001", "batchEmbedContents", wrong).await;
    assert_eq!(response.status(), 400);
    let too_many = json!({"requests": vec![one("x"); 101]});
    let response = gemini(&mock, "gemini-embedding-001", "batchEmbedContents", too_many).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn titan_embeds_one_text_and_counts_its_tokens() {
    let mock = spawn().await;
    let body = json!({"inputText": "hello world", "dimensions": 256, "normalize": true});
    let response = bedrock(&mock, "amazon.titan-embed-text-v2:0", "invoke", body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-amzn-bedrock-input-token-count"], "3");
    let body: Value = response.json().await.unwrap();
    assert_eq!(floats(&body["embedding"]).len(), 256);
    assert_eq!(body["embeddingsByType"]["float"], body["embedding"]);
    assert_eq!(body["inputTextTokenCount"], 3);
    let bad = json!({"inputText": "hello", "dimensions": 300});
    let response = bedrock(&mock, "amazon.titan-embed-text-v2:0", "invoke", bad).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers()["x-amzn-errortype"].to_str().unwrap().starts_with("ValidationException:"));
}

#[tokio::test]
async fn cohere_embeds_up_to_96_texts() {
    let mock = spawn().await;
    let body = json!({"texts": ["a b", "c"], "input_type": "search_document"});
    let response = bedrock(&mock, "cohere.embed-english-v3", "invoke", body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-amzn-bedrock-input-token-count"], "2");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["response_type"], "embeddings_floats");
    assert_eq!(body["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(floats(&body["embeddings"][0]).len(), 1024);
    let many = json!({"texts": vec!["x"; 97], "input_type": "search_document"});
    assert_eq!(bedrock(&mock, "cohere.embed-english-v3", "invoke", many).await.status(), 400);
    let untyped = json!({"texts": ["x"]});
    assert_eq!(bedrock(&mock, "cohere.embed-english-v3", "invoke", untyped).await.status(), 400);
}

#[tokio::test]
async fn status_faults_and_the_request_log_apply_to_embeddings() {
    let mock = spawn().await;
    mock.set_scenario("text-embedding-3-small", Scenario::default().then(Fault::status(503)));
    let body = json!({"model": "text-embedding-3-small", "input": "a"});
    assert_eq!(openai_embeddings(&mock, body.clone()).await.status(), 503);
    assert_eq!(openai_embeddings(&mock, body).await.status(), 200);
    let recorded = mock.requests("text-embedding-3-small");
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].path, "/v1/embeddings");
    assert_eq!(recorded[0].api_key.as_deref(), Some("sk-test"));
}
