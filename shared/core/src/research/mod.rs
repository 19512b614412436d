//! Research: agents that answer a question from the web, streamed like a chat reply.
//! A planner splits the question into sub-questions; researchers (in parallel, a few at
//! a time) search and read pages; an analyzer weighs the notes and may ask for one more
//! round; a synthesizer streams the report, citing pages as `[n]`. Everything runs
//! within a budget chosen by [`Depth`]; a budget that runs out stops that stage, the
//! report is written from what was read, and the run says so.

mod agents;
mod budget;
mod citations;

pub use budget::{Budget, Depth};

use crate::app::App;
use crate::chat::models::ModelRoute;
use crate::error::ApiError;
use crate::ports::{SearchError, WebSearch};
use crate::providers::{ChatMessage, ProviderError, ProviderEvent, Usage};
use crate::reader;
use budget::Spend;
use futures::StreamExt;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use utoipa::ToSchema;

/// A page the report may cite, as saved with the reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Source {
    /// The number the report cites it by: `[n]`.
    pub n: u32,
    pub url: String,
    pub title: String,
    /// The search engine's excerpt of the page.
    pub snippet: String,
}

/// What research yields to the reply's producer, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Produced {
    /// Report text, usage (every agent's, once, at the end) or the end.
    Provider(ProviderEvent),
    /// A `plan`, `step` or `source` event.
    Event(&'static str, Value),
    /// The sources to save with the reply (once, before the report's text).
    Sources(Vec<Source>),
}

pub type ProducedStream = crate::ports::BoxStream<'static, Result<Produced, ProviderError>>;

/// A question to research: the conversation so far (report texts, not pages) and the
/// question last.
pub struct Job {
    pub conversation: Vec<ChatMessage>,
    pub question: String,
    pub depth: Depth,
}

/// Runs `job` with the agents on `route`; its events come on the stream, which runs
/// the research as it is polled (dropping it stops the research).
pub fn start(app: Arc<App>, search: Arc<dyn WebSearch>, route: ModelRoute, job: Job) -> ProducedStream {
    let (tx, rx) = unbounded();
    let run = Run { app, search, route, budget: job.depth.budget(), out: tx, state: Mutex::default() };
    let work = futures::stream::once(async move { run.research(job).await })
        .filter_map(|()| async { None::<Result<Produced, ProviderError>> });
    Box::pin(futures::stream::select(rx, work))
}

/// What the researchers found so far.
#[derive(Default)]
struct State {
    sources: Vec<Source>,
    /// Every URL a researcher took up, read or not: no page is fetched twice.
    tried: HashSet<String>,
    /// The text read of each source, by its index in `sources`.
    texts: Vec<String>,
    spend: Spend,
    /// The budgets that stopped a stage, as told to the user.
    stops: Vec<String>,
}

struct Run {
    app: Arc<App>,
    search: Arc<dyn WebSearch>,
    route: ModelRoute,
    budget: Budget,
    out: UnboundedSender<Result<Produced, ProviderError>>,
    state: Mutex<State>,
}

/// Longest wait for a rate-limited search's `Retry-After` before giving it up.
const MAX_SEARCH_WAIT: Duration = Duration::from_secs(5);

impl Run {
    async fn research(self, job: Job) {
        let started = self.app.now_ms();
        let research_ends = started + self.budget.research_ms();
        let questions = self.plan(&job, research_ends).await;
        self.send(Produced::Event("plan", json!({ "questions": questions })));
        self.round(&questions, research_ends).await;
        let more = self.analyze(&job.question, research_ends).await;
        if !more.is_empty() {
            self.round(&more, research_ends).await;
        }
        let ends = started + self.budget.wall.as_millis() as i64;
        match self.synthesize(&job.question, ends).await {
            Ok(()) => {
                let usage = self.state().spend.usage;
                self.send(Produced::Provider(ProviderEvent::Usage(usage)));
            }
            Err(e) => {
                let e = match e {
                    ApiError::Upstream(e) => e,
                    other => ProviderError::Upstream(other.to_string()),
                };
                let _ = self.out.unbounded_send(Err(e));
            }
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, produced: Produced) {
        // The receiver is gone only when the reply ended; the work stops with it.
        let _ = self.out.unbounded_send(Ok(produced));
    }

    fn step(&self, agent: &str, status: &str, detail: impl Into<String>) {
        let detail = detail.into();
        self.send(Produced::Event("step", json!({ "agent": agent, "status": status, "detail": detail })));
    }

    /// A budget ran out: the stage stops and the user is told.
    fn stopped(&self, agent: &str, what: String) {
        self.step(agent, "budget", what.clone());
        let mut state = self.state();
        if !state.stops.contains(&what) {
            state.stops.push(what);
        }
    }

    /// Adds an agent's usage to the run's, and tells the producer the total so far: it
    /// keeps the latest, so a run cancelled, left or failed midway is still charged
    /// for what its agents used.
    fn count(&self, usage: Usage) {
        let total = {
            let mut state = self.state();
            state.spend.add(usage);
            state.spend.usage
        };
        self.send(Produced::Provider(ProviderEvent::Usage(total)));
    }

    fn tokens_left(&self) -> u64 {
        self.budget.tokens.saturating_sub(self.state().spend.tokens())
    }

    /// One round of researchers over `questions`, a few at a time, until done or the
    /// time for research is up.
    async fn round(&self, questions: &[String], ends_ms: i64) {
        let researchers = futures::stream::iter(questions.iter().cloned().map(|q| self.researcher(q)))
            .buffer_unordered(self.budget.concurrency)
            .collect::<Vec<()>>();
        if self.until(ends_ms, researchers).await.is_none() {
            self.out_of_research_time("researcher");
        }
    }

    /// `work`, unless it is still going at `ends_ms`.
    async fn until<T>(&self, ends_ms: i64, work: impl Future<Output = T>) -> Option<T> {
        let left = Duration::from_millis((ends_ms - self.app.now_ms()).max(0) as u64);
        crate::chat::router::timeout(&*self.app.clock, left, work).await
    }

    fn out_of_research_time(&self, agent: &str) {
        self.stopped(
            agent,
            format!("the time for research ({} s) ran out", self.budget.research_ms() / 1000),
        );
    }

    /// Searches for `question` and reads the best pages not read yet.
    async fn researcher(&self, question: String) {
        if !self.state().spend.take_search(&self.budget) {
            return self
                .stopped("researcher", format!("the search budget ({}) is spent", self.budget.searches));
        }
        self.step("researcher", "searching", question.clone());
        let hits = match self.search(&question).await {
            Ok(hits) => hits,
            Err(e) => {
                tracing::warn!(error = %e, "a research search failed");
                return self.step("researcher", "failed", format!("{question}: {}", e.public_message()));
            }
        };
        let mut read = 0;
        for hit in hits {
            if read == self.budget.pages_per_question {
                break;
            }
            if !self.state().tried.insert(hit.url.clone()) {
                continue;
            }
            if !self.state().spend.take_page(&self.budget) {
                return self
                    .stopped("researcher", format!("the page budget ({}) is spent", self.budget.pages));
            }
            self.step("researcher", "reading", hit.url.clone());
            match reader::read(&self.app, &hit.url, self.budget.page_chars).await {
                Ok(page) if !page.text.is_empty() => {
                    let title = if hit.title.is_empty() { page.title } else { hit.title };
                    self.add_source(Source { n: 0, url: hit.url, title, snippet: hit.snippet }, page.text);
                    read += 1;
                }
                Ok(_) => self.step("researcher", "skipped", format!("{}: no readable text", hit.url)),
                Err(e) => self.step("researcher", "skipped", format!("{}: {e}", hit.url)),
            }
        }
        self.step("researcher", "done", format!("{question}: {read} pages read"));
    }

    /// A search, tried once more after a short `Retry-After`.
    async fn search(&self, query: &str) -> Result<Vec<crate::ports::SearchHit>, SearchError> {
        let count = self.budget.results_per_search;
        match self.search.search(query, count).await {
            Err(SearchError::RateLimited { retry_after: Some(wait) }) if wait <= MAX_SEARCH_WAIT => {
                self.app.clock.sleep(wait).await;
                self.search.search(query, count).await
            }
            other => other,
        }
    }

    fn add_source(&self, mut source: Source, text: String) {
        let mut state = self.state();
        source.n = state.sources.len() as u32 + 1;
        let event = json!({ "n": source.n, "url": source.url, "title": source.title });
        state.sources.push(source);
        state.texts.push(text);
        drop(state);
        self.send(Produced::Event("source", event));
    }
}

#[cfg(test)]
mod tests;
