//! The response cache: a `/v1` reply to a deterministic request (temperature 0 or a
//! `seed`; embeddings always) is kept for `CONFAB_CACHE_TTL_SECONDS` and replayed to the same user's same
//! request without calling the provider. The key is the request as the client sent it,
//! with its fields in one order and the streaming switches left out (a streamed and a
//! whole request share replies), so two requests share an entry exactly when they ask
//! the same thing of the same model name.

use crate::app::App;
use crate::domain::Id;
use crate::http::Response;
use crate::metrics::{CACHE_REQUESTS, Sample};
use http::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The response header that says whether a cacheable request was answered from the cache.
pub const HEADER: &str = "x-confab-cache";

/// Fields that change how a reply is delivered, not what it says.
const DELIVERY_FIELDS: [&str; 2] = ["stream", "stream_options"];

/// Where a cacheable request's reply is kept: the user's, for one API's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub user_id: Id,
    /// Hex SHA-256 of the API's name and the request in canonical form.
    pub hash: String,
}

/// Whether a cacheable request was answered from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
        }
    }
}

/// The reply kept for `key`; a cache that cannot be read is a miss (and logged), so
/// the caller asks the provider.
pub async fn kept<T: DeserializeOwned>(app: &App, key: &CacheKey) -> Option<T> {
    crate::repo::cache::get(app, key).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the response cache could not be read");
        None
    })
}

/// Says on the response whether a cacheable request to `api` was answered from the
/// cache, and counts it.
pub fn mark(app: &App, api: &str, mut resp: Response, status: Option<CacheStatus>) -> Response {
    if let Some(status) = status {
        resp.headers_mut().insert(HEADER, HeaderValue::from_static(status.as_str()));
        app.metrics.record(&[Sample::new(&CACHE_REQUESTS, &[api, status.as_str()], 1.0)]);
    }
    resp
}

/// The key of `body`, a chat request to `api` by `user_id`, when its reply may be
/// cached: the cache is on, the client did not say `Cache-Control: no-store`, and the
/// request is deterministic (temperature 0 or a seed). Otherwise `None`: never read,
/// never kept.
pub fn key(app: &App, headers: &HeaderMap, user_id: Id, api: &str, body: &[u8]) -> Option<CacheKey> {
    keyed(app, headers, user_id, api, body, deterministic)
}

/// The same for an embeddings request, which is always deterministic.
pub fn embeddings_key(app: &App, headers: &HeaderMap, user_id: Id, body: &[u8]) -> Option<CacheKey> {
    keyed(app, headers, user_id, "embeddings", body, |_| true)
}

fn keyed(
    app: &App,
    headers: &HeaderMap,
    user_id: Id,
    api: &str,
    body: &[u8],
    repeatable: fn(&Map<String, Value>) -> bool,
) -> Option<CacheKey> {
    if app.config.cache_ttl_seconds == 0 || no_store(headers) {
        return None;
    }
    let Ok(Value::Object(mut request)) = serde_json::from_slice::<Value>(body) else { return None };
    if !repeatable(&request) {
        return None;
    }
    for field in DELIVERY_FIELDS {
        request.remove(field);
    }
    let mut hash = Sha256::new();
    hash.update(api.as_bytes());
    hash.update([0]);
    hash.update(canonical(Value::Object(request)).to_string().as_bytes());
    let hash = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some(CacheKey { user_id, hash })
}

fn no_store(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-store"))
}

/// Temperature 0 asks for the likeliest reply; a seed for a repeatable one.
fn deterministic(request: &Map<String, Value>) -> bool {
    let zero_temperature = request.get("temperature").and_then(Value::as_f64) == Some(0.0);
    let seeded = request.get("seed").is_some_and(|seed| !seed.is_null());
    zero_temperature || seeded
}

/// The value with every object's keys in sorted order, whatever order they came in.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn app(ttl: u32) -> std::sync::Arc<App> {
        let config = crate::Config { cache_ttl_seconds: ttl, ..crate::Config::default() };
        testing::app().with_config(config).build().app
    }

    fn key_of(app: &App, headers: &HeaderMap, user: Id, api: &str, body: &str) -> Option<String> {
        key(app, headers, user, api, body.as_bytes()).map(|k| k.hash)
    }

    #[test]
    fn only_deterministic_requests_have_a_key() {
        let (app, user, none) = (app(60), Id::lowest_at(1), HeaderMap::new());
        for body in [
            r#"{"model":"m","temperature":0}"#,
            r#"{"model":"m","temperature":0.0}"#,
            r#"{"model":"m","seed":7}"#,
        ] {
            assert!(key_of(&app, &none, user, "chat", body).is_some(), "{body}");
        }
        for body in [
            r#"{"model":"m"}"#,
            r#"{"model":"m","temperature":0.2}"#,
            r#"{"model":"m","seed":null}"#,
            "[1]",
            "not json",
        ] {
            assert_eq!(key_of(&app, &none, user, "chat", body), None, "{body}");
        }
        assert_eq!(key_of(&self::app(0), &none, user, "chat", r#"{"seed":1}"#), None, "the cache is off");
    }

    #[test]
    fn the_key_ignores_field_order_and_delivery_but_not_the_question() {
        let app = app(60);
        let hash = |api, body: &str| key_of(&app, &HeaderMap::new(), Id::lowest_at(1), api, body);
        let asked = r#"{"model":"m","seed":1,"messages":[{"role":"user","content":"hi"}]}"#;
        let reordered = r#"{"messages":[{"content":"hi","role":"user"}],"stream":true,
            "stream_options":{"include_usage":true},"seed":1,"model":"m"}"#;
        assert_eq!(hash("chat", asked), hash("chat", reordered));
        assert_ne!(hash("chat", asked), hash("chat", &asked.replace("hi", "ho")));
        assert_ne!(hash("chat", asked), hash("messages", asked));
        // Each user's entries are their own (the key's partition).
        let of = |user| key(&app, &HeaderMap::new(), user, "chat", asked.as_bytes()).map(|k| k.user_id);
        assert_eq!(of(Id::lowest_at(2)), Some(Id::lowest_at(2)));
    }

    #[test]
    fn no_store_turns_it_off_for_the_request() {
        let (app, user) = (app(60), Id::lowest_at(1));
        for value in ["no-store", "max-age=0, No-Store"] {
            let mut headers = HeaderMap::new();
            headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static(value));
            assert_eq!(key_of(&app, &headers, user, "chat", r#"{"seed":1}"#), None, "{value}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        assert!(key_of(&app, &headers, user, "chat", r#"{"seed":1}"#).is_some());
    }
}
