//! The web app in headless Chromium (Debian's `chromium`), driven by Playwright's
//! Python package (`tests/python/webapp.py`) against the real local server, whose
//! models the mock provider answers. The test command installs both. The script saves
//! its screenshots to `CONFAB_SCREENSHOTS_DIR` (`docs/screenshots` refreshes the
//! README's), by default a folder in the system's temporary directory. Research runs
//! over the test web (`confab_tests::web`); the script reads the mock provider's request
//! log to see what reached the model.

use confab_mock_provider::{MockProvider, Scenario};
use confab_tests::lambda::free_port;
use confab_tests::oidc::{ALICE, RealProvider, accounts, provider_settings};
use confab_tests::python::run_script;
use confab_tests::web::TestWeb;
use confab_tests::webapp::serves_the_app;
use confab_tests::*;

/// Markdown with a code block, so highlighting and the copy button show.
const REPLY: &str = "Here is fibonacci in Python:\n\n```python\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n```\n\nIt is *slow* for large `n`.";

/// What the research model answers every agent: a report citing both test pages, with
/// the plan and the analysis as JSON at its end.
const RESEARCH_ANSWER: &str = "Obligations for general-purpose AI models apply from 2 August 2025 [1], \
     and a code of practice was published in July 2025 [2].\n\n\
     `{\"questions\": [\"gpai obligations\", \"gpai code of practice\"], \"summary\": \"Both dated.\", \"more\": []}`";

/// The app's paths, as every runtime serves them (`confab_tests::webapp`).
#[tokio::test(flavor = "multi_thread")]
async fn paths_outside_the_api_serve_the_app() {
    serves_the_app(&spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_web_app_works_in_chromium() {
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    mock.set_scenario("oa-model", Scenario::reply(REPLY));
    // Long enough to press stop while it streams; stop ends it early.
    mock.set_scenario("slow-model", Scenario::tokens(2000).with_token_delay_ms(20));
    mock.set_scenario("oa-vision", Scenario::reply("A small gradient."));
    // Every research agent asks this model: the planner and the analyzer read the JSON
    // at its end, the synthesizer's report is all of it. Slow enough to watch the steps.
    mock.set_scenario("research-model", Scenario::reply(RESEARCH_ANSWER).with_token_delay_ms(60));
    let openai_url = format!("{}/v1", mock.base_url());
    let web = TestWeb::start().await;
    let settings = web.settings(&[
        ("CONFAB_OPENAI_BASE_URL", &openai_url),
        ("CONFAB_OPENAI_API_KEY", "openai-key"),
        ("CONFAB_OPENAI_MODELS", "oa-model,slow-model,research-model"),
        ("CONFAB_OPENAI_VISION_MODELS", "oa-vision"),
        ("CONFAB_RESEARCH_MODEL", "research-model"),
        ("CONFAB_TITLE_MODEL", "oa-model"),
        // The script's too-large file is just over this.
        ("CONFAB_MAX_ATTACHMENT_BYTES", "1000000"),
        // The app refreshes a minute before expiry: here 10 s after each sign-in.
        ("CONFAB_ACCESS_TTL_SECONDS", "70"),
    ]);
    let app = spawn_app_with(&settings).await;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // The README's screenshots are refreshed on request only, so a test run leaves the
    // checkout as it was.
    let shots = std::env::var("CONFAB_SCREENSHOTS_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().join("confab-screenshots").display().to_string());
    let args = vec![app.base_url.clone(), shots, format!("{root}/tests/webapp/axe.min.js"), mock.base_url()];
    run_script("webapp.py", args, "Debian's `chromium` or the `playwright` package").await;
    let mut queries = web.queries();
    queries.sort();
    queries.dedup();
    assert_eq!(queries, ["gpai code of practice", "gpai obligations"], "the research plan was searched");
}

/// The identity provider's button on the sign-in page, against a real OpenID provider
/// (oidc-provider): its login and consent pages, then back in the app, signed in.
#[tokio::test(flavor = "multi_thread")]
async fn the_identity_provider_button_signs_in() {
    let public_url = format!("http://127.0.0.1:{}", free_port());
    let provider = RealProvider::start_for("corp", accounts(), &public_url);
    let mut settings = provider_settings("corp", &provider.issuer, &provider.client_secret);
    settings.retain(|(name, _)| name != "CONFAB_PUBLIC_URL");
    let listen = public_url.trim_start_matches("http://").to_string();
    settings.extend([("CONFAB_PUBLIC_URL".into(), public_url.clone()), ("CONFAB_LISTEN".into(), listen)]);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&settings).await;
    assert_eq!(app.base_url, public_url);
    run_script(
        "webapp_sso.py",
        vec![public_url, ALICE.into()],
        "Debian's `chromium` or the `playwright` package",
    )
    .await;
}
