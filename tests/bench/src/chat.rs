//! One chat request, timed: an OpenAI-compatible completion (streamed or whole) against
//! any gateway, or a turn of confab's native `/chat` API. A request that fails, or whose
//! reply does not end the way its protocol says, is an error, not a sample.

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::servers::MODEL;

const PROMPT: &str = "Benchmark prompt: say something of twenty or so words.";

/// An OpenAI-compatible endpoint: the mock directly, confab's `/v1`, or a peer gateway.
#[derive(Clone, Debug, Deserialize)]
pub struct Target {
    pub name: String,
    /// Up to and including `/v1`: requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    #[serde(default)]
    pub key: String,
    /// Extra request headers (a gateway's routing headers, for example).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Where one chat goes.
pub enum Chat<'a> {
    /// `POST {base_url}/chat/completions`.
    Completion { target: &'a Target, stream: bool },
    /// `POST /chat/sessions/{id}/messages` on confab, with an access token.
    Native { url: &'a str, token: &'a str, session: &'a str },
}

/// Times of one successful chat.
pub struct Sample {
    /// To the first chunk of reply text (the whole reply when not streamed).
    pub ttft: Duration,
    pub total: Duration,
}

impl Chat<'_> {
    pub async fn send(&self, client: &reqwest::Client) -> Result<Sample, String> {
        let started = Instant::now();
        let request = match self {
            Chat::Completion { target, stream } => {
                let body = json!({"model": MODEL, "stream": stream,
                    "messages": [{"role": "user", "content": PROMPT}]});
                let mut request = client
                    .post(format!("{}/chat/completions", target.base_url))
                    .bearer_auth(&target.key)
                    .json(&body);
                for (name, value) in &target.headers {
                    request = request.header(name, value);
                }
                request
            }
            Chat::Native { url, token, session } => client
                .post(format!("{url}/chat/sessions/{session}/messages"))
                .bearer_auth(token)
                .json(&json!({"content": PROMPT, "model": MODEL})),
        };
        let resp = request.send().await.map_err(|e| format!("request: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(format!("{status}: {}", body.chars().take(200).collect::<String>()));
        }
        let mut body = Vec::new();
        let mut ttft = None;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("stream cut: {e}"))?;
            if ttft.is_none() && self.has_text(&chunk) {
                ttft = Some(started.elapsed());
            }
            body.extend_from_slice(&chunk);
        }
        let total = started.elapsed();
        self.check_end(&body)?;
        Ok(Sample { ttft: ttft.unwrap_or(total), total })
    }

    /// Whether a chunk carries reply text (events arrive whole here, so a chunk is enough).
    fn has_text(&self, chunk: &[u8]) -> bool {
        match self {
            Chat::Completion { stream: false, .. } => false,
            Chat::Completion { stream: true, .. } => {
                contains(chunk, b"\"content\":\"") && !contains(chunk, b"\"content\":\"\"")
            }
            Chat::Native { .. } => contains(chunk, b"event: delta"),
        }
    }

    /// Whether the reply is whole: `[DONE]`, a message with content, or `message_end` complete.
    fn check_end(&self, body: &[u8]) -> Result<(), String> {
        let whole = match self {
            Chat::Completion { stream: true, .. } => contains(body, b"data: [DONE]"),
            Chat::Completion { stream: false, .. } => serde_json::from_slice::<Value>(body)
                .is_ok_and(|v| v["choices"][0]["message"]["content"].as_str().is_some_and(|t| !t.is_empty())),
            Chat::Native { .. } => {
                contains(body, b"event: message_end") && contains(body, b"\"status\":\"complete\"")
            }
        };
        match whole {
            true => Ok(()),
            false => Err(format!(
                "incomplete reply: {}",
                String::from_utf8_lossy(&body[body.len().saturating_sub(200)..])
            )),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The outcome of many chats.
#[derive(Default)]
pub struct Results {
    pub samples: Vec<Sample>,
    pub errors: Vec<String>,
}

impl FromIterator<Result<Sample, String>> for Results {
    fn from_iter<I: IntoIterator<Item = Result<Sample, String>>>(iter: I) -> Self {
        let mut results = Self::default();
        for result in iter {
            match result {
                Ok(sample) => results.samples.push(sample),
                Err(error) => results.errors.push(error),
            }
        }
        results
    }
}

impl Results {
    /// The `q` quantile (0..=1) of the samples' `pick` times, in milliseconds (0 when none).
    pub fn ms(&self, pick: fn(&Sample) -> Duration, q: f64) -> f64 {
        let mut v: Vec<f64> = self.samples.iter().map(|s| pick(s).as_secs_f64() * 1000.0).collect();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
    }
}
