//! The official `anthropic` Python package against `/v1/messages` on the local server,
//! over models the mock provider answers in the OpenAI, Anthropic and Gemini formats. The
//! test command installs the package into a virtualenv and points `CONFAB_PYTHON` at it.

use confab_mock_provider::MockProvider;
use confab_tests::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_official_anthropic_python_client_works_unchanged_over_every_format() {
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    let base = mock.base_url();
    let openai_url = format!("{base}/v1");
    let app = spawn_app_with(&[
        ("CONFAB_OPENAI_BASE_URL", &openai_url),
        ("CONFAB_OPENAI_API_KEY", "openai-key"),
        ("CONFAB_OPENAI_MODELS", "oa-model"),
        ("CONFAB_ANTHROPIC_BASE_URL", &base),
        ("CONFAB_ANTHROPIC_API_KEY", "anthropic-key"),
        ("CONFAB_ANTHROPIC_MODELS", "an-model"),
        ("CONFAB_GEMINI_BASE_URL", &base),
        ("CONFAB_GEMINI_API_KEY", "gemini-key"),
        ("CONFAB_GEMINI_MODELS", "ge-model"),
    ])
    .await;
    let ada = app.register("ada@example.com").await;
    let key = str_field(&app.create_api_key(&ada.access_token, "python").await, "key");
    let models = ["oa-model", "an-model", "ge-model"].map(String::from);
    run_python(
        Some("anthropic_client.py"),
        [app.base_url.clone(), key, base].into_iter().chain(models).collect(),
    )
    .await;
}
