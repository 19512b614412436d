//! Replies whose producer died: the local server killed with SIGKILL mid-reply and
//! started again on the same data. Readers end such a reply as `interrupted` once its
//! lease has run out, and so does the periodic sweep when nobody reads it. The Lambda
//! and Workers sweeps are tested beside their stacks, with the helpers here.

use confab_core::domain::Id;
use confab_core::ports::Store;
use confab_core::repo::sessions::{message_sk, pk};
use confab_mock_provider::{MockHandle, MockProvider, Scenario};
use confab_tests::lambda::ProviderSetup;
use confab_tests::process::LocalProcess;
use confab_tests::sse::{Event, all_events, events, text};
use confab_tests::*;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const MODEL: &str = "slow-model";
const LEASE_SECONDS: &str = "1";

pub(crate) async fn slow_mock() -> MockHandle {
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    mock.set_scenario(MODEL, Scenario::tokens(2000).with_token_delay_ms(20));
    mock
}

/// The slow model, for the Lambda and Workers stacks.
pub(crate) fn slow_provider(mock: &MockHandle) -> ProviderSetup {
    ProviderSetup { models: MODEL.into(), ..confab_tests::scenario::openai(mock) }
}

async fn start(data_dir: &Path, mock: &MockHandle, sweep_seconds: &str) -> LocalProcess {
    let openai = format!("{}/v1", mock.base_url());
    let settings = [
        ("CONFAB_OPENAI_BASE_URL", openai.as_str()),
        ("CONFAB_OPENAI_API_KEY", "mock-key"),
        ("CONFAB_OPENAI_MODELS", MODEL),
        ("CONFAB_STREAM_FLUSH_MS", "20"),
        ("CONFAB_STREAM_LEASE_SECONDS", LEASE_SECONDS),
        ("CONFAB_STREAM_SWEEP_SECONDS", sweep_seconds),
    ];
    LocalProcess::start(data_dir, &settings).await
}

/// Starts a slow reply in a new session and reads it until some text has arrived and
/// been saved. Returns the session and the reply's id.
pub(crate) async fn reply_under_way(user: &TestUser<'_>) -> (String, String) {
    let session = user.create_session(json!({})).await;
    let mut stream = events(user.send_message(&session, &json!({"content": "go on"})).await);
    let mut seen: Vec<Event> = Vec::new();
    while text(&seen).split_whitespace().count() < 10 {
        seen.push(stream.next().await.expect("the reply streams"));
    }
    // A few flush periods, so that batches are saved.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (session, seen[0].data["message_id"].as_str().unwrap().to_string())
}

/// Starts a reply on a server that is then killed with SIGKILL mid-reply. Returns the
/// user, the session and the reply's id.
async fn killed_mid_reply(data_dir: &Path, mock: &MockHandle) -> (Registered, String, String) {
    let first = start(data_dir, mock, "3600").await;
    let ada = first.app.user("ada@example.com").await;
    let (session, message) = reply_under_way(&ada).await;
    let account = ada.account;
    first.kill();
    (account, session, message)
}

/// The reply's status as `store` holds it.
pub(crate) async fn status_in(store: &impl Store, session: &str, message: &str) -> String {
    let (session, message) = (Id::parse(session).unwrap(), Id::parse(message).unwrap());
    let item = store.get(&pk(session), &message_sk(message)).await.unwrap().expect("the reply is stored");
    item.str("status").unwrap().to_string()
}

async fn stored_status(data_dir: &Path, session: &str, message: &str) -> String {
    let store = confab_embedded::SqliteStore::open(data_dir.join("confab.db")).expect("open the store");
    status_in(&store, session, message).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_whose_server_was_killed_ends_interrupted_with_its_saved_text() {
    let mock = slow_mock().await;
    let data = tempfile::tempdir().unwrap();
    let (ada, session, message) = killed_mid_reply(data.path(), &mock).await;
    assert_eq!(stored_status(data.path(), &session, &message).await, "streaming");

    let second = start(data.path(), &mock, "3600").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let ada = second.app.as_user(ada);
    let reply = ada.messages(&session).await[1].clone();
    assert_eq!((&reply["id"], &reply["status"]), (&json!(message), &json!("interrupted")), "{reply}");
    let said = reply["content"].as_str().unwrap();
    assert!(said.split_whitespace().count() >= 10, "the saved text is kept: {said:?}");

    let stream = format!("/chat/sessions/{session}/messages/{message}/stream");
    let started = Instant::now();
    let replay = all_events(ada.get(&stream).await).await;
    assert!(started.elapsed() < Duration::from_secs(5), "resume ends at once");
    assert_eq!(text(&replay), said);
    let last = replay.last().unwrap();
    assert_eq!((last.event.as_str(), &last.data["status"]), ("message_end", &json!("interrupted")));

    let cancel = format!("/chat/sessions/{session}/messages/{message}/cancel");
    let resp = send(ada.request(Method::POST, &cancel)).await;
    assert_error(resp, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sweep_ends_a_dead_reply_that_nobody_reads() {
    let mock = slow_mock().await;
    let data = tempfile::tempdir().unwrap();
    let (_, session, message) = killed_mid_reply(data.path(), &mock).await;

    let second = start(data.path(), &mock, "1").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while stored_status(data.path(), &session, &message).await == "streaming" {
        assert!(Instant::now() < deadline, "the sweep did not end the reply:\n{}", second.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stored_status(data.path(), &session, &message).await, "interrupted");
}
