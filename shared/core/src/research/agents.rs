//! The model-backed agents: planner, analyzer and synthesizer. Their prompts live in
//! `prompts/`, one file each, versioned with the code.

use super::citations::Citations;
use super::{Job, Produced, Run};
use crate::chat::context::{estimate_prompt, estimate_tokens, reply_budget};
use crate::chat::router::timeout;
use crate::chat::title::{ask, ask_streaming};
use crate::error::ApiResult;
use crate::providers::{ChatMessage, ChatRequest, ChatRole, ProviderEvent, Usage};
use serde::Deserialize;
use std::time::Duration;

const PLANNER: &str = include_str!("prompts/planner.md");
const ANALYZER: &str = include_str!("prompts/analyzer.md");
const SYNTHESIZER: &str = include_str!("prompts/synthesizer.md");

/// Most tokens the planner and the analyzer may answer with.
const AGENT_REPLY_TOKENS: u32 = 600;
/// Characters of the conversation the planner is shown.
const CONVERSATION_CHARS: usize = 6_000;
/// Characters of each page the analyzer is shown (the synthesizer sees the budget's).
const ANALYZER_PAGE_CHARS: usize = 1_500;
/// Longest sub-question or query kept from an agent's answer.
const MAX_QUERY_CHARS: usize = 300;

#[derive(Deserialize)]
struct Plan {
    questions: Vec<String>,
}

#[derive(Deserialize)]
struct Analysis {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    more: Vec<String>,
}

impl Run {
    /// The sub-questions; the question itself when the model gives none in the
    /// planner's format (the echo model, a weak model) or cannot be asked.
    pub(super) async fn plan(&self, job: &Job, ends_ms: i64) -> Vec<String> {
        self.step("planner", "started", "");
        let system = PLANNER.replace("{max}", &self.budget.sub_questions.to_string());
        let request = request(system, conversation(job));
        let planned = match self.ask("planner", &request, ends_ms).await {
            Some(answer) => json_in::<Plan>(&answer).map(|p| queries(p.questions, self.budget.sub_questions)),
            None => None,
        };
        let questions = planned.filter(|q| !q.is_empty()).unwrap_or_else(|| vec![clip(&job.question)]);
        self.step("planner", "done", format!("{} sub-questions", questions.len()));
        questions
    }

    /// Weighs the notes; returns the queries of one more round, if the budget allows.
    pub(super) async fn analyze(&self, question: &str, research_ends_ms: i64) -> Vec<String> {
        let notes = self.notes(ANALYZER_PAGE_CHARS);
        if notes.is_empty() {
            return Vec::new();
        }
        self.step("analyzer", "started", "");
        let system = ANALYZER.replace("{max}", &self.budget.more_queries.to_string());
        let user = format!("Question: {question}\n\nNotes:\n{notes}");
        let Some(answer) =
            self.ask("analyzer", &request(system, vec![user_text(user)]), research_ends_ms).await
        else {
            return Vec::new();
        };
        let Some(analysis) = json_in::<Analysis>(&answer) else {
            self.step("analyzer", "done", "");
            return Vec::new();
        };
        self.step("analyzer", "done", analysis.summary.trim());
        let more = queries(analysis.more, self.budget.more_queries);
        if !more.is_empty() && self.app.now_ms() >= research_ends_ms {
            self.stopped("analyzer", "no time was left for another round".into());
            return Vec::new();
        }
        more
    }

    /// Streams the report from the sources read, until the run's time ends (`ends_ms`),
    /// with citations of pages not read taken out; then the sources are saved with it.
    pub(super) async fn synthesize(&self, question: &str, ends_ms: i64) -> ApiResult<()> {
        self.step("synthesizer", "started", "");
        let sources = self.state().sources.clone();
        self.send(Produced::Sources(sources.clone()));
        let mut removed = Vec::new();
        if sources.is_empty() {
            self.text("No web page could be read for this question, so there is no report.".into());
        } else {
            let notes = self.notes(self.budget.page_chars);
            let user = format!("Question: {question}\n\nSources:\n{notes}");
            let mut request = request(SYNTHESIZER.into(), vec![user_text(user)]);
            // What the budget leaves, but never more than the model may answer: providers
            // refuse a limit over the model's own.
            let left = self.tokens_left().saturating_sub(estimate_prompt(&request));
            let most = u64::from(reply_budget(&self.route));
            request.max_tokens = Some(u32::try_from(left.min(most)).unwrap_or(u32::MAX).max(1));
            let mut citations = Citations::new(sources.len());
            self.stream_report(&request, &mut citations, ends_ms).await?;
            self.text(citations.finish());
            removed = citations.removed();
        }
        let mut notes = Vec::new();
        let stops = self.state().stops.clone();
        if !stops.is_empty() {
            notes.push(format!("_Research stopped early: {}._", stops.join("; ")));
        }
        if !removed.is_empty() {
            let numbers: Vec<String> = removed.iter().map(u32::to_string).collect();
            notes.push(format!(
                "_Citations of pages that were not read were removed: {}._",
                numbers.join(", ")
            ));
        }
        if !notes.is_empty() {
            self.text(format!("\n\n{}", notes.join("\n\n")));
        }
        self.step("synthesizer", "done", format!("{} sources", sources.len()));
        Ok(())
    }

    /// Streams the report through `citations`; at `ends_ms` it stops where it is, and
    /// its tokens are estimated.
    async fn stream_report(
        &self,
        request: &ChatRequest,
        citations: &mut Citations,
        ends_ms: i64,
    ) -> ApiResult<()> {
        let mut written = String::new();
        let on_text = |t: &str| {
            written.push_str(t);
            self.text(citations.push(t));
        };
        let left = Duration::from_millis((ends_ms - self.app.now_ms()).max(0) as u64);
        let streamed =
            timeout(&*self.app.clock, left, ask_streaming(&self.app, &self.route, request, on_text)).await;
        match streamed {
            Some(answer) => self.count(answer?.1),
            None => {
                self.count(Usage {
                    input_tokens: estimate_prompt(request),
                    output_tokens: estimate_tokens(&written),
                });
                let wall = self.budget.wall.as_secs();
                self.stopped(
                    "synthesizer",
                    format!("the run's time ({wall} s) ran out while the report was written"),
                );
            }
        }
        Ok(())
    }

    fn text(&self, text: String) {
        if text.is_empty() {
            return;
        }
        self.send(Produced::Provider(ProviderEvent::Text(text)));
    }

    /// The model's answer to an agent's request, its usage counted; `None` (said in a
    /// step) when the token budget is spent or the model fails.
    async fn ask(&self, agent: &str, request: &ChatRequest, ends_ms: i64) -> Option<String> {
        let needed = estimate_prompt(request) + u64::from(AGENT_REPLY_TOKENS);
        if self.tokens_left() < needed + self.budget.report_tokens() {
            self.stopped(agent, format!("the token budget ({}) is spent", self.budget.tokens));
            return None;
        }
        if self.app.now_ms() >= ends_ms {
            self.out_of_research_time(agent);
            return None;
        }
        match self.until(ends_ms, ask(&self.app, &self.route, request)).await {
            Some(Ok((answer, usage))) => {
                self.count(usage);
                Some(answer)
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, agent, "a research agent failed");
                self.step(agent, "failed", e.public_message());
                None
            }
            None => {
                // Given up before its usage came: its prompt is counted, which the
                // provider may charge.
                self.count(Usage { input_tokens: estimate_prompt(request), output_tokens: 0 });
                self.out_of_research_time(agent);
                None
            }
        }
    }

    /// The sources read, numbered, each with at most `chars` of its text.
    fn notes(&self, chars: usize) -> String {
        let state = self.state();
        let notes = state.sources.iter().zip(&state.texts).map(|(s, text)| {
            format!("[{}] {} ({})\n{}\n", s.n, s.title, s.url, crate::reader::cut(text, chars))
        });
        notes.collect::<Vec<_>>().join("\n")
    }
}

fn request(system: String, messages: Vec<ChatMessage>) -> ChatRequest {
    ChatRequest { system: Some(system), messages, max_tokens: Some(AGENT_REPLY_TOKENS), ..Default::default() }
}

fn user_text(text: String) -> ChatMessage {
    ChatMessage::text(ChatRole::User, text)
}

/// The conversation, its newest part as far as it fits, then the question.
fn conversation(job: &Job) -> Vec<ChatMessage> {
    let mut left = CONVERSATION_CHARS;
    let mut kept: Vec<ChatMessage> = Vec::new();
    for message in job.conversation.iter().rev() {
        let size = message.content.chars().count();
        if size > left {
            break;
        }
        left -= size;
        kept.push(message.clone());
    }
    kept.reverse();
    // Providers want turns to alternate and to start with the user.
    while kept.first().is_some_and(|m| m.role != ChatRole::User) {
        kept.remove(0);
    }
    kept.push(user_text(job.question.clone()));
    kept
}

/// The first JSON object in `answer` (models wrap it in prose or code fences).
fn json_in<T: serde::de::DeserializeOwned>(answer: &str) -> Option<T> {
    let start = answer.find('{')?;
    let end = answer.rfind('}')?;
    serde_json::from_str(answer.get(start..=end)?).ok()
}

/// At most `max` distinct, non-blank queries, each clipped.
fn queries(asked: Vec<String>, max: usize) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for query in asked.iter().map(|q| clip(q)).filter(|q| !q.is_empty()) {
        if kept.len() < max && !kept.contains(&query) {
            kept.push(query);
        }
    }
    kept
}

fn clip(query: &str) -> String {
    query.trim().chars().filter(|c| !c.is_control()).take(MAX_QUERY_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_read_from_json_in_prose() {
        let plan: Plan = json_in("Sure! ```json\n{\"questions\": [\"a\", \"b\"]}\n```").unwrap();
        assert_eq!(plan.questions, ["a", "b"]);
        assert!(json_in::<Plan>("What changed in the EU AI Act?").is_none());
        assert!(json_in::<Plan>("} {").is_none());
    }

    #[test]
    fn queries_are_distinct_bounded_and_clipped() {
        let asked = ["a", " a ", "", "b\u{0}", "c", "d"].map(String::from).to_vec();
        assert_eq!(queries(asked, 3), ["a", "b", "c"]);
        assert_eq!(clip(&"x".repeat(500)).len(), MAX_QUERY_CHARS);
    }
}
