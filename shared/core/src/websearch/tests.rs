use super::*;
use crate::config::Config;
use crate::testing::{self, Reply, TestApp};

fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn app_with(pairs: &[(&str, &str)]) -> TestApp {
    let config = Config::from_settings(&settings(pairs)).unwrap();
    testing::app().with_config(config).build()
}

fn search(t: &TestApp, query: &str) -> Result<Vec<SearchHit>, SearchError> {
    let search = t.app.search.clone().expect("search configured");
    t.run(async move { search.search(query, 2).await })
}

fn expected() -> Vec<(String, String)> {
    [
        (
            "https://digital-strategy.ec.europa.eu/en/faqs/general-purpose-ai-models",
            "General-Purpose AI Models in the AI Act",
        ),
        ("https://artificialintelligenceact.eu/implementation-timeline/", "AI Act timeline"),
    ]
    .map(|(u, t)| (u.to_string(), t.to_string()))
    .to_vec()
}

fn urls_and_titles(hits: &[SearchHit]) -> Vec<(String, String)> {
    hits.iter().map(|h| (h.url.clone(), h.title.clone())).collect()
}

#[test]
fn settings_choose_the_provider_and_its_key() {
    assert_eq!(read(&settings(&[])).unwrap(), None);
    assert_eq!(read(&settings(&[("CONFAB_SEARCH_PROVIDER", "none")])).unwrap(), None);
    let brave = read(&settings(&[("CONFAB_SEARCH_PROVIDER", "Brave"), ("CONFAB_SEARCH_API_KEY", "k")]))
        .unwrap()
        .unwrap();
    assert_eq!((brave.kind, brave.base_url.as_str()), (SearchKind::Brave, "https://api.search.brave.com"));
    assert_eq!(format!("{:?}", brave.key), "Value(<redacted>)", "the key never shows");
    let searxng = read(&settings(&[
        ("CONFAB_SEARCH_PROVIDER", "searxng"),
        ("CONFAB_SEARCH_BASE_URL", "http://searx.internal:8080/searx/"),
        ("CONFAB_SEARCH_API_KEY", "k"),
        ("CONFAB_SEARCH_API_KEY_SECRET", "confab-provider-search"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(searxng.base_url, "http://searx.internal:8080/searx");
    assert_eq!(searxng.key, SearchKey::Secret("confab-provider-search".into()));
}

#[test]
fn bad_settings_are_named() {
    let bad = [
        vec![("CONFAB_SEARCH_PROVIDER", "google")],
        vec![("CONFAB_SEARCH_PROVIDER", "searxng")],
        vec![("CONFAB_SEARCH_PROVIDER", "brave"), ("CONFAB_SEARCH_BASE_URL", "ftp://x")],
        vec![("CONFAB_SEARCH_PROVIDER", "brave"), ("CONFAB_SEARCH_API_KEY_SECRET", "prod/db-password")],
    ];
    let names = bad.map(|pairs| read(&settings(&pairs)).unwrap_err().name);
    assert_eq!(
        names,
        [
            "CONFAB_SEARCH_PROVIDER",
            "CONFAB_SEARCH_BASE_URL",
            "CONFAB_SEARCH_BASE_URL",
            "CONFAB_SEARCH_API_KEY_SECRET"
        ]
    );
}

#[test]
fn brave_reads_its_web_results() {
    let t = app_with(&[("CONFAB_SEARCH_PROVIDER", "brave"), ("CONFAB_SEARCH_API_KEY", "brave-key")]);
    t.http.reply(Reply::new(200).body(include_str!("fixtures/brave.json")));
    let hits = search(&t, "eu ai act & gpai").unwrap();
    assert_eq!(urls_and_titles(&hits), expected());
    assert!(hits[0].snippet.starts_with("Obligations for providers"));
    let sent = &t.http.sent()[0];
    assert_eq!(sent.uri, "https://api.search.brave.com/res/v1/web/search?q=eu+ai+act+%26+gpai&count=2");
    assert_eq!(sent.headers["x-subscription-token"], "brave-key");
}

#[test]
fn tavily_posts_the_query_with_a_bearer_key_from_its_secret() {
    let t = app_with(&[
        ("CONFAB_SEARCH_PROVIDER", "tavily"),
        ("CONFAB_SEARCH_API_KEY_SECRET", "confab-provider-tavily"),
    ]);
    t.secrets.set("confab-provider-tavily", "tvly-key");
    t.http.reply(Reply::new(200).body(include_str!("fixtures/tavily.json")));
    assert_eq!(urls_and_titles(&search(&t, "gpai").unwrap()), expected());
    let sent = &t.http.sent()[0];
    assert_eq!((sent.method.as_str(), sent.uri.as_str()), ("POST", "https://api.tavily.com/search"));
    assert_eq!(sent.headers["authorization"], "Bearer tvly-key");
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body, serde_json::json!({"query": "gpai", "max_results": 2}));
}

#[test]
fn searxng_asks_for_json_and_keeps_only_web_links() {
    let t =
        app_with(&[("CONFAB_SEARCH_PROVIDER", "searxng"), ("CONFAB_SEARCH_BASE_URL", "http://searx.test/")]);
    t.http.reply(Reply::new(200).body(include_str!("fixtures/searxng.json")));
    let search = t.app.search.clone().unwrap();
    let hits = t.run(async move { search.search("gpai", 10).await }).unwrap();
    assert_eq!(urls_and_titles(&hits), expected(), "the magnet: link is dropped");
    let sent = &t.http.sent()[0];
    assert_eq!(sent.uri, "http://searx.test/search?q=gpai&format=json");
    assert!(!sent.headers.contains_key("authorization"));
}

#[test]
fn errors_are_told_apart() {
    let t = app_with(&[("CONFAB_SEARCH_PROVIDER", "brave"), ("CONFAB_SEARCH_API_KEY", "k")]);
    t.http.reply(Reply::new(429).header("retry-after", "3").body("{}"));
    t.http.reply(Reply::new(401).body(r#"{"error":"bad key k"}"#));
    t.http.reply(Reply::new(503));
    t.http.reply(Reply::new(200).body("<html>"));
    t.http.fail(crate::ports::HttpError::Connect("refused".into()));
    let retry_after = Some(std::time::Duration::from_secs(3));
    assert_eq!(search(&t, "q"), Err(SearchError::RateLimited { retry_after }));
    assert!(
        matches!(search(&t, "q"), Err(SearchError::Auth(m)) if !m.contains('k')),
        "no key in the message"
    );
    assert!(matches!(search(&t, "q"), Err(SearchError::Unavailable(m)) if m.contains("503")));
    assert!(matches!(search(&t, "q"), Err(SearchError::Unavailable(m)) if m.contains("unreadable")));
    assert!(matches!(search(&t, "q"), Err(SearchError::Unavailable(_))));
}

#[test]
fn a_missing_key_secret_is_an_auth_failure() {
    let t = app_with(&[
        ("CONFAB_SEARCH_PROVIDER", "brave"),
        ("CONFAB_SEARCH_API_KEY_SECRET", "confab-provider-brave"),
    ]);
    assert!(matches!(search(&t, "q"), Err(SearchError::Auth(m)) if m.contains("confab-provider-brave")));
    assert!(t.http.sent().is_empty());
}
