//! `POST /v1/embeddings` against the mock provider in the OpenAI, Gemini and Bedrock
//! (Titan v2, Cohere) formats, with the official `openai` Python package, usage,
//! quotas, scoped keys and bad input.

use confab_mock_provider::{MockHandle, MockProvider};
use confab_tests::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const AWS_KEY_ID: &str = "AKIDCONFABEMBED";
const AWS_SECRET: &str = "confab-embed-secret-access-key";
const OPENAI: &str = "text-embedding-3-small";
const GEMINI: &str = "gemini-embedding-001";
const TITAN: &str = "amazon.titan-embed-text-v2:0";
const COHERE: &str = "cohere.embed-english-v3";

/// A mock, and a server with a chat model and embedding models in every format on it.
async fn setup(extra: &[(&str, &str)]) -> (TestApp, MockHandle) {
    let mock = MockProvider::builder()
        .bedrock_credentials(AWS_KEY_ID, AWS_SECRET)
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    let base = mock.base_url();
    let openai_url = format!("{base}/v1");
    let bedrock_key = json!({"access_key_id": AWS_KEY_ID, "secret_access_key": AWS_SECRET}).to_string();
    let bedrock_models = format!("{TITAN},{COHERE}");
    let mut settings: Vec<(&str, &str)> = vec![
        ("CONFAB_OPENAI_BASE_URL", &openai_url),
        ("CONFAB_OPENAI_API_KEY", "openai-key"),
        ("CONFAB_OPENAI_MODELS", "oa-chat"),
        ("CONFAB_OPENAI_EMBEDDING_MODELS", OPENAI),
        ("CONFAB_GEMINI_BASE_URL", &base),
        ("CONFAB_GEMINI_API_KEY", "gemini-key"),
        ("CONFAB_GEMINI_EMBEDDING_MODELS", GEMINI),
        ("CONFAB_BEDROCK_BASE_URL", &base),
        ("CONFAB_BEDROCK_API_KEY", &bedrock_key),
        ("CONFAB_BEDROCK_REGION", "us-east-1"),
        ("CONFAB_BEDROCK_EMBEDDING_MODELS", &bedrock_models),
    ];
    settings.extend_from_slice(extra);
    (spawn_app_with(&settings).await, mock)
}

async fn embed(user: &TestUser<'_>, body: Value) -> Response {
    user.post("/v1/embeddings", &body).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_openai_client_embeds_in_every_format() {
    let (app, _mock) = setup(&[]).await;
    let ada = app.register("ada@example.com").await;
    let key = str_field(&app.create_api_key(&ada.access_token, "python").await, "key");
    let args = [app.base_url.as_str(), &key, "oa-chat", OPENAI, GEMINI, TITAN].map(String::from);
    run_python(Some("openai_embeddings.py"), args.to_vec()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn targets_get_their_own_batches_and_usage_reaches_the_report() {
    let (app, mock) = setup(&[]).await;
    let admin = app.user("admin@example.com").await;
    let texts: Vec<String> = (0..3).map(|i| format!("text number {i}")).collect();
    for model in [TITAN, COHERE, GEMINI] {
        let body = embed(&admin, json!({"model": model, "input": texts})).await.good().await;
        assert_eq!(body["data"].as_array().unwrap().len(), 3, "{model}");
    }
    assert_eq!(mock.requests(TITAN).len(), 3, "Titan embeds one text a call");
    assert_eq!(mock.requests(COHERE).len(), 1);
    let gemini = &mock.requests(GEMINI)[0];
    assert_eq!(gemini.path, format!("/v1beta/models/{GEMINI}:batchEmbedContents"));
    assert_eq!(gemini.body["requests"].as_array().unwrap().len(), 3);

    let report = admin.get(&format!("/admin/usage?user_id={}", admin.id)).await.good().await;
    let rows = report["items"].as_array().unwrap();
    let row = |model: &str| {
        rows.iter().find(|r| r["model"] == model).cloned().unwrap_or_else(|| panic!("{report}"))
    };
    // "text number N" is 13 characters: the mock counts 4 tokens each, as does the
    // estimate for Gemini, which counts none.
    for model in [TITAN, COHERE, GEMINI] {
        assert_eq!(
            (row(model)["requests"].as_i64(), row(model)["input_tokens"].as_i64()),
            (Some(1), Some(12))
        );
        assert_eq!(row(model)["output_tokens"], 0);
    }
    app.assert_tokens_settle_at(&admin, 36).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_quota_refuses_embeddings() {
    let (app, _mock) = setup(&[("CONFAB_TOKENS_PER_DAY", "20")]).await;
    let ada = app.user("ada@example.com").await;
    let resp = embed(&ada, json!({"model": OPENAI, "input": "x".repeat(100)})).await;
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    embed(&ada, json!({"model": OPENAI, "input": "short"})).await.good().await;
    app.assert_tokens_settle_at(&ada, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scoped_keys_are_held_to_their_scopes_and_models() {
    let (app, _mock) = setup(&[]).await;
    let ada = app.user("ada@example.com").await;
    let ada = &ada;
    let key = |body: Value| async move {
        let created = ada.post("/auth/api-keys", &body).await.created().await;
        str_field(&created, "key")
    };
    let reader = key(json!({"name": "r", "scopes": ["sessions:read"]})).await;
    let gemini_only = key(json!({"name": "g", "scopes": ["chat"], "models": [GEMINI]})).await;
    let post = |key: String, model: &str| {
        send(app.bearer(Method::POST, "/v1/embeddings", &key).json(&json!({"model": model, "input": "hi"})))
    };
    assert_error(post(reader, GEMINI).await, StatusCode::FORBIDDEN, "insufficient_scope").await;
    assert_error(post(gemini_only.clone(), OPENAI).await, StatusCode::FORBIDDEN, "model_not_allowed").await;
    assert_json(post(gemini_only.clone(), GEMINI).await, StatusCode::OK).await;
    let listed = app.get_ok(&gemini_only, "/v1/models").await;
    assert_eq!(
        listed["data"],
        json!([{"id": GEMINI, "object": "model", "created": 0, "owned_by": "confab"}])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_a_clear_client_error() {
    let (app, mock) = setup(&[]).await;
    let ada = app.user("ada@example.com").await;
    let cases = [
        (
            json!({"model": OPENAI, "input": []}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "must not be empty",
        ),
        (
            json!({"model": OPENAI, "input": ["a", ""]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "input 1 is empty",
        ),
        (
            json!({"model": OPENAI, "input": vec!["a"; 2049]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "at most 2048",
        ),
        (
            json!({"model": OPENAI, "input": {"a": 1}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "input must be",
        ),
        (
            json!({"model": "oa-chat", "input": "a"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "is a chat model",
        ),
        (
            json!({"model": GEMINI, "input": [[1, 2]]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token arrays",
        ),
        (
            json!({"model": TITAN, "input": "a", "dimensions": 300}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "256, 512 or 1024",
        ),
        (json!({"model": "nope", "input": "a"}), StatusCode::NOT_FOUND, "model_not_found", "no model"),
    ];
    for (body, status, code, words) in cases {
        let error = assert_error_ctx(embed(&ada, body.clone()).await, status, code, &body.to_string()).await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
    assert!(mock.all_requests().is_empty(), "nothing bad reaches a provider");
    let chat = json!({"model": GEMINI, "messages": [{"role": "user", "content": "hi"}]});
    let error = assert_error(
        ada.post("/v1/chat/completions", &chat).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(error["error"]["message"].as_str().unwrap().contains("embedding model"));
    // Token arrays pass through to an OpenAI-compatible target.
    let tokens = embed(&ada, json!({"model": OPENAI, "input": [[1, 2, 3]]})).await.good().await;
    assert_eq!(tokens["usage"]["prompt_tokens"], 3);
}
