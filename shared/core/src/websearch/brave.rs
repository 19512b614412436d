//! Brave's Web Search API: `GET /res/v1/web/search?q=&count=` with the key in
//! `X-Subscription-Token`; results in `web.results[]` `{title, url, description}`.

use super::hits_of;
use crate::ports::SearchHit;
use bytes::Bytes;
use serde::Deserialize;

/// Brave answers at most 20 results per request.
const MAX_COUNT: usize = 20;

pub(super) fn request(
    base: &str,
    key: Option<&str>,
    query: &str,
    count: usize,
) -> http::Result<http::Request<Bytes>> {
    let count = count.clamp(1, MAX_COUNT).to_string();
    let query = serde_urlencoded::to_string([("q", query), ("count", count.as_str())]).unwrap_or_default();
    http::Request::get(format!("{base}/res/v1/web/search?{query}"))
        .header(http::header::ACCEPT, "application/json")
        .header("x-subscription-token", key.unwrap_or_default())
        .body(Bytes::new())
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    web: Option<Web>,
}

#[derive(Deserialize)]
struct Web {
    #[serde(default)]
    results: Vec<Result>,
}

#[derive(Deserialize)]
struct Result {
    url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
}

pub(super) fn parse(body: &[u8]) -> std::result::Result<Vec<SearchHit>, String> {
    hits_of(body, |r: Response| {
        let results = r.web.map(|w| w.results).unwrap_or_default();
        results
            .into_iter()
            .map(|r| SearchHit { url: r.url, title: r.title, snippet: r.description })
            .collect()
    })
}
