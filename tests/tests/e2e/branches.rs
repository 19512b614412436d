//! Branches (edits and regenerations are siblings, each branch its own context, the
//! current branch switched and listed, old conversations read as one branch) and the
//! automatic titles, against the mock provider, which records what every turn sent.

use confab_core::domain::Id;
use confab_core::ports::Item;
use confab_mock_provider::{Fault, MockHandle, Scenario};
use confab_tests::mock::{Format, MockModels, spawn_app_with_mock};
use confab_tests::scenario::sent_texts;
use confab_tests::sse::{all_events, events, turn_ids};
use confab_tests::*;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

const MODEL: &str = "oa-model";
const TITLE_MODEL: &str = "title-model";

struct Chat {
    app: TestApp,
    mock: MockHandle,
    ada: Registered,
    session: String,
}

/// A server whose models (`oa-model`, `title-model`) are answered by the mock, and
/// Ada's session on `oa-model`, made with `session` (e.g. a title).
async fn setup(extra: &[(&str, &str)], session: Value) -> Chat {
    let models = MockModels::new().chat(Format::OpenAi, MODEL).chat(Format::OpenAi, TITLE_MODEL);
    let (app, mock) = spawn_app_with_mock(&models, extra).await;
    let ada = app.register("ada@example.com").await;
    let mut body = session;
    body["model"] = json!(MODEL);
    let session = app.as_user(ada.clone()).create_session(body).await;
    Chat { app, mock, ada, session }
}

impl Chat {
    fn ada(&self) -> TestUser<'_> {
        self.app.as_user(self.ada.clone())
    }

    /// Sends `body` and reads the reply to its end; the turn's ids.
    async fn send(&self, body: Value) -> (String, String) {
        let events = all_events(self.ada().send_message(&self.session, &body).await).await;
        assert_eq!(events.last().unwrap().data["status"], "complete", "{events:?}");
        turn_ids(&events)
    }

    async fn regenerate(&self, message: &str) -> (String, String) {
        let path = format!("/chat/sessions/{}/messages/{message}/regenerate", self.session);
        let events = all_events(self.ada().post(&path, &json!({})).await).await;
        assert_eq!(events.last().unwrap().data["status"], "complete", "{events:?}");
        turn_ids(&events)
    }

    /// The texts of the messages the provider got for the latest turn.
    fn sent(&self) -> Vec<String> {
        sent_texts(&self.mock, MODEL)
    }

    /// The contents of `?branch=…` (every page, `limit` at a time).
    async fn branch(&self, branch: &str, limit: u32) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor = String::new();
        loop {
            let path =
                format!("/sessions/{}/messages?branch={branch}&limit={limit}&cursor={cursor}", self.session);
            let page = self.ada().get(&path).await.good().await;
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_string(),
                None => return items,
            }
        }
    }

    async fn contents(&self, branch: &str) -> Vec<String> {
        let items = self.branch(branch, 100).await;
        items.iter().filter(|m| m["role"] == "user").map(|m| str_field(m, "content")).collect()
    }

    async fn session(&self) -> Value {
        self.ada().get(&format!("/sessions/{}", self.session)).await.good().await
    }

    async fn all(&self) -> Vec<Value> {
        self.ada().messages(&self.session).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_and_regenerations_are_siblings_with_their_own_context() {
    let c = setup(&[], json!({"title": "Branches"})).await;
    let (alpha, a1) = c.send(json!({"content": "alpha"})).await;
    let (bravo, _) = c.send(json!({"content": "bravo"})).await;
    assert_eq!(c.sent(), ["alpha", "Mock reply to: alpha", "bravo"]);

    // An edit: a new user message under the first reply, beside "bravo".
    let (charlie, a3) = c.send(json!({"content": "charlie", "parent_id": a1})).await;
    assert_eq!(c.sent(), ["alpha", "Mock reply to: alpha", "charlie"], "never the other branch's words");
    assert_eq!(c.session().await["current_leaf_id"], json!(a3));
    assert_eq!(c.contents("current").await, ["alpha", "charlie"]);
    let all = c.all().await;
    let parent = |id: &str| all.iter().find(|m| m["id"] == id).map(|m| m["parent_id"].clone()).unwrap();
    assert_eq!((parent(&bravo), parent(&charlie), parent(&alpha)), (json!(a1), json!(a1), Value::Null));

    // A regeneration: a new reply to "bravo", beside the first.
    let (asked, a4) = c.regenerate(&bravo).await;
    assert_eq!(asked, bravo);
    assert_eq!(c.sent(), ["alpha", "Mock reply to: alpha", "bravo"]);
    assert_eq!(c.session().await["current_leaf_id"], json!(a4));
    let replies_to_bravo = c.all().await.iter().filter(|m| m["parent_id"] == json!(bravo)).count();
    assert_eq!(replies_to_bravo, 2);
    // The default parent is the current leaf.
    c.send(json!({"content": "delta"})).await;
    assert_eq!(c.sent(), ["alpha", "Mock reply to: alpha", "bravo", "Mock reply to: bravo", "delta"]);

    // Switching back to the edit's branch, listed by leaf and as the current one.
    assert_eq!(c.contents(&a3).await, ["alpha", "charlie"]);
    let switched = c.ada().patch(&format!("/sessions/{}", c.session), &json!({"current_leaf_id": a3})).await;
    assert_eq!(switched.good().await["current_leaf_id"], json!(a3));
    c.send(json!({"content": "echo"})).await;
    assert_eq!(c.sent(), ["alpha", "Mock reply to: alpha", "charlie", "Mock reply to: charlie", "echo"]);
    let branch = c.branch("current", 1).await;
    let texts: Vec<_> = branch.iter().map(|m| str_field(m, "content")).collect();
    assert_eq!(
        texts,
        ["alpha", "Mock reply to: alpha", "charlie", "Mock reply to: charlie", "echo", "Mock reply to: echo"],
        "paged one by one"
    );

    // Editing the first message: under the root.
    c.send(json!({"content": "foxtrot", "parent_id": null})).await;
    assert_eq!(c.sent(), ["foxtrot"]);
    assert_eq!(c.contents("current").await, ["foxtrot"]);
    // Every message of every branch, each with its parent.
    let all = c.all().await;
    assert_eq!(all.len(), 13);
    assert!(all.iter().all(|m| m.get("parent_id").is_some()));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parents_and_leaves_are_refused_and_nothing_is_written() {
    let c = setup(&[], json!({"title": "Mine"})).await;
    let (asked, reply) = c.send(json!({"content": "alpha"})).await;
    let other = c.ada().create_session(json!({})).await;
    let elsewhere =
        all_events(c.ada().send_message(&other, &json!({"content": "x", "model": MODEL})).await).await;
    let (_, other_reply) = turn_ids(&elsewhere);
    let unknown = Id::lowest_at(1).to_string();
    let before = c.all().await.len();

    for (parent, code) in
        [(&other_reply, "unknown_message"), (&unknown, "unknown_message"), (&asked, "wrong_message_role")]
    {
        let resp = c.ada().send_message(&c.session, &json!({"content": "y", "parent_id": parent})).await;
        assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
    let regenerate = |id: &str| format!("/chat/sessions/{}/messages/{id}/regenerate", c.session);
    assert_error(
        c.ada().post(&regenerate(&reply), &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "wrong_message_role",
    )
    .await;
    assert_error(c.ada().post(&regenerate(&unknown), &json!({})).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    let bob = c.app.user("bob@example.com").await;
    assert_error(bob.post(&regenerate(&asked), &json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
    let patch = |leaf: &str| json!({"current_leaf_id": leaf});
    for leaf in [&other_reply, &unknown] {
        let resp = c.ada().patch(&format!("/sessions/{}", c.session), &patch(leaf)).await;
        assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "unknown_message").await;
    }
    let listed = c.ada().get(&format!("/sessions/{}/messages?branch={other_reply}", c.session)).await;
    assert_error(listed, StatusCode::UNPROCESSABLE_ENTITY, "unknown_message").await;
    assert_eq!(c.all().await.len(), before);
    assert_eq!(c.session().await["current_leaf_id"], json!(reply));
}

#[tokio::test(flavor = "multi_thread")]
async fn old_conversations_read_as_one_branch() {
    let c = setup(&[], json!({"title": "Old"})).await;
    // Messages as stored before branches: no parent_id, and a session without a leaf.
    let start_ms = (time::OffsetDateTime::now_utc().unix_timestamp() as u64 - 60) * 1000;
    let old: Vec<(String, &str, &str)> = [
        ("user", "old question"),
        ("assistant", "old answer"),
        ("user", "second question"),
        ("assistant", "second answer"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (role, content))| (Id::lowest_at(start_ms + i as u64).to_string(), *role, *content))
    .collect();
    for (id, role, content) in &old {
        let data = json!({"id": id, "role": role, "content": content, "status": "complete", "model": null,
            "usage": null, "created_at": "2025-01-01T00:00:00Z"});
        let Value::Object(data) = data else { unreachable!() };
        put_stored_item(
            c.app.data_dir(),
            Item::new(format!("SESSION#{}", c.session), format!("MSG#{id}"), data),
        )
        .await;
    }
    let all = c.all().await;
    let parents: Vec<_> = all.iter().map(|m| m["parent_id"].clone()).collect();
    assert_eq!(parents, [Value::Null, json!(old[0].0), json!(old[1].0), json!(old[2].0)]);
    assert_eq!(c.contents("current").await, ["old question", "second question"]);
    assert_eq!(c.contents(&old[1].0).await, ["old question"]);
    assert_eq!(c.session().await["current_leaf_id"], json!(old[3].0));

    let (asked, _) = c.send(json!({"content": "new question"})).await;
    assert_eq!(c.sent(), ["old question", "old answer", "second question", "second answer", "new question"]);
    let asked = c.all().await.into_iter().find(|m| m["id"] == json!(asked)).unwrap();
    assert_eq!(asked["parent_id"], json!(old[3].0));
    // An edit of an old question.
    c.send(json!({"content": "edited", "parent_id": old[1].0})).await;
    assert_eq!(c.sent(), ["old question", "old answer", "edited"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_sends_keep_the_tree_whole() {
    let c = setup(&[], json!({"title": "Race"})).await;
    c.send(json!({"content": "start"})).await;
    let ada = c.ada();
    let bodies: Vec<Value> = (0..4).map(|i| json!({"content": format!("racer {i}")})).collect();
    let sends = bodies.iter().map(|body| ada.send_message(&c.session, body));
    let mut won = 0;
    for resp in futures::future::join_all(sends).await {
        if resp.status() == StatusCode::OK {
            all_events(resp).await;
            won += 1;
        } else {
            assert_error(resp, StatusCode::CONFLICT, "conflict").await;
        }
    }
    assert!(won >= 1);
    let all = c.all().await;
    assert_eq!(all.len(), 2 + 2 * won, "a refused send wrote nothing");
    for m in &all {
        let parent = all.iter().find(|p| p["id"] == m["parent_id"]);
        let expected = if m["role"] == "user" { "assistant" } else { "user" };
        match parent {
            Some(p) => assert_eq!(p["role"], expected, "{m}"),
            None => assert!(m["parent_id"].is_null() && m["role"] == "user", "{m}"),
        }
    }
    let branch = c.branch("current", 100).await;
    assert_eq!(branch.last().unwrap()["id"], c.session().await["current_leaf_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_reply_names_the_session() {
    let c = setup(&[("CONFAB_TITLE_MODEL", TITLE_MODEL)], json!({})).await;
    c.mock.set_scenario(TITLE_MODEL, Scenario::reply("\"Voyage Planning.\"\nand more"));
    let events =
        all_events(c.ada().send_message(&c.session, &json!({"content": "plan a trip to Paris"})).await).await;
    let usage = events.iter().find(|e| e.event == "usage").unwrap();
    let reply_tokens =
        usage.data["input_tokens"].as_i64().unwrap() + usage.data["output_tokens"].as_i64().unwrap();
    assert_eq!(c.session().await["title"], "Voyage Planning");
    let asked = c.mock.requests(TITLE_MODEL);
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].body["max_tokens"].as_u64().unwrap() <= 24
            || asked[0].body["max_completion_tokens"].as_u64().unwrap() <= 24
    );
    let counted = c.app.tokens_once(&c.ada, |n| n > reply_tokens).await;
    assert!(counted > reply_tokens, "the title's tokens count to the user");
    let found = c.ada().get("/sessions?query=voyage").await.good().await;
    assert_eq!(found["items"][0]["id"], json!(c.session), "the new title is searchable");
    // Only the first reply names a session.
    c.send(json!({"content": "and Rome"})).await;
    assert_eq!(c.mock.requests(TITLE_MODEL).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_title_the_user_set_is_never_replaced() {
    let c = setup(&[("CONFAB_TITLE_MODEL", TITLE_MODEL)], json!({"title": "Mine"})).await;
    c.send(json!({"content": "hello"})).await;
    assert_eq!(c.session().await["title"], "Mine");
    assert!(c.mock.requests(TITLE_MODEL).is_empty(), "no title was asked for");

    // Renamed while the title is being asked for.
    let other = c.ada().create_session(json!({"model": MODEL})).await;
    c.mock.set_scenario(TITLE_MODEL, Scenario::reply("Generated").with_ttft_ms(500));
    let mut stream = events(c.ada().send_message(&other, &json!({"content": "hello again"})).await);
    while let Some(event) = stream.next().await {
        if event.event == "message_end" {
            break;
        }
    }
    let renamed = c.ada().patch(&format!("/sessions/{other}"), &json!({"title": "Renamed"})).await;
    assert_eq!(renamed.good().await["title"], "Renamed");
    while stream.next().await.is_some() {}
    assert_eq!(c.mock.requests(TITLE_MODEL).len(), 1);
    let got = c.ada().get(&format!("/sessions/{other}")).await.good().await;
    assert_eq!(got["title"], "Renamed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_title_call_keeps_the_derived_title() {
    let c = setup(&[("CONFAB_TITLE_MODEL", TITLE_MODEL)], json!({})).await;
    c.mock.set_scenario(TITLE_MODEL, Scenario::default().always(Fault::status(400)));
    c.send(json!({"content": "what is a monad\nin simple words"})).await;
    assert_eq!(c.mock.requests(TITLE_MODEL).len(), 1);
    assert_eq!(c.session().await["title"], "what is a monad");
}
