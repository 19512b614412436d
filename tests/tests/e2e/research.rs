//! Research over a test web (a SearXNG-style search API and pages on loopback, one
//! redirecting to a private address that must never be reached), with the built-in
//! `echo` model (the planner's fallback) and with the mock provider playing every agent.

use confab_mock_provider::{MockProvider, Scenario};
use confab_tests::sse::{Event, all_events, text, turn_ids};
use confab_tests::web::{PAGES, TestWeb};
use confab_tests::*;

const QUESTION: &str = "What changed for general-purpose AI models in 2025?";

async fn research(user: &TestUser<'_>, session: &str, body: Value) -> Response {
    user.post(&format!("/chat/sessions/{session}/research"), &body).await
}

fn named<'a>(events: &'a [Event], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e.event == name).map(|e| &e.data).collect()
}

async fn spawn_with_web(web: &TestWeb, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_with(&web.settings(extra)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn with_echo_the_question_is_researched_cited_and_saved_and_the_inside_is_never_reached() {
    let web = TestWeb::start().await;
    let app = spawn_with_web(&web, &[]).await;
    let ada = app.user("ada@example.com").await;
    assert_eq!(ada.get("/chat/capabilities").await.good().await, json!({"research": true}));
    let session = ada.create_session(json!({"title": "Research"})).await;

    let events =
        all_events(research(&ada, &session, json!({"question": QUESTION, "depth": "quick"})).await).await;
    assert_eq!(events[0].event, "message_start");
    assert_eq!(named(&events, "plan"), [&json!({"questions": [QUESTION]})], "echo follows no plan format");
    assert_eq!(web.queries(), [QUESTION]);
    let page = |i: usize| (web.url(PAGES[i].0), PAGES[i].1);
    let sources: Vec<_> =
        named(&events, "source").iter().map(|s| (s["n"].clone(), s["url"].clone())).collect();
    assert_eq!(sources, [(json!(1), json!(page(0).0)), (json!(2), json!(page(2).0))]);
    assert_eq!(web.private_hits(), 0, "the redirect to a private address is refused");
    let skipped =
        named(&events, "step").into_iter().find(|s| s["status"] == "skipped").expect("a skipped page");
    assert!(skipped["detail"].as_str().unwrap().contains("/redirect"), "{skipped}");
    let agents: Vec<_> =
        named(&events, "step").iter().map(|s| s["agent"].as_str().unwrap().to_string()).collect();
    for agent in ["planner", "researcher", "analyzer", "synthesizer"] {
        assert!(agents.iter().any(|a| a == agent), "{agent} in {agents:?}");
    }
    let report = text(&events);
    assert!(report.contains("[1] Obligations apply") && report.contains("2 August 2025"), "{report}");
    assert!(!report.contains("secretTracker") && !report.contains("Site menu"), "{report}");
    let end = events.last().unwrap();
    assert_eq!((end.event.as_str(), &end.data["status"]), ("message_end", &json!("complete")));

    let messages = ada.messages(&session).await;
    let reply = messages.last().unwrap();
    assert_eq!((&reply["role"], &reply["content"]), (&json!("assistant"), &json!(report)));
    let saved = reply["sources"].as_array().unwrap();
    assert_eq!(saved.len(), 2);
    assert_eq!(
        (&saved[0]["n"], &saved[0]["url"], &saved[0]["title"], &saved[0]["snippet"]),
        (&json!(1), &json!(page(0).0), &json!(page(0).1), &json!(format!("about {QUESTION}")))
    );
    // A follow-up is an ordinary chat turn under the report.
    let follow = ada.chat(&session, "thanks").await;
    assert_eq!(text(&follow), "thanks");
    assert_eq!(ada.messages(&session).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn regenerating_a_research_reply_researches_the_question_again_beside_it() {
    let web = TestWeb::start().await;
    let app = spawn_with_web(&web, &[]).await;
    let ada = app.user("ada@example.com").await;
    let session = ada.create_session(json!({"title": "Research"})).await;
    let first =
        all_events(research(&ada, &session, json!({"question": QUESTION, "depth": "quick"})).await).await;
    let (question, first_reply) = turn_ids(&first);

    let regenerate = |id: &str| format!("/chat/sessions/{session}/messages/{id}/regenerate");
    let again = all_events(ada.post(&regenerate(&question), &json!({})).await).await;
    let (asked, second_reply) = turn_ids(&again);
    assert_eq!(asked, question);
    assert_ne!(second_reply, first_reply);
    assert_eq!(named(&again, "plan"), [&json!({"questions": [QUESTION]})], "the same question");
    assert_eq!(web.queries(), [QUESTION, QUESTION], "searched again");
    assert_eq!(named(&again, "source").len(), 2);
    assert_eq!(web.private_hits(), 0);
    assert_eq!(again.last().unwrap().data["status"], "complete");

    let messages = ada.messages(&session).await;
    let shape: Vec<_> = messages
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["parent_id"].clone(), m["research_depth"].clone()))
        .collect();
    let q = json!(question);
    assert_eq!(
        shape,
        [
            ("user", Value::Null, json!("quick")),
            ("assistant", q.clone(), Value::Null),
            ("assistant", q, Value::Null)
        ],
        "siblings, the question researched at its depth"
    );
    assert_eq!(messages[2]["content"], json!(text(&again)));
    assert_eq!(messages[2]["sources"].as_array().map(Vec::len), Some(2));
    let current = ada.get(&format!("/sessions/{session}")).await.good().await;
    assert_eq!(current["current_leaf_id"], json!(second_reply));

    // A chat question after it is answered again as chat.
    let (thanks, _) = turn_ids(&ada.chat(&session, "thanks").await);
    let chat_again = all_events(ada.post(&regenerate(&thanks), &json!({})).await).await;
    assert!(named(&chat_again, "plan").is_empty());
    assert_eq!(text(&chat_again), "thanks");
    assert_eq!(web.queries().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_search_provider_research_is_unavailable_and_bad_input_is_refused() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    assert_eq!(ada.get("/chat/capabilities").await.good().await, json!({"research": false}));
    let session = ada.create_session(json!({})).await;
    let resp = research(&ada, &session, json!({"question": QUESTION})).await;
    assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "search_not_configured").await;
    assert!(ada.messages(&session).await.is_empty(), "nothing is saved");
    // A research question (as search left it, switched off since) is not answered
    // again as chat: its regenerate is refused, and writes nothing.
    let (question, _) = turn_ids(&ada.chat(&session, QUESTION).await);
    let (pk, sk) = (format!("SESSION#{session}"), format!("MSG#{question}"));
    let mut item = stored_item(app.data_dir(), &pk, &sk).await.expect("the question");
    item.data.insert("research_depth".into(), json!("quick"));
    put_stored_item(app.data_dir(), item).await;
    let regenerate = format!("/chat/sessions/{session}/messages/{question}/regenerate");
    let resp = ada.post(&regenerate, &json!({})).await;
    assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "search_not_configured").await;
    assert_eq!(ada.messages(&session).await.len(), 2, "nothing is saved");

    let web = TestWeb::start().await;
    let app = spawn_with_web(&web, &[]).await;
    let ada = app.user("ada@example.com").await;
    let session = ada.create_session(json!({})).await;
    for bad in [
        json!({"question": QUESTION, "depth": "exhaustive"}),
        json!({"question": "   "}),
        json!({"question": QUESTION, "sources": []}),
        json!({"question": 7}),
    ] {
        let status = research(&ada, &session, bad.clone()).await.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {status}"
        );
    }
    let resp = research(&ada, UNKNOWN_ID, json!({"question": QUESTION})).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert!(web.queries().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mock_provider_plays_every_agent_and_every_agents_tokens_are_counted() {
    let web = TestWeb::start().await;
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    let openai_url = format!("{}/v1", mock.base_url());
    // One answer serves every agent: the planner and the analyzer read its JSON, the
    // synthesizer's report is all of it.
    let answer = r#"{"questions": ["gpai obligations", "gpai code of practice"], "summary": "Both dated.", "more": []} Report: obligations apply from August 2025 [1]."#;
    mock.set_scenario("researcher-model", Scenario::reply(answer));
    let app = spawn_with_web(
        &web,
        &[
            ("CONFAB_OPENAI_BASE_URL", &openai_url),
            ("CONFAB_OPENAI_API_KEY", "openai-key"),
            ("CONFAB_OPENAI_MODELS", "researcher-model"),
            ("CONFAB_RESEARCH_MODEL", "researcher-model"),
        ],
    )
    .await;
    let ada = app.user("ada@example.com").await;
    let session = ada.create_session(json!({"title": "Research"})).await;
    let events =
        all_events(research(&ada, &session, json!({"question": QUESTION, "depth": "quick"})).await).await;

    assert_eq!(
        named(&events, "plan"),
        [&json!({"questions": ["gpai obligations", "gpai code of practice"]})]
    );
    let mut queries = web.queries();
    queries.sort();
    assert_eq!(queries, ["gpai code of practice", "gpai obligations"]);
    assert_eq!(mock.requests("researcher-model").len(), 3, "planner, analyzer, synthesizer");
    let analyzer =
        named(&events, "step").into_iter().find(|s| s["agent"] == "analyzer" && s["status"] == "done");
    assert_eq!(analyzer.unwrap()["detail"], "Both dated.");
    assert_eq!(text(&events), answer);
    assert_eq!(named(&events, "source").len(), 2, "each page once, though both searches found it");
    assert_eq!(web.private_hits(), 0);

    // Three answers of the same length: the reply's usage counts all of them.
    let usage = named(&events, "usage")[0].clone();
    let one_answer = answer.split_inclusive(' ').count() as i64;
    assert!(usage["output_tokens"].as_i64().unwrap() >= 3 * one_answer - 3, "{usage}");
    let total = usage["input_tokens"].as_i64().unwrap() + usage["output_tokens"].as_i64().unwrap();
    app.assert_tokens_settle_at(&ada.account, total).await;
}

/// A server whose research model answers slowly (the mock's filler tokens: no plan
/// format, so the question is the plan), for cutting streams.
async fn slow_research(web: &TestWeb) -> (TestApp, confab_mock_provider::MockHandle) {
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    mock.set_scenario("slow-model", Scenario::tokens(30).with_token_delay_ms(15));
    let openai_url = format!("{}/v1", mock.base_url());
    let settings = [
        ("CONFAB_OPENAI_BASE_URL", openai_url.as_str()),
        ("CONFAB_OPENAI_API_KEY", "openai-key"),
        ("CONFAB_OPENAI_MODELS", "slow-model"),
        ("CONFAB_RESEARCH_MODEL", "slow-model"),
        ("CONFAB_STREAM_FLUSH_MS", "20"),
    ];
    (spawn_with_web(web, &settings).await, mock)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_research_stream_resumes_at_a_cut_and_cancel_stops_it() {
    use confab_tests::sse::{events as event_stream, ids};
    use futures::StreamExt;
    let web = TestWeb::start().await;
    let (app, _mock) = slow_research(&web).await;
    let ada = app.user("ada@example.com").await;
    let session = ada.create_session(json!({"title": "Research"})).await;

    let mut stream =
        event_stream(research(&ada, &session, json!({"question": QUESTION, "depth": "quick"})).await);
    let mut seen = Vec::new();
    while seen.len() < 4 {
        seen.push(stream.next().await.unwrap());
    }
    drop(stream);
    let message = seen[0].data["message_id"].as_str().unwrap().to_string();
    let path = format!("/chat/sessions/{session}/messages/{message}/stream");
    let last = seen.last().unwrap().id.unwrap().to_string();
    let rest = all_events(send(ada.request(Method::GET, &path).header("last-event-id", last)).await).await;
    let whole: Vec<Event> = seen.into_iter().chain(rest).collect();
    assert_eq!(ids(&whole), (0..whole.len() as u64).collect::<Vec<_>>(), "no gap, no repeat");
    assert_eq!(named(&whole, "plan").len(), 1);
    assert_eq!(named(&whole, "source").len(), 2);
    assert_eq!(whole.last().unwrap().data["status"], "complete");
    let reply = ada.messages(&session).await.last().unwrap().clone();
    assert_eq!(
        (reply["content"].as_str().unwrap(), reply["sources"].as_array().unwrap().len()),
        (text(&whole).as_str(), 2)
    );

    let mut stream =
        event_stream(research(&ada, &session, json!({"question": "again", "depth": "quick"})).await);
    let start = stream.next().await.unwrap();
    let message = start.data["message_id"].as_str().unwrap().to_string();
    let cancel = format!("/chat/sessions/{session}/messages/{message}/cancel");
    assert_eq!(send(ada.request(Method::POST, &cancel)).await.status(), StatusCode::ACCEPTED);
    let rest: Vec<Event> = stream.collect().await;
    assert_eq!(rest.last().unwrap().data["status"], "cancelled", "{rest:?}");
    for _ in 0..100 {
        let reply = ada.messages(&session).await.last().unwrap().clone();
        if reply["status"] != "streaming" {
            assert_eq!(reply["status"], "cancelled");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the cancelled research never settled");
}
