//! Tavily: `POST /search` `{query, max_results}` with `Authorization: Bearer <key>`;
//! results in `results[]` `{title, url, content}`.

use bytes::Bytes;

/// Tavily answers at most 20 results per request.
const MAX_COUNT: usize = 20;

pub(super) fn request(
    base: &str,
    key: Option<&str>,
    query: &str,
    count: usize,
) -> http::Result<http::Request<Bytes>> {
    let body = serde_json::json!({ "query": query, "max_results": count.clamp(1, MAX_COUNT) });
    http::Request::post(format!("{base}/search"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::AUTHORIZATION, format!("Bearer {}", key.unwrap_or_default()))
        .body(Bytes::from(body.to_string()))
}
