//! Latency injection. Only lower bounds are asserted: a loaded machine may always be slower.

use crate::common;

use std::time::{Duration, Instant};

use common::openai;
use confab_mock_provider::{MockProvider, Scenario};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// Times from the request to the first content token and to the end of the stream.
async fn stream_times(mock: &confab_mock_provider::MockHandle, model: &str) -> (Duration, Duration) {
    let start = Instant::now();
    let mut events = openai(mock, chat(model, true)).await.bytes_stream().eventsource();
    let mut first = None;
    while let Some(event) = events.next().await {
        let event = event.unwrap();
        if first.is_none() && event.data != "[DONE]" {
            let chunk: Value = serde_json::from_str(&event.data).unwrap();
            if chunk["choices"][0]["delta"]["content"].as_str().is_some_and(|text| !text.is_empty()) {
                first = Some(start.elapsed());
            }
        }
    }
    (first.expect("a content token"), start.elapsed())
}

#[tokio::test]
async fn ttft_delays_the_first_token() {
    let mock = MockProvider::builder().ttft(Duration::from_millis(150)).spawn("127.0.0.1:0").await.unwrap();
    let (first, _) = stream_times(&mock, "slow").await;
    assert!(first >= Duration::from_millis(150), "first token after {first:?}");
}

#[tokio::test]
async fn token_delay_spaces_the_tokens() {
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    mock.set_scenario("paced", Scenario::tokens(5).with_ttft_ms(50).with_token_delay_ms(60));
    let (first, total) = stream_times(&mock, "paced").await;
    assert!(first >= Duration::from_millis(50), "first token after {first:?}");
    assert!(total >= Duration::from_millis(50 + 4 * 60), "stream took {total:?}");
}

#[tokio::test]
async fn non_streaming_reply_waits_for_its_last_token() {
    let mock = MockProvider::builder()
        .ttft(Duration::from_millis(100))
        .token_delay(Duration::from_millis(30))
        .spawn("127.0.0.1:0")
        .await
        .unwrap();
    mock.set_scenario("whole", Scenario::tokens(4));
    let start = Instant::now();
    let response = openai(&mock, chat("whole", false)).await;
    assert_eq!(response.status(), 200);
    assert!(start.elapsed() >= Duration::from_millis(100 + 3 * 30), "answered after {:?}", start.elapsed());
}

#[tokio::test]
async fn scenario_timing_overrides_the_defaults() {
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    mock.set_scenario("override", Scenario::reply("x y").with_ttft_ms(200));
    let (first, _) = stream_times(&mock, "override").await;
    assert!(first >= Duration::from_millis(200), "first token after {first:?}");
}
