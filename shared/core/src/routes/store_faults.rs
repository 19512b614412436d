//! The API on a store that fails: every endpoint answers 503 `service_unavailable`
//! with `Retry-After`, and a turn (send, edit, regenerate) that meets a failing store
//! call, whichever call it is, leaves its session consistent and its tokens counted
//! once. Requests go through the whole middleware chain on the test kit, whose store
//! fails the calls each test chooses.

use crate::auth::keys::initial_secrets;
use crate::domain::Id;
use crate::http::{Body, ClientIp};
use crate::ports::Clock;
use crate::repo::quota;
use crate::testing::{self, Fault, TestApp};
use crate::{Config, Function, serve, sweep};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Value, json};
use std::time::Duration;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Serves one JSON request (none when `body` is `None`); see [`exchange`].
fn call(t: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    let body = body.map(|b| ("application/json", Bytes::from(b.to_string())));
    exchange(t, method, path, token, body)
}

/// Serves one request with a body of its content type, and reads its whole answer,
/// running whatever it spawned.
fn exchange(
    t: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Bytes)>,
) -> Answer {
    let mut req = http::Request::builder().method(method).uri(path);
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some((content_type, bytes)) => {
            req = req.header(header::CONTENT_TYPE, content_type);
            bytes
        }
        None => Bytes::new(),
    };
    let mut req = req.body(body).unwrap();
    req.extensions_mut().insert(ClientIp([192, 0, 2, 1].into()));
    let function = Function::for_path(path).unwrap_or(Function::Auth);
    t.run(async {
        let resp = serve(&t.app, function, req).await;
        let (parts, body) = resp.into_parts();
        let body = match body {
            Body::Full(bytes) => bytes,
            Body::Stream(chunks) => chunks.collect::<Vec<_>>().await.concat().into(),
        };
        Answer { status: parts.status, headers: parts.headers, body }
    })
}

/// An app whose user may chat all day: many runs, each past a lease, on one login.
fn app() -> TestApp {
    let config = Config {
        access_ttl_seconds: 86_400,
        requests_per_minute: 10_000,
        login_max_per_minute: 10_000,
        ..Config::default()
    };
    let t = testing::app().with_config(config).build();
    for (name, value) in initial_secrets(&*t.app.random, &*t.app.clock) {
        t.secrets.set(&name, &value);
    }
    t
}

const PASSWORD: &str = "correct horse battery staple";

/// Registers the first user (an admin); returns their access token.
fn register(t: &TestApp) -> String {
    register_as(t, "ada@example.com")
}

fn register_as(t: &TestApp, email: &str) -> String {
    let body = json!({ "email": email, "password": PASSWORD });
    let answer = call(t, Method::POST, "/auth/register", None, Some(body));
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.json());
    answer.json()["access_token"].as_str().unwrap().to_string()
}

fn new_session(t: &TestApp, token: &str) -> String {
    let answer = call(t, Method::POST, "/sessions", Some(token), Some(json!({})));
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.json());
    answer.json()["id"].as_str().unwrap().to_string()
}

/// Sends a message under `parent` (the current leaf when `None`, the root when null).
fn send(t: &TestApp, token: &str, session: &str, parent: Option<Value>) -> Answer {
    let mut body = json!({ "content": "Say hello in French." });
    if let Some(parent) = parent {
        body["parent_id"] = parent;
    }
    call(t, Method::POST, &format!("/chat/sessions/{session}/messages"), Some(token), Some(body))
}

/// A new session with one turn in it (regenerated in the same millisecond, on the
/// manual clock: its new reply must still get an id of its own).
fn answered_session(t: &TestApp, token: &str) -> String {
    let session = new_session(t, token);
    assert_eq!(send(t, token, &session, None).status, StatusCode::OK);
    session
}

fn regenerate(t: &TestApp, token: &str, session: &str, asked: &str) -> Answer {
    let path = format!("/chat/sessions/{session}/messages/{asked}/regenerate");
    call(t, Method::POST, &path, Some(token), Some(json!({})))
}

/// Every message of every branch of the session, oldest first.
fn messages(t: &TestApp, token: &str, session: &str) -> Vec<Value> {
    let answer = call(t, Method::GET, &format!("/sessions/{session}/messages?limit=100"), Some(token), None);
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
    answer.json()["items"].as_array().unwrap().clone()
}

/// 503 `service_unavailable` with a `Retry-After`, as every refusal for a failing store.
fn assert_unavailable(answer: &Answer, what: &str) {
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {:?}", answer.json());
    assert_eq!(answer.json()["error"]["code"], "service_unavailable", "{what}");
    assert!(answer.headers.contains_key(header::RETRY_AFTER), "{what}: no Retry-After");
}

/// What must hold of a session whatever failed: no reply still `streaming` once its
/// lease ran out, every reply answers a user message of the session, every user
/// message has a reply, and the current leaf is one of its messages (none when empty).
fn assert_consistent(t: &TestApp, token: &str, session: &str, what: &str) -> Vec<Value> {
    t.clock.advance(Duration::from_secs(t.app.config.stream_lease_seconds as u64 + 1));
    let all = messages(t, token, session);
    let by_id = |id: &Value| all.iter().find(|m| m["id"] == *id);
    for m in &all {
        assert_ne!(m["status"], "streaming", "{what}: a reply stuck streaming: {m}");
        if m["role"] == "assistant" {
            let parent = by_id(&m["parent_id"]).unwrap_or_else(|| panic!("{what}: an orphan reply {m}"));
            assert_eq!(parent["role"], "user", "{what}");
        } else {
            let answered = all.iter().any(|r| r["parent_id"] == m["id"]);
            assert!(answered, "{what}: a user message without its reply: {m}");
        }
    }
    let got = call(t, Method::GET, &format!("/sessions/{session}"), Some(token), None).json();
    let leaf = &got["current_leaf_id"];
    match leaf {
        Value::Null => assert!(all.is_empty(), "{what}: messages, but no current leaf"),
        id => assert!(by_id(id).is_some(), "{what}: the current leaf {id} is no message"),
    }
    all
}

/// The tokens counted against the user's day equal what the usage report holds: no
/// reservation was left behind, none given back twice.
fn assert_tokens_counted_once(t: &TestApp, token: &str, what: &str) {
    let me = call(t, Method::GET, "/auth/me", Some(token), None).json();
    let user_id = Id::parse(me["user"]["id"].as_str().unwrap()).unwrap();
    let today = t.clock.now().date();
    let counted = t.run(quota::add_tokens(&t.app, user_id, today, 0)).unwrap();
    let report = call(t, Method::GET, "/admin/usage", Some(token), None).json();
    let reported: i64 = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["input_tokens"].as_i64().unwrap() + row["output_tokens"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, reported, "{what}: tokens counted against the day vs. the usage report: {report}");
}

/// How the store fails at the call chosen.
#[derive(Clone, Copy)]
enum Failing {
    /// That call alone fails (a throttled request).
    Once,
    /// That call and every one after it fail, until the test heals the store (an
    /// outage): the turn's tokens stay counted, as for a producer that died.
    From,
}

/// Runs `turn` (on a session `prepare` makes, with its first user message) once per
/// store call it makes, failing that call: until a run makes fewer calls than the one
/// chosen. Then checks the session and the tokens.
fn fail_each_call(
    failing: Failing,
    prepare: impl Fn(&TestApp, &str) -> String,
    turn: impl Fn(&TestApp, &str, &str, Option<&str>) -> Answer,
) {
    let t = app();
    let token = register(&t);
    for n in 1.. {
        let session = prepare(&t, &token);
        let first = messages(&t, &token, &session).into_iter().find(|m| m["role"] == "user");
        let asked = first.map(|m| m["id"].as_str().unwrap().to_string());
        match failing {
            Failing::Once => t.faults.fail_call(n, Fault::Throttled),
            Failing::From => t.faults.fail_calls_from(n, Fault::TimedOut),
        }
        let answer = turn(&t, &token, &session, asked.as_deref());
        let failed = !t.faults.pending();
        t.faults.heal();
        if !failed {
            assert!(n > 5, "a turn makes more store calls than {n}");
            break;
        }
        let what = format!("store call {n} failed");
        if answer.status != StatusCode::OK {
            assert_unavailable(&answer, &what);
        }
        assert_consistent(&t, &token, &session, &what);
        if let Failing::Once = failing {
            assert_tokens_counted_once(&t, &token, &what);
        }
    }
}

#[test]
fn a_send_meeting_a_failing_store_call_leaves_its_session_consistent() {
    fail_each_call(Failing::Once, new_session, |t, token, session, _| send(t, token, session, None));
}

#[test]
fn a_send_meeting_a_store_outage_leaves_its_session_consistent() {
    fail_each_call(Failing::From, new_session, |t, token, session, _| send(t, token, session, None));
}

#[test]
fn an_edit_meeting_a_failing_store_call_leaves_its_session_consistent() {
    let edit =
        |t: &TestApp, token: &str, session: &str, _: Option<&str>| send(t, token, session, Some(Value::Null));
    fail_each_call(Failing::Once, answered_session, edit);
    fail_each_call(Failing::From, answered_session, edit);
}

#[test]
fn a_regenerate_meeting_a_failing_store_call_leaves_its_session_consistent() {
    let again = |t: &TestApp, token: &str, session: &str, asked: Option<&str>| {
        regenerate(t, token, session, asked.unwrap())
    };
    fail_each_call(Failing::Once, answered_session, again);
    fail_each_call(Failing::From, answered_session, again);
}

/// With every store call failing, every operation of the API description that needs
/// the store answers 503 with `Retry-After`: none a 500.
#[test]
fn every_endpoint_answers_503_with_retry_after_when_the_store_fails() {
    let t = app();
    let token = register(&t);
    let doc = call(&t, Method::GET, "/openapi.json", None, None).json();
    t.faults.fail_every_call(Fault::Throttled);
    let id = t.app.new_id().to_string();
    let mut answered = Vec::new();
    for (template, operations) in doc["paths"].as_object().unwrap() {
        let path = template.split('/').map(|s| if s.starts_with('{') { id.as_str() } else { s });
        let path = path.collect::<Vec<_>>().join("/");
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = call(&t, method.clone(), &path, Some(&token), Some(json!({})));
            answered.push((format!("{method} {template}"), answer.status.as_u16()));
        }
    }
    let not_503: Vec<_> = answered.iter().filter(|(_, status)| *status != 503).collect();
    assert_eq!(not_503, Vec::<&(String, u16)>::new());
}

/// An upload that meets a failing store call leaves no bytes behind: every file in the
/// blobs is one the session lists, and the bytes counted against the user are the
/// listed files'.
#[test]
fn an_upload_meeting_a_failing_store_call_leaves_no_bytes_behind() {
    let t = app();
    let token = register(&t);
    let file = b"the word is tangerine";
    let mut kept = 0;
    for n in 1.. {
        let session = new_session(&t, &token);
        let path = format!("/sessions/{session}/attachments");
        t.faults.fail_call(n, Fault::Throttled);
        let notes = Some(("text/plain", Bytes::from_static(file)));
        let answer = exchange(&t, Method::POST, &format!("{path}?filename=notes.txt"), Some(&token), notes);
        let failed = !t.faults.pending();
        t.faults.heal();
        let what = format!("store call {n} failed");
        if answer.status != StatusCode::CREATED {
            assert_unavailable(&answer, &what);
        }
        let listed =
            call(&t, Method::GET, &path, Some(&token), None).json()["items"].as_array().unwrap().len();
        let stored =
            t.blobs.keys().iter().filter(|k| k.contains(&session) && k.contains("/attachments/")).count();
        assert_eq!(stored, listed, "{what}: files stored vs. files listed");
        kept += listed * file.len();
        let counted: i64 = t
            .store
            .items()
            .iter()
            .filter(|i| i.sk == "ATTACHMENT_BYTES")
            .filter_map(|i| i.int("count"))
            .sum();
        assert_eq!(counted, kept as i64, "{what}: bytes counted vs. bytes kept");
        if !failed {
            assert_eq!((n > 3, listed), (true, 1), "an upload makes {n} store calls and keeps its file");
            break;
        }
    }
}

/// An account deletion that meets a failing store call leaves the account either
/// whole (it still signs in, its session is there) or, once the sweep has run, gone:
/// nothing of it left in the store but its audit entries, and its email free again.
#[test]
fn an_account_deletion_meeting_a_failing_store_call_is_undone_or_finished_by_the_sweep() {
    let t = app();
    register(&t);
    for n in 1.. {
        let email = format!("user{n}@example.com");
        let token = register_as(&t, &email);
        assert_eq!(send(&t, &token, &new_session(&t, &token), None).status, StatusCode::OK);
        let user_id = call(&t, Method::GET, "/auth/me", Some(&token), None).json()["user"]["id"].clone();
        let user_id = user_id.as_str().unwrap().to_string();
        t.faults.fail_call(n, Fault::Throttled);
        let answer =
            call(&t, Method::DELETE, "/auth/me", Some(&token), Some(json!({ "password": PASSWORD })));
        let failed = !t.faults.pending();
        t.faults.heal();
        let what = format!("store call {n} failed");
        if answer.status != StatusCode::NO_CONTENT {
            assert_unavailable(&answer, &what);
        }
        t.run(sweep::run(&t.app)).unwrap();
        let me = call(&t, Method::GET, "/auth/me", Some(&token), None);
        if me.status == StatusCode::OK {
            assert_ne!(answer.status, StatusCode::NO_CONTENT, "{what}: deleted, yet it signs in");
            let sessions = call(&t, Method::GET, "/sessions", Some(&token), None).json();
            assert_eq!(sessions["items"].as_array().map(Vec::len), Some(1), "{what}: the account is whole");
        } else {
            let left: Vec<_> = t
                .store
                .items()
                .into_iter()
                .filter(|i| !i.pk.starts_with("AUDIT"))
                .filter(|i| format!("{} {} {:?}", i.pk, i.sk, i.data).contains(&user_id))
                .map(|i| (i.pk, i.sk))
                .collect();
            assert_eq!(left, Vec::<(String, String)>::new(), "{what}: the deleted account's items");
            register_as(&t, &email);
        }
        if !failed {
            assert!(n > 5, "a deletion makes more store calls than {n}");
            break;
        }
    }
}
