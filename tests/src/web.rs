//! A small web for research tests: a SearXNG-style JSON search API and the pages its
//! results name, on one loopback address (which the server under test is told to allow),
//! plus a "private" server on another loopback port that one page redirects to. The
//! private server must never be reached: confab refuses the redirect.

use axum::http::{StatusCode, Uri, header};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct TestWeb {
    /// `127.0.0.1:<port>` of the search API and the pages.
    pub host: String,
    /// `http://<host>`.
    base: String,
    /// The queries searched, in order.
    queries: Arc<Mutex<Vec<String>>>,
    /// Requests that reached the private server.
    private_hits: Arc<AtomicUsize>,
    _servers: [tokio::task::JoinHandle<()>; 2],
}

/// The pages every search finds, best first: two articles and a redirect inside.
pub const PAGES: [(&str, &str); 3] = [
    ("/page/1", "Obligations apply"),
    ("/redirect", "A redirect inside"),
    ("/page/2", "The code of practice"),
];

impl TestWeb {
    pub async fn start() -> TestWeb {
        let private = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let private_url = format!("http://{}/secret", private.local_addr().expect("address"));
        let private_hits = Arc::new(AtomicUsize::new(0));
        let hits = private_hits.clone();
        let private_router = axum::Router::new().fallback(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { "internal secret" }
        });

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let host = listener.local_addr().expect("address").to_string();
        let queries = Arc::new(Mutex::new(Vec::new()));
        let asked = queries.clone();
        let base = format!("http://{host}");
        let router = axum::Router::new()
            .route(
                "/search",
                axum::routing::get(move |uri: Uri| {
                    let query = query_of(&uri);
                    asked.lock().unwrap().push(query.clone());
                    let results: Vec<_> = PAGES
                        .iter()
                        .map(|(path, title)| json!({"url": format!("{base}{path}"), "title": title, "content": format!("about {query}")}))
                        .collect();
                    let body = json!({"query": query, "results": results}).to_string();
                    async move { ([(header::CONTENT_TYPE, "application/json")], body) }
                }),
            )
            .route("/page/{n}", axum::routing::get(|uri: Uri| async move { page(uri.path()) }))
            .route(
                "/redirect",
                axum::routing::get(move || async move { (StatusCode::FOUND, [(header::LOCATION, private_url)]) }),
            );
        let servers = [
            tokio::spawn(async move {
                let _ = axum::serve(private, private_router).await;
            }),
            tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            }),
        ];
        let base = format!("http://{host}");
        TestWeb { host, base, queries, private_hits, _servers: servers }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }

    /// The settings that point confab's search and fetcher here, with `extra`.
    pub fn settings<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut settings = vec![
            ("CONFAB_SEARCH_PROVIDER", "searxng"),
            ("CONFAB_SEARCH_BASE_URL", self.base.as_str()),
            ("CONFAB_FETCH_ALLOW_HOSTS", self.host.as_str()),
        ];
        settings.extend_from_slice(extra);
        settings
    }

    pub fn queries(&self) -> Vec<String> {
        self.queries.lock().unwrap().clone()
    }

    pub fn private_hits(&self) -> usize {
        self.private_hits.load(Ordering::SeqCst)
    }
}

fn query_of(uri: &Uri) -> String {
    let mut pairs = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes());
    pairs.find(|(k, _)| k == "q").map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// An article page with scripts and navigation around its text.
fn page(path: &str) -> ([(header::HeaderName, &'static str); 1], String) {
    let text = match path {
        "/page/1" => "Obligations for providers of general-purpose AI models apply from 2 August 2025.",
        _ => "The code of practice for general-purpose AI was published in July 2025.",
    };
    let filler = "The page goes on with more sentences, long enough to be read as an article. ".repeat(4);
    let html = format!(
        "<html><head><title>{path}</title><script>window.secretTracker = 1;</script></head><body>\
         <nav><a href=\"/\">Site menu</a></nav><article><h1>{path}</h1><p>{text} {filler}</p></article></body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html)
}
