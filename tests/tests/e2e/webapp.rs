//! The web app in headless Chromium (Debian's `chromium`), driven by Playwright's
//! Python package (`tests/python/webapp.py`) against the real local server, whose
//! models the mock provider answers. The test command installs both; the script saves
//! its screenshots to `docs/screenshots/` for the README.

use confab_mock_provider::{MockProvider, Scenario};
use confab_tests::*;
use std::process::Command;

/// Markdown with a code block, so highlighting and the copy button show.
const REPLY: &str = "Here is fibonacci in Python:\n\n```python\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n```\n\nIt is *slow* for large `n`.";

#[tokio::test(flavor = "multi_thread")]
async fn the_web_app_works_in_chromium() {
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    mock.set_scenario("oa-model", Scenario::reply(REPLY));
    // Long enough to press stop while it streams; stop ends it early.
    mock.set_scenario("slow-model", Scenario::tokens(2000).with_token_delay_ms(20));
    let openai_url = format!("{}/v1", mock.base_url());
    let app = spawn_app_with(&[
        ("CONFAB_OPENAI_BASE_URL", &openai_url),
        ("CONFAB_OPENAI_API_KEY", "openai-key"),
        ("CONFAB_OPENAI_MODELS", "oa-model,slow-model"),
        ("CONFAB_TITLE_MODEL", "oa-model"),
    ])
    .await;
    let python = std::env::var("CONFAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let script = format!("{root}/tests/python/webapp.py");
    let shots = format!("{root}/docs/screenshots");
    let axe = format!("{root}/tests/webapp/axe.min.js");
    let base_url = app.base_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python).args([&script, &base_url, &shots, &axe]).output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("cannot run python ({e}); run ./scripts/test, which installs it"));
    assert!(
        output.status.success(),
        "the browser checks failed (are `chromium` and the `playwright` package installed? ./scripts/test installs them)\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
