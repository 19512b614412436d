use super::{MaybeSend, MaybeSync};
use std::time::Duration;

/// One result of a web search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub url: String,
    pub title: String,
    /// The search engine's excerpt of the page.
    pub snippet: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The search API refused for now; try again after `retry_after`, when given.
    #[error("the search provider is rate limiting")]
    RateLimited { retry_after: Option<Duration> },
    /// The key is missing, wrong or out of credit: retrying cannot help.
    #[error("the search provider refused the key: {0}")]
    Auth(String),
    /// The search API could not be reached or failed.
    #[error("the search provider is unavailable: {0}")]
    Unavailable(String),
}

impl SearchError {
    /// What a user may read: the kind of failure, never its details (hosts, secret
    /// names), which go to the logs.
    pub fn public_message(&self) -> &'static str {
        match self {
            SearchError::RateLimited { .. } => "the search provider is rate limiting",
            SearchError::Auth(_) => "the search provider refused confab's key",
            SearchError::Unavailable(_) => "the search provider is unavailable",
        }
    }
}

/// Web search (Brave, Tavily or SearXNG over the HTTP port; a script in tests).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait WebSearch: MaybeSend + MaybeSync {
    /// At most `count` results for `query`, best first.
    async fn search(&self, query: &str, count: usize) -> Result<Vec<SearchHit>, SearchError>;
}
