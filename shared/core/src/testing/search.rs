//! A [`WebSearch`] that answers from a script, by query, and keeps the queries.

use crate::ports::{SearchError, SearchHit, WebSearch};
use std::collections::HashMap;
use std::sync::Mutex;

/// Answers each query with what was scripted for it (no results otherwise).
#[derive(Default)]
pub struct FakeSearch {
    answers: Mutex<HashMap<String, Result<Vec<SearchHit>, SearchError>>>,
    asked: Mutex<Vec<String>>,
}

impl FakeSearch {
    /// `query` finds `hits`: `(url, title, snippet)`s.
    pub fn finds(&self, query: &str, hits: &[(&str, &str, &str)]) {
        let hits = hits
            .iter()
            .map(|(url, title, snippet)| SearchHit {
                url: (*url).into(),
                title: (*title).into(),
                snippet: (*snippet).into(),
            })
            .collect();
        self.answers.lock().unwrap().insert(query.into(), Ok(hits));
    }

    /// `query` fails with `error`.
    pub fn fails(&self, query: &str, error: SearchError) {
        self.answers.lock().unwrap().insert(query.into(), Err(error));
    }

    /// Every query asked so far, oldest first.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl WebSearch for FakeSearch {
    async fn search(&self, query: &str, count: usize) -> Result<Vec<SearchHit>, SearchError> {
        self.asked.lock().unwrap().push(query.into());
        let answer = self.answers.lock().unwrap().get(query).cloned().unwrap_or(Ok(Vec::new()));
        answer.map(|hits| hits.into_iter().take(count).collect())
    }
}
