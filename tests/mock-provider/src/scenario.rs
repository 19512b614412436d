//! Per-model scenarios: what a model answers, how fast, and which faults it injects.
//!
//! The same types are the JSON of the control API (`PUT /_mock/scenarios/{model}`) and the Rust
//! API of [`MockHandle::set_scenario`](crate::MockHandle::set_scenario).

use std::collections::HashMap;
use std::sync::Mutex;

use http::StatusCode;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The model name whose scenario applies to every model that has none of its own.
pub const ANY_MODEL: &str = "*";

/// How one model behaves. Every field is optional; absent ones fall back to the server's defaults
/// (the default reply is `"Mock reply to: <last user message text>"`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The reply text, split into word-ish tokens that keep their spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// When `reply` is absent: reply with exactly this many filler tokens (`lorem`, ` lorem`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<usize>,
    /// Tool calls the reply makes after its text (which is then only the `reply`, when given),
    /// in the format's own shape; the reply then ends with the format's "tool calls" reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Time to the first token, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<u64>,
    /// Time between two tokens, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_delay_ms: Option<u64>,
    /// A queue of faults: each request to the model takes one (a step with `repeat: n` serves `n`
    /// requests), and once the queue is empty requests behave normally (or as `always` says).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultStep>,
    /// A fault applied to every request once the `faults` queue is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always: Option<Fault>,
}

/// A tool call a scenario's reply makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The function called: 1 to 64 letters, digits, `_` or `-`.
    pub name: String,
    /// The arguments, a JSON object.
    #[serde(default = "empty_object")]
    pub arguments: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl ToolCall {
    /// A call of `name` with `arguments` (a JSON object).
    pub fn new(name: impl Into<String>, arguments: Value) -> Self {
        Self { name: name.into(), arguments }
    }

    fn validate(&self) -> Result<(), String> {
        let name_ok = (1..=64).contains(&self.name.len())
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err(format!(
                "tool call name {:?} must be 1 to 64 letters, digits, '_' or '-'",
                self.name
            ));
        }
        if !self.arguments.is_object() {
            return Err(format!("the arguments of tool call {:?} must be a JSON object", self.name));
        }
        Ok(())
    }
}

/// One entry of a scenario's fault queue: a fault and how many consecutive requests it serves.
/// Its JSON form is the fault's, plus an optional `repeat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultStep {
    /// The fault.
    #[serde(flatten)]
    pub fault: Fault,
    /// How many consecutive requests this step serves (default 1).
    #[serde(skip_serializing_if = "is_one")]
    pub repeat: u32,
}

/// Reads `repeat` apart, so that the fault itself can reject unknown fields (which a derived
/// `flatten` would let through, hiding typos such as `retry_after`).
impl<'de> Deserialize<'de> for FaultStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = serde_json::Map::deserialize(deserializer)?;
        let repeat = match fields.remove("repeat") {
            Some(repeat) => u32::deserialize(repeat).map_err(D::Error::custom)?,
            None => 1,
        };
        let fault = Fault::deserialize(Value::Object(fields)).map_err(D::Error::custom)?;
        Ok(FaultStep { fault, repeat })
    }
}

/// A fault injected into one request. The JSON form is tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Close the TCP connection without sending any HTTP response.
    Refuse,
    /// Answer with this HTTP status and the provider's error body, before any token.
    Status {
        /// The HTTP status code (400..=599 makes sense; any valid code is accepted).
        status: u16,
        /// Adds a `Retry-After: <seconds>` header (and Gemini's `RetryInfo` detail).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_s: Option<u64>,
        /// Replaces the provider's stock error message for that status.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Send this many tokens, then abort the connection without a clean end of the body.
    DropAfter {
        /// Tokens sent before the abort.
        tokens: usize,
    },
    /// Send this many tokens, then send nothing more, keeping the connection open until the
    /// client gives up.
    StallAfter {
        /// Tokens sent before the stall.
        tokens: usize,
    },
    /// Send this many tokens, then the provider's own mid-stream error event, then end the body.
    /// A non-streaming request gets the provider's error response instead.
    ErrorEventAfter {
        /// Tokens sent before the error.
        tokens: usize,
        /// The status the error stands for; defaults to the provider's "overloaded" error
        /// (OpenAI 503, Anthropic 529, Gemini 503, Bedrock 503).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Scenario {
    /// A scenario that answers with `text`.
    pub fn reply(text: impl Into<String>) -> Self {
        Self { reply: Some(text.into()), ..Self::default() }
    }

    /// A scenario that answers with exactly `n` filler tokens.
    pub fn tokens(n: usize) -> Self {
        Self { tokens: Some(n), ..Self::default() }
    }

    /// Sets the time to first token.
    pub fn with_ttft_ms(mut self, ms: u64) -> Self {
        self.ttft_ms = Some(ms);
        self
    }

    /// Sets the delay between tokens.
    pub fn with_token_delay_ms(mut self, ms: u64) -> Self {
        self.token_delay_ms = Some(ms);
        self
    }

    /// Makes the reply call `calls` after its text.
    pub fn with_tool_calls(mut self, calls: impl IntoIterator<Item = ToolCall>) -> Self {
        self.tool_calls = calls.into_iter().collect();
        self
    }

    /// Queues `fault` for the next request not yet served by an earlier queued fault.
    pub fn then(self, fault: Fault) -> Self {
        self.then_repeat(fault, 1)
    }

    /// Queues `fault` for the next `times` requests.
    pub fn then_repeat(mut self, fault: Fault, times: u32) -> Self {
        self.faults.push(FaultStep { fault, repeat: times });
        self
    }

    /// Applies `fault` to every request once the queue is empty.
    pub fn always(mut self, fault: Fault) -> Self {
        self.always = Some(fault);
        self
    }

    /// Checks what serde cannot: status codes must be valid HTTP status codes, tool calls
    /// well-formed.
    pub fn validate(&self) -> Result<(), String> {
        self.tool_calls.iter().try_for_each(ToolCall::validate)?;
        let queued = self.faults.iter().map(|step| &step.fault);
        queued.chain(&self.always).try_for_each(Fault::validate)
    }

    /// Takes the fault for the next request: the head of the queue, else `always`.
    fn take_fault(&mut self) -> Option<Fault> {
        self.faults.retain(|step| step.repeat > 0);
        let Some(step) = self.faults.first_mut() else {
            return self.always.clone();
        };
        step.repeat -= 1;
        let fault = step.fault.clone();
        if step.repeat == 0 {
            self.faults.remove(0);
        }
        Some(fault)
    }
}

impl Fault {
    /// An HTTP error status.
    pub fn status(status: u16) -> Self {
        Fault::Status { status, retry_after_s: None, message: None }
    }

    /// An HTTP error status with a `Retry-After` header.
    pub fn status_retry_after(status: u16, retry_after_s: u64) -> Self {
        Fault::Status { status, retry_after_s: Some(retry_after_s), message: None }
    }

    /// The provider's default mid-stream error after `tokens` tokens.
    pub fn error_event_after(tokens: usize) -> Self {
        Fault::ErrorEventAfter { tokens, status: None }
    }

    fn validate(&self) -> Result<(), String> {
        let status = match self {
            Fault::Status { status, .. } => Some(*status),
            Fault::ErrorEventAfter { status, .. } => *status,
            _ => None,
        };
        match status {
            Some(code) if StatusCode::from_u16(code).is_err() => {
                Err(format!("{code} is not a valid HTTP status code"))
            }
            _ => Ok(()),
        }
    }
}

/// What one request gets: the scenario in force (without its queue) and the fault it drew.
pub(crate) struct Turn {
    pub scenario: Scenario,
    pub fault: Option<Fault>,
}

/// The scenarios of all models, keyed by model name.
#[derive(Default)]
pub(crate) struct ScenarioStore {
    by_model: Mutex<HashMap<String, Scenario>>,
}

impl ScenarioStore {
    pub fn set(&self, model: &str, scenario: Scenario) {
        self.lock().insert(model.to_owned(), scenario);
    }

    pub fn remove(&self, model: &str) -> bool {
        self.lock().remove(model).is_some()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn get(&self, model: &str) -> Option<Scenario> {
        self.lock().get(model).cloned()
    }

    pub fn all(&self) -> HashMap<String, Scenario> {
        self.lock().clone()
    }

    /// The scenario for the next request to `model` (its own, else [`ANY_MODEL`]'s), consuming
    /// one queued fault.
    pub fn next_turn(&self, model: &str) -> Turn {
        let mut by_model = self.lock();
        let key = if by_model.contains_key(model) { model } else { ANY_MODEL };
        match by_model.get_mut(key) {
            Some(scenario) => {
                let fault = scenario.take_fault();
                Turn { scenario: Scenario { faults: Vec::new(), ..scenario.clone() }, fault }
            }
            None => Turn { scenario: Scenario::default(), fault: None },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Scenario>> {
        self.by_model.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_round_trips() {
        let json = r#"{"reply":"hi","faults":[{"kind":"status","status":503,"repeat":2},
            {"kind":"drop_after","tokens":3}],"always":{"kind":"refuse"}}"#;
        let scenario: Scenario = serde_json::from_str(json).unwrap();
        assert_eq!(scenario.faults[0], FaultStep { fault: Fault::status(503), repeat: 2 });
        assert_eq!(scenario.faults[1].repeat, 1);
        let back = serde_json::to_value(&scenario).unwrap();
        assert_eq!(back["faults"][0], serde_json::json!({"kind":"status","status":503,"repeat":2}));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<Scenario>(r#"{"ttft":5}"#).is_err());
        let typo = r#"{"faults":[{"kind":"status","status":429,"retry_after":1}]}"#;
        assert!(serde_json::from_str::<Scenario>(typo).is_err());
        assert!(serde_json::from_str::<Scenario>(r#"{"faults":[{"kind":"refuse","repeat":-1}]}"#).is_err());
    }

    #[test]
    fn queue_is_consumed_then_always_applies() {
        let store = ScenarioStore::default();
        let scenario = Scenario::default().then_repeat(Fault::status(500), 2).always(Fault::Refuse);
        store.set("m", scenario);
        let faults: Vec<_> = (0..4).map(|_| store.next_turn("m").fault).collect();
        let expected = [Fault::status(500), Fault::status(500), Fault::Refuse, Fault::Refuse];
        assert_eq!(faults, expected.map(Some));
    }

    #[test]
    fn wildcard_applies_to_models_without_their_own() {
        let store = ScenarioStore::default();
        store.set(ANY_MODEL, Scenario::reply("any"));
        store.set("own", Scenario::reply("own"));
        assert_eq!(store.next_turn("other").scenario.reply.as_deref(), Some("any"));
        assert_eq!(store.next_turn("own").scenario.reply.as_deref(), Some("own"));
    }

    #[test]
    fn tool_calls_are_validated() {
        let call = |json: &str| serde_json::from_str::<Scenario>(json).map_err(|e| e.to_string());
        let ok =
            call(r#"{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}},{"name":"now"}]}"#);
        let ok = ok.unwrap();
        assert!(ok.validate().is_ok());
        assert_eq!(ok.tool_calls[1].arguments, serde_json::json!({}));
        assert!(call(r#"{"tool_calls":[{"name":"x","args":{}}]}"#).is_err());
        for bad in [r#"{"name":"","arguments":{}}"#, r#"{"name":"a b"}"#, r#"{"name":"x","arguments":[1]}"#] {
            let scenario = call(&format!(r#"{{"tool_calls":[{bad}]}}"#)).unwrap();
            assert!(scenario.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_status_is_reported() {
        assert!(Scenario::default().always(Fault::status(1000)).validate().is_err());
        assert!(Scenario::default().then(Fault::status(429)).validate().is_ok());
    }
}
