//! The official `anthropic` Python package against `/v1/messages` on the local server,
//! over models the mock provider answers in the OpenAI, Anthropic and Gemini formats. The
//! test command installs the package into a virtualenv and points `CONFAB_PYTHON` at it.

use confab_mock_provider::MockProvider;
use confab_tests::*;
use std::process::Command;

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
    let python = std::env::var("CONFAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/anthropic_client.py");
    let base_url = app.base_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .args([script, &base_url, &key, &base, "oa-model", "an-model", "ge-model"])
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("cannot run python ({e}); run ./scripts/test, which installs it"));
    assert!(
        output.status.success(),
        "the anthropic client failed (is the `anthropic` package installed? ./scripts/test installs it)\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
