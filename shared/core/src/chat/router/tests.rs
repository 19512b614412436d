//! The router on the manual clock: backoff, fallback, circuit breakers, timeouts.

use super::{Opened, open};
use crate::chat::breaker::CircuitState;
use crate::chat::fixtures::{
    self, ANTHROPIC_529, ANTHROPIC_STREAM, OPENAI_429, anthropic, openai, openai_reply, request, route,
};
use crate::config::Config;
use crate::ports::{Clock, HttpError};
use crate::providers::{ProviderError, ProviderEvent, Target};
use crate::testing::{self, FixedRandom, Reply, TestApp};
use futures::StreamExt;
use std::time::Duration;

fn config() -> Config {
    Config { provider_retries: 3, retry_base_ms: 500, circuit_failures: 100, ..Config::default() }
}

/// Backoff jitter is always at its ceiling, so waits are exact.
fn app(config: Config) -> TestApp {
    fixtures::app(testing::app().with_random(FixedRandom(0xFF)).with_config(config))
}

fn unavailable() -> Reply {
    Reply::new(503).body(r#"{"error":{"message":"The server is overloaded","type":"server_error"}}"#)
}

/// When each request went out, in milliseconds after the first.
fn send_times(t: &TestApp) -> Vec<i128> {
    let sent = t.http.sent();
    sent.iter().map(|s| (s.at - sent[0].at).whole_milliseconds()).collect()
}

fn hosts(t: &TestApp) -> Vec<String> {
    t.http.sent().iter().map(|s| s.uri.split('/').nth(2).unwrap_or_default().to_string()).collect()
}

/// The whole reply's text, or the error that ended it.
async fn text(opened: Opened) -> Result<String, ProviderError> {
    let first = futures::stream::iter(opened.first.into_iter().map(Ok));
    let mut events = first.chain(opened.rest);
    let mut text = String::new();
    while let Some(event) = events.next().await {
        if let ProviderEvent::Text(t) = event? {
            text.push_str(&t);
        }
    }
    Ok(text)
}

fn reply(t: &TestApp, targets: Vec<Target>) -> Result<String, ProviderError> {
    t.run(async { text(open(&t.app, &route(targets), &request()).await?).await })
}

fn state(t: &TestApp) -> CircuitState {
    t.app.breakers.report([openai()])[0].state
}

#[test]
fn retryable_failures_are_retried_with_doubling_backoff() {
    let t = app(config());
    for _ in 0..3 {
        t.http.reply(unavailable());
    }
    t.http.reply(openai_reply());
    assert_eq!(reply(&t, vec![openai()]).unwrap(), "Bonjour à tous 👋");
    assert_eq!(send_times(&t), [0, 500, 1_500, 3_500], "waits of 500, 1000 and 2000 ms");
}

#[test]
fn backoff_is_capped() {
    let t = app(Config { provider_retries: 2, retry_base_ms: 4_000, ..config() });
    t.http.reply(unavailable());
    t.http.fail(HttpError::Connect("connection refused".into()));
    t.http.reply(openai_reply());
    reply(&t, vec![openai()]).unwrap();
    assert_eq!(send_times(&t), [0, 4_000, 9_000], "the second wait is capped at 5 s");
}

#[test]
fn retry_after_is_honoured_and_a_long_one_moves_on_to_the_next_target() {
    let t = app(config());
    t.http.reply(Reply::new(429).header("retry-after", "3").body(OPENAI_429));
    t.http.reply(Reply::new(429).header("retry-after", "20").body(OPENAI_429));
    t.http.reply(Reply::new(200).chunks(fixtures::events(ANTHROPIC_STREAM)));
    assert_eq!(reply(&t, vec![openai(), anthropic()]).unwrap(), "Bonjour à tous 👋");
    assert_eq!(send_times(&t), [0, 3_000, 3_000]);
    assert_eq!(hosts(&t), ["api.openai.com", "api.openai.com", "api.anthropic.com"]);
}

#[test]
fn a_failure_retrying_cannot_help_falls_back_at_once() {
    let t = app(config());
    t.http.reply(
        Reply::new(400).body(r#"{"error":{"message":"Invalid model","type":"invalid_request_error"}}"#),
    );
    t.http.reply(Reply::new(200).chunks(fixtures::events(ANTHROPIC_STREAM)));
    assert_eq!(reply(&t, vec![openai(), anthropic()]).unwrap(), "Bonjour à tous 👋");
    assert_eq!(hosts(&t), ["api.openai.com", "api.anthropic.com"]);
    assert_eq!(state(&t), CircuitState::Closed, "a client error says nothing about the target's health");
}

#[test]
fn the_last_targets_error_is_returned_when_all_fail() {
    let t = app(Config { provider_retries: 0, ..config() });
    t.http.reply(unavailable());
    t.http.reply(Reply::new(529).body(ANTHROPIC_529));
    let error = reply(&t, vec![openai(), anthropic()]).unwrap_err();
    assert!(matches!(error, ProviderError::Status { status: 529, .. }), "{error:?}");
}

#[test]
fn a_circuit_opens_then_lets_one_probe_through_after_the_cooldown() {
    let t =
        app(Config { provider_retries: 0, circuit_failures: 2, circuit_cooldown_seconds: 30, ..config() });
    for _ in 0..2 {
        t.http.reply(unavailable());
        reply(&t, vec![openai()]).unwrap_err();
    }
    assert_eq!(state(&t), CircuitState::Open);

    let skipped = reply(&t, vec![openai()]).unwrap_err();
    assert!(matches!(&skipped, ProviderError::Connect(m) if m.contains("circuit open")), "{skipped:?}");
    assert_eq!(t.http.sent().len(), 2, "an open circuit sends nothing");

    t.clock.advance(Duration::from_secs(30));
    t.http.reply(unavailable());
    reply(&t, vec![openai()]).unwrap_err();
    assert_eq!(state(&t), CircuitState::Open, "a failed probe opens it again");

    t.clock.advance(Duration::from_secs(30));
    t.http.reply(
        Reply::new(200).pause(Duration::from_secs(1)).chunks(fixtures::events(fixtures::OPENAI_STREAM)),
    );
    let (probe, during) = t.run(async {
        let probe = async { text(open(&t.app, &route(vec![openai()]), &request()).await?).await };
        let look = async {
            t.app.clock.sleep(Duration::from_millis(500)).await;
            state(&t)
        };
        futures::join!(probe, look)
    });
    assert_eq!(during, CircuitState::HalfOpen);
    assert_eq!(probe.unwrap(), "Bonjour à tous 👋");
    assert_eq!(state(&t), CircuitState::Closed, "a good probe closes it");
    assert_eq!(t.http.sent().len(), 4);
}

#[test]
fn no_first_token_in_time_is_a_timeout_and_retried() {
    let t = app(Config { provider_retries: 1, first_token_timeout_ms: 10_000, ..config() });
    t.http.reply(Reply::new(200).body(": OPENROUTER PROCESSING\n\n").stall());
    t.http.reply(openai_reply());
    assert_eq!(reply(&t, vec![openai()]).unwrap(), "Bonjour à tous 👋");
    assert_eq!(send_times(&t), [0, 10_500], "the timeout, then the first backoff");
}

#[test]
fn a_head_that_never_comes_is_a_timeout_too() {
    let t = app(Config { provider_retries: 0, first_token_timeout_ms: 10_000, ..config() });
    t.http.stall();
    let start = t.clock.now_unix();
    let error = reply(&t, vec![openai()]).unwrap_err();
    assert_eq!(error, ProviderError::Timeout("the first token"));
    assert_eq!(t.clock.now_unix() - start, 10);
}

#[test]
fn a_stream_silent_for_the_idle_timeout_ends_with_an_error() {
    let t = app(Config { idle_timeout_ms: 20_000, ..config() });
    let first_two: Vec<String> = fixtures::events(fixtures::OPENAI_STREAM).take(2).collect();
    t.http.reply(Reply::new(200).chunks(first_two).pause(Duration::from_secs(19)).body("\n").stall());
    let start = t.clock.now_unix();
    let error = reply(&t, vec![openai()]).unwrap_err();
    assert_eq!(error, ProviderError::Timeout("the next token"));
    assert_eq!(t.clock.now_unix() - start, 20, "bytes that make no event do not count as one");
    assert_eq!(t.http.sent().len(), 1, "after the first token there is no retry");
}

#[test]
fn attempts_errors_first_tokens_and_tokens_are_counted_and_calls_carry_the_trace() {
    use crate::metrics::{
        INPUT_TOKENS, OUTPUT_TOKENS, PROVIDER_ATTEMPTS, PROVIDER_ERRORS, TIME_TO_FIRST_TOKEN,
    };
    use crate::trace::{TRACEPARENT, TraceContext, scoped};
    let t = app(config());
    t.http.reply(unavailable());
    t.http.reply(openai_reply());
    let trace = TraceContext::new(&*t.app.random);
    t.run(scoped(Some(trace), async { text(open(&t.app, &route(vec![openai()]), &request()).await?).await }))
        .unwrap();
    let m = &t.app.metrics;
    let labels = ["chat", "openai"];
    assert_eq!(m.value(&PROVIDER_ATTEMPTS, &labels), 2.0);
    assert_eq!(m.value(&PROVIDER_ERRORS, &["chat", "openai", "upstream_unavailable"]), 1.0);
    assert_eq!(m.value(&TIME_TO_FIRST_TOKEN, &labels), 1.0, "one first token (a histogram's count)");
    assert_eq!((m.value(&INPUT_TOKENS, &labels), m.value(&OUTPUT_TOKENS, &labels)), (19.0, 6.0));
    for sent in t.http.sent() {
        assert_eq!(sent.headers[TRACEPARENT], trace.traceparent().as_str());
    }
}
