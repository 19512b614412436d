//! Web search over the HTTP port: the `CONFAB_SEARCH_*` settings and one adapter of
//! the [`WebSearch`] port that speaks Brave's Web Search API, Tavily's or SearXNG's
//! JSON API.

mod brave;
mod searxng;
mod tavily;

use crate::config::ConfigError;
use crate::ports::{HttpClient, SearchError, SearchHit, Secrets, WebSearch};
use crate::providers::call::read_prefix;
use crate::providers::{check_secret_name, retry_after};
use crate::trace::traced;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;
use url::Url;

/// Most bytes of a search response read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    Brave,
    Tavily,
    Searxng,
}

impl SearchKind {
    /// The provider's public API, for those that have one.
    fn default_base_url(self) -> Option<&'static str> {
        match self {
            SearchKind::Brave => Some("https://api.search.brave.com"),
            SearchKind::Tavily => Some("https://api.tavily.com"),
            SearchKind::Searxng => None,
        }
    }
}

/// Where the search key comes from. Its value never shows in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum SearchKey {
    None,
    /// `CONFAB_SEARCH_API_KEY` (locally).
    Value(String),
    /// `CONFAB_SEARCH_API_KEY_SECRET`: a secret's name, read on every search.
    Secret(String),
}

impl std::fmt::Debug for SearchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchKey::None => f.write_str("None"),
            SearchKey::Value(_) => f.write_str("Value(<redacted>)"),
            SearchKey::Secret(name) => write!(f, "Secret({name:?})"),
        }
    }
}

/// The `CONFAB_SEARCH_*` settings; absent when `CONFAB_SEARCH_PROVIDER` is `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchSettings {
    pub kind: SearchKind,
    /// Without a trailing `/`.
    pub base_url: String,
    pub key: SearchKey,
}

/// Reads `CONFAB_SEARCH_PROVIDER` (`none`, `brave`, `tavily`, `searxng`),
/// `CONFAB_SEARCH_BASE_URL` (needed for SearXNG), `CONFAB_SEARCH_API_KEY` and
/// `CONFAB_SEARCH_API_KEY_SECRET` (preferred when both are given).
pub fn read(settings: &BTreeMap<String, String>) -> Result<Option<SearchSettings>, ConfigError> {
    let get = |name: &str| settings.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let problem = |name: &str, problem: String| ConfigError { name: name.into(), problem };
    let kind = match get("CONFAB_SEARCH_PROVIDER").map(str::to_ascii_lowercase).as_deref() {
        None | Some("none") => return Ok(None),
        Some("brave") => SearchKind::Brave,
        Some("tavily") => SearchKind::Tavily,
        Some("searxng") => SearchKind::Searxng,
        Some(other) => {
            let expected = format!("expected none, brave, tavily or searxng, got {other:?}");
            return Err(problem("CONFAB_SEARCH_PROVIDER", expected));
        }
    };
    let base_url = match get("CONFAB_SEARCH_BASE_URL").or(kind.default_base_url()) {
        Some(raw) => base_url(raw).map_err(|p| problem("CONFAB_SEARCH_BASE_URL", p))?,
        None => return Err(problem("CONFAB_SEARCH_BASE_URL", "SearXNG needs its instance's URL".into())),
    };
    let key = match (get("CONFAB_SEARCH_API_KEY_SECRET"), get("CONFAB_SEARCH_API_KEY")) {
        (Some(name), _) => {
            check_secret_name(name).map_err(|p| problem("CONFAB_SEARCH_API_KEY_SECRET", p))?;
            SearchKey::Secret(name.into())
        }
        (None, Some(value)) => SearchKey::Value(value.into()),
        (None, None) => SearchKey::None,
    };
    Ok(Some(SearchSettings { kind, base_url, key }))
}

/// An absolute http(s) URL (a path is allowed: SearXNG may live under one), without a
/// trailing `/`, query or fragment.
fn base_url(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none();
    if !plain {
        return Err(format!("expected an http(s) URL without query, got {raw:?}"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The search adapter over the HTTP port.
pub struct HttpSearch {
    settings: SearchSettings,
    http: Arc<dyn HttpClient>,
    secrets: Arc<dyn Secrets>,
}

impl HttpSearch {
    pub fn new(settings: SearchSettings, http: Arc<dyn HttpClient>, secrets: Arc<dyn Secrets>) -> Self {
        HttpSearch { settings, http, secrets }
    }

    async fn key(&self) -> Result<Option<String>, SearchError> {
        match &self.settings.key {
            SearchKey::None => Ok(None),
            SearchKey::Value(value) => Ok(Some(value.clone())),
            SearchKey::Secret(name) => {
                let value =
                    self.secrets.get(name).await.map_err(|e| SearchError::Unavailable(e.to_string()))?;
                value.map(Some).ok_or_else(|| SearchError::Auth(format!("secret {name} does not exist")))
            }
        }
    }

    fn request(
        &self,
        key: Option<&str>,
        query: &str,
        count: usize,
    ) -> Result<http::Request<Bytes>, SearchError> {
        let base = &self.settings.base_url;
        let built = match self.settings.kind {
            SearchKind::Brave => brave::request(base, key, query, count),
            SearchKind::Tavily => tavily::request(base, key, query, count),
            SearchKind::Searxng => searxng::request(base, key, query),
        };
        built.map_err(|e| SearchError::Unavailable(format!("cannot build the request: {e}")))
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<SearchHit>, String> {
        match self.settings.kind {
            SearchKind::Brave => brave::parse(body),
            SearchKind::Tavily | SearchKind::Searxng => results_of(body),
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl WebSearch for HttpSearch {
    async fn search(&self, query: &str, count: usize) -> Result<Vec<SearchHit>, SearchError> {
        let key = self.key().await?;
        let request = self.request(key.as_deref(), query, count)?;
        let resp =
            self.http.send(traced(request)).await.map_err(|e| SearchError::Unavailable(e.to_string()))?;
        let status = resp.status.as_u16();
        let body = read_prefix(resp.body, MAX_RESPONSE_BYTES).await;
        match status {
            200..=299 => {}
            429 => return Err(SearchError::RateLimited { retry_after: retry_after(&resp.headers) }),
            401 | 403 | 432 => return Err(SearchError::Auth(format!("the search API answered {status}"))),
            _ => return Err(SearchError::Unavailable(format!("the search API answered {status}"))),
        }
        let mut hits = self.parse(&body).map_err(SearchError::Unavailable)?;
        hits.retain(|h| h.url.starts_with("http://") || h.url.starts_with("https://"));
        hits.truncate(count);
        Ok(hits)
    }
}

/// A JSON body whose results list is read by `results`, as hits.
fn hits_of<T: serde::de::DeserializeOwned>(
    body: &[u8],
    results: impl FnOnce(T) -> Vec<SearchHit>,
) -> Result<Vec<SearchHit>, String> {
    let parsed: T =
        serde_json::from_slice(body).map_err(|e| format!("an unreadable search response: {e}"))?;
    Ok(results(parsed))
}

/// Tavily's and SearXNG's results: `results[]` `{url, title, content}`.
#[derive(serde::Deserialize)]
struct Listed {
    #[serde(default)]
    results: Vec<ListedResult>,
}

#[derive(serde::Deserialize)]
struct ListedResult {
    url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
}

fn results_of(body: &[u8]) -> Result<Vec<SearchHit>, String> {
    hits_of(body, |r: Listed| {
        r.results.into_iter().map(|r| SearchHit { url: r.url, title: r.title, snippet: r.content }).collect()
    })
}

#[cfg(test)]
mod tests;
