//! The web app in headless Chromium (Debian's `chromium`), driven by Playwright's
//! Python package (`tests/python/webapp.py`) against the real local server, whose
//! models the mock provider answers. The test command installs both. The script saves
//! its screenshots to `CONFAB_SCREENSHOTS_DIR` (`docs/screenshots` refreshes the
//! README's), by default a folder in the system's temporary directory. Research runs
//! over the test web (`confab_tests::web`); the script reads the mock provider's request
//! log to see what reached the model.

use confab_mock_provider::{MockProvider, Scenario};
use confab_tests::python::run_script;
use confab_tests::web::TestWeb;
use confab_tests::*;

/// Markdown with a code block, so highlighting and the copy button show.
const REPLY: &str = "Here is fibonacci in Python:\n\n```python\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n```\n\nIt is *slow* for large `n`.";

/// What the research model answers every agent: a report citing both test pages, with
/// the plan and the analysis as JSON at its end.
const RESEARCH_ANSWER: &str = "Obligations for general-purpose AI models apply from 2 August 2025 [1], \
     and a code of practice was published in July 2025 [2].\n\n\
     `{\"questions\": [\"gpai obligations\", \"gpai code of practice\"], \"summary\": \"Both dated.\", \"more\": []}`";

/// A browser gets the app's page on every path outside the API (revalidated each time,
/// under its own CSP); the files it names are immutable; programs and API paths keep
/// their JSON answers.
#[tokio::test(flavor = "multi_thread")]
async fn paths_outside_the_api_serve_the_app() {
    let app = spawn_app().await;
    let page = |method, path| app.request(method, path).header("accept", "text/html,*/*;q=0.8");
    let pages =
        ["/", "/c/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/settings", "/console/users", "/share/abc", "/no/such"];
    let mut script = None;
    for path in pages {
        let resp = send(page(Method::GET, path)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-cache"), "{path}");
        let csp = header(&resp, "content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        let html = resp.text().await.unwrap();
        let src = html.split("<script type=\"module\" src=\"").nth(1).and_then(|s| s.split('"').next());
        script = Some(src.expect("the page loads its module").to_string());
    }
    let script = script.unwrap();
    assert!(script.starts_with("/assets/") && script.ends_with("/js/main.js"), "{script}");
    let resp = send(app.request(Method::GET, &script)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("public, max-age=31536000, immutable"));
    assert_eq!(header(&resp, "content-type").as_deref(), Some("text/javascript; charset=utf-8"));
    let stale = send(app.request(Method::GET, "/assets/000000000000/js/main.js")).await;
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    let post = send(page(Method::POST, "/settings")).await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    for (ctx, req) in [
        ("an API path", page(Method::GET, "/sessions/no/such/route")),
        ("a program", app.request(Method::GET, "/settings").header("accept", "application/json")),
    ] {
        let resp = send(req).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{ctx}");
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "not_found", "{ctx}");
    }
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
    let mut settings: Vec<(&str, String)> = web.settings();
    settings.extend([
        ("CONFAB_OPENAI_BASE_URL", openai_url),
        ("CONFAB_OPENAI_API_KEY", "openai-key".into()),
        ("CONFAB_OPENAI_MODELS", "oa-model,slow-model,research-model".into()),
        ("CONFAB_OPENAI_VISION_MODELS", "oa-vision".into()),
        ("CONFAB_RESEARCH_MODEL", "research-model".into()),
        ("CONFAB_TITLE_MODEL", "oa-model".into()),
        // The script's too-large file is just over this.
        ("CONFAB_MAX_ATTACHMENT_BYTES", "1000000".into()),
        // The app refreshes a minute before expiry: here 10 s after each sign-in.
        ("CONFAB_ACCESS_TTL_SECONDS", "70".into()),
    ]);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
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
