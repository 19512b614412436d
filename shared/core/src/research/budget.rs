//! How much research a `depth` may do. The defaults fit the platforms: `quick` stays
//! under Workers' 50 subrequests of the free plan, `deep` under a 15-minute Lambda.

use crate::providers::Usage;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Depth {
    Quick,
    #[default]
    Standard,
    Deep,
}

/// The limits of one research run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Most sub-questions the planner may ask.
    pub sub_questions: usize,
    /// Most searches, over every round.
    pub searches: usize,
    /// Most pages read, over every round.
    pub pages: usize,
    /// Most pages read for one search.
    pub pages_per_question: usize,
    /// Results asked of each search.
    pub results_per_search: usize,
    /// Characters of each page the agents are shown.
    pub page_chars: usize,
    /// Researchers at work at once.
    pub concurrency: usize,
    /// Queries the analyzer may ask for in one more round (0: no second round).
    pub more_queries: usize,
    /// Tokens of every agent together (prompts and answers).
    pub tokens: u64,
    /// The whole run, report included.
    pub wall: Duration,
}

impl Depth {
    pub fn budget(self) -> Budget {
        let (sub_questions, searches, pages, more_queries, tokens, wall_s) = match self {
            Depth::Quick => (2, 3, 4, 0, 40_000, 60),
            Depth::Standard => (4, 7, 10, 2, 120_000, 180),
            Depth::Deep => (6, 12, 20, 4, 300_000, 600),
        };
        Budget {
            sub_questions,
            searches,
            pages,
            pages_per_question: 3,
            results_per_search: 6,
            page_chars: if self == Depth::Deep { 8_000 } else { 5_000 },
            concurrency: 3,
            more_queries,
            tokens,
            wall: Duration::from_secs(wall_s),
        }
    }
}

impl Budget {
    /// Searching and reading may take this much of the run's time; the rest is the
    /// report's.
    pub fn research_ms(&self) -> i64 {
        (self.wall.as_millis() * 7 / 10) as i64
    }

    /// The tokens the report keeps for itself: analysis stops short of them.
    pub fn report_tokens(&self) -> u64 {
        self.tokens / 4
    }
}

/// What a run has used so far.
#[derive(Debug, Default)]
pub struct Spend {
    pub searches: usize,
    pub pages: usize,
    pub usage: Usage,
}

impl Spend {
    pub fn add(&mut self, usage: Usage) {
        self.usage.input_tokens += usage.input_tokens;
        self.usage.output_tokens += usage.output_tokens;
    }

    pub fn tokens(&self) -> u64 {
        self.usage.input_tokens + self.usage.output_tokens
    }

    /// Takes one search from the budget, if one is left.
    pub fn take_search(&mut self, budget: &Budget) -> bool {
        take(&mut self.searches, budget.searches)
    }

    /// Takes one page from the budget, if one is left.
    pub fn take_page(&mut self, budget: &Budget) -> bool {
        take(&mut self.pages, budget.pages)
    }
}

fn take(used: &mut usize, limit: usize) -> bool {
    let left = *used < limit;
    *used += usize::from(left);
    left
}
