//! The web app in headless Chromium (Debian's `chromium`), driven by Playwright's
//! Python package (`tests/python/webapp.py`) against the real local server, whose
//! models the mock provider answers. The test command installs both; the script saves
//! its screenshots to `docs/screenshots/` for the README.

use confab_mock_provider::{MockProvider, Scenario};
use confab_tests::python::run_script;
use confab_tests::*;

/// Markdown with a code block, so highlighting and the copy button show.
const REPLY: &str = "Here is fibonacci in Python:\n\n```python\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n```\n\nIt is *slow* for large `n`.";

/// Every path outside the API is the app's page (revalidated each time, under its own
/// CSP); the files it names are immutable; API paths keep their JSON answers.
#[tokio::test(flavor = "multi_thread")]
async fn paths_outside_the_api_serve_the_app() {
    let app = spawn_app().await;
    let mut script = None;
    for path in
        ["/", "/c/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/settings", "/console/users", "/share/abc", "/no/such/page"]
    {
        let resp = send(app.request(Method::GET, path)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-cache"), "{path}");
        let csp = header(&resp, "content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        let page = resp.text().await.unwrap();
        let src = page.split("<script type=\"module\" src=\"").nth(1).and_then(|s| s.split('"').next());
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
    let post = send(app.request(Method::POST, "/settings")).await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    let api = send(app.request(Method::GET, "/sessions/no/such/route")).await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.json::<Value>().await.unwrap()["error"]["code"], "not_found");
}

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
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let args = vec![
        app.base_url.clone(),
        format!("{root}/docs/screenshots"),
        format!("{root}/tests/webapp/axe.min.js"),
    ];
    run_script("webapp.py", args, "Debian's `chromium` or the `playwright` package").await;
}
