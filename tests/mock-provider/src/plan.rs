//! The planned reply of one request: its tokens, usage and timing, whatever the wire format.

use std::time::Duration;

use tokio::time::Instant;

use crate::record::Seen;
use crate::scenario::Scenario;

/// What a wire format parsed out of a chat request, in provider-neutral terms.
#[derive(Debug, Default)]
pub(crate) struct ChatRequest {
    pub model: String,
    pub stream: bool,
    /// The output limit the request asked for (`max_tokens` and its cousins).
    pub max_tokens: Option<u32>,
    /// Characters of every text in the prompt: system text and all messages.
    pub prompt_chars: usize,
    /// The text of the last user message (its text parts joined by newlines).
    pub last_user_text: String,
    /// Its tools, images, tool traffic and options, for the request log.
    pub seen: Seen,
}

impl ChatRequest {
    pub fn new(model: String, stream: bool, max_tokens: Option<u32>) -> Self {
        Self { model, stream, max_tokens, ..Self::default() }
    }

    /// Counts system text towards the prompt.
    pub fn system<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) {
        for text in texts {
            self.prompt_chars += text.chars().count();
        }
    }

    /// Counts a message towards the prompt; a user message becomes the one the reply quotes.
    pub fn message<'a>(&mut self, from_user: bool, texts: impl IntoIterator<Item = &'a str>) {
        let texts: Vec<&str> = texts.into_iter().collect();
        self.system(texts.iter().copied());
        if from_user {
            self.last_user_text = texts.join("\n");
        }
    }
}

/// Timing defaults of the server, overridden per model by a scenario.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Timing {
    pub ttft: Duration,
    pub token_delay: Duration,
}

/// Why the reply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The whole reply was produced.
    Stop,
    /// The request's output limit cut it short.
    Length,
    /// The reply ends with tool calls.
    ToolCalls,
}

/// A tool call of the reply.
#[derive(Debug)]
pub(crate) struct PlannedCall {
    pub name: String,
    /// The arguments as JSON text.
    pub arguments: String,
}

/// Characters of the arguments' JSON text per streamed fragment.
const FRAGMENT_CHARS: usize = 8;

impl PlannedCall {
    /// The arguments as a JSON value.
    pub fn arguments_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.arguments).unwrap_or_default()
    }

    /// The arguments' JSON text in the pieces a stream sends it in.
    pub fn fragments(&self) -> Vec<String> {
        let chars: Vec<char> = self.arguments.chars().collect();
        chars.chunks(FRAGMENT_CHARS).map(|chunk| chunk.iter().collect()).collect()
    }
}

/// The reply to one request and when each of its tokens is due.
#[derive(Debug)]
pub(crate) struct Plan {
    /// A number unique to the request, for the ids the formats make up.
    pub seq: u64,
    pub model: String,
    /// Unix seconds at arrival.
    pub created: u64,
    pub tokens: Vec<String>,
    /// The tool calls after the text (none when the text was cut short).
    pub calls: Vec<PlannedCall>,
    pub finish: Finish,
    pub input_tokens: u32,
    started: Instant,
    timing: Timing,
}

const FILLER: &str = "lorem";

impl Plan {
    pub fn new(seq: u64, request: &ChatRequest, scenario: &Scenario, defaults: Timing) -> Self {
        let mut tokens = split_tokens(&reply_text(request, scenario));
        let limit = request.max_tokens.map_or(usize::MAX, |n| n as usize);
        let cut = tokens.len() > limit;
        tokens.truncate(limit);
        let calls: Vec<PlannedCall> = match cut {
            true => Vec::new(),
            false => scenario
                .tool_calls
                .iter()
                .map(|c| PlannedCall { name: c.name.clone(), arguments: c.arguments.to_string() })
                .collect(),
        };
        let finish = match (cut, calls.is_empty()) {
            (true, _) => Finish::Length,
            (false, false) => Finish::ToolCalls,
            (false, true) => Finish::Stop,
        };
        let timing = Timing {
            ttft: scenario.ttft_ms.map_or(defaults.ttft, Duration::from_millis),
            token_delay: scenario.token_delay_ms.map_or(defaults.token_delay, Duration::from_millis),
        };
        Self {
            seq,
            model: request.model.clone(),
            created: unix_seconds(),
            tokens,
            calls,
            finish,
            input_tokens: request.prompt_chars.div_ceil(4).try_into().unwrap_or(u32::MAX),
            started: Instant::now(),
            timing,
        }
    }

    pub fn text(&self) -> String {
        self.tokens.concat()
    }

    /// Whether the reply has a text part: when it has text, or nothing else.
    pub fn has_text(&self) -> bool {
        !self.tokens.is_empty() || self.calls.is_empty()
    }

    /// The id of call `index`, with the format's prefix.
    pub fn call_id(&self, prefix: &str, index: usize) -> String {
        format!("{prefix}{:016x}{index:02}", self.seq)
    }

    pub fn output_tokens(&self) -> u32 {
        self.tokens.len().try_into().unwrap_or(u32::MAX)
    }

    pub fn total_tokens(&self) -> u32 {
        self.input_tokens.saturating_add(self.output_tokens())
    }

    /// When `emitted` tokens have gone out: the first at the TTFT, one more per token delay.
    /// For `emitted == 0` that is the TTFT too, when the first token would have been due.
    pub fn deadline(&self, emitted: usize) -> Instant {
        let gaps = u32::try_from(emitted.saturating_sub(1)).unwrap_or(u32::MAX);
        self.started + self.timing.ttft + self.timing.token_delay.saturating_mul(gaps)
    }

    /// Milliseconds since the request arrived.
    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
    }
}

fn reply_text(request: &ChatRequest, scenario: &Scenario) -> String {
    match (&scenario.reply, scenario.tokens) {
        (Some(reply), _) => reply.clone(),
        (None, Some(n)) => filler(n),
        (None, None) if !scenario.tool_calls.is_empty() => String::new(),
        (None, None) => format!("Mock reply to: {}", request.last_user_text),
    }
}

fn filler(n: usize) -> String {
    let mut text = FILLER.repeat(n.min(1));
    for _ in 1..n {
        text.push(' ');
        text.push_str(FILLER);
    }
    text
}

/// Splits text into word-ish tokens: a token starts where spaces follow a non-space character,
/// so every token but the first carries its leading spaces (trailing spaces stay with the last
/// token) and the tokens concatenate back to the text.
pub(crate) fn split_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        if ch.is_whitespace() && current.ends_with(|c: char| !c.is_whitespace()) {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(ch);
    }
    match tokens.last_mut() {
        Some(last) if current.trim().is_empty() => last.push_str(&current),
        _ if !current.is_empty() => tokens.push(current),
        _ => {}
    }
    tokens
}

pub(crate) fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_their_spaces() {
        let text = "  Mock reply to: hello\n  world ";
        let tokens = split_tokens(text);
        assert_eq!(tokens, ["  Mock", " reply", " to:", " hello", "\n  world "]);
        assert_eq!(tokens.concat(), text);
        assert!(split_tokens("").is_empty());
    }

    #[test]
    fn filler_has_exactly_n_tokens() {
        for n in [0, 1, 2, 7] {
            assert_eq!(split_tokens(&filler(n)).len(), n);
        }
    }

    #[test]
    fn usage_and_limits() {
        let mut request = ChatRequest::new("m".into(), false, Some(2));
        request.system(["abc"]);
        request.message(true, ["hello", "there"]);
        assert_eq!(request.prompt_chars, 13);
        let plan = Plan::new(1, &request, &Scenario::default(), Timing::default());
        assert_eq!(plan.input_tokens, 4);
        assert_eq!(plan.tokens, ["Mock", " reply"]);
        assert_eq!(plan.finish, Finish::Length);
    }

    #[test]
    fn tool_calls_follow_the_text_in_fragments() {
        let request = ChatRequest::new("m".into(), true, None);
        let call = crate::ToolCall::new("get_weather", serde_json::json!({"city": "Paris"}));
        let scenario = Scenario::default().with_tool_calls([call]);
        let plan = Plan::new(1, &request, &scenario, Timing::default());
        assert!(plan.tokens.is_empty());
        assert_eq!(plan.finish, Finish::ToolCalls);
        assert_eq!(plan.calls[0].fragments().concat(), r#"{"city":"Paris"}"#);
        assert_eq!(plan.calls[0].fragments().len(), 2);
        let cut = Plan::new(
            2,
            &ChatRequest::new("m".into(), true, Some(1)),
            &Scenario { reply: Some("two words".into()), ..scenario },
            Timing::default(),
        );
        assert_eq!((cut.finish, cut.calls.len()), (Finish::Length, 0));
    }
}
