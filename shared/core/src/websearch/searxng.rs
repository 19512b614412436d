//! SearXNG's JSON API: `GET /search?q=&format=json` (the instance must enable the
//! `json` format); results in `results[]` `{url, title, content}`. Instances need no
//! key; one given is sent as a bearer token, for instances behind a proxy that asks.

use bytes::Bytes;

pub(super) fn request(base: &str, key: Option<&str>, query: &str) -> http::Result<http::Request<Bytes>> {
    let query = serde_urlencoded::to_string([("q", query), ("format", "json")]).unwrap_or_default();
    let mut request =
        http::Request::get(format!("{base}/search?{query}")).header(http::header::ACCEPT, "application/json");
    if let Some(key) = key {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
    }
    request.body(Bytes::new())
}
