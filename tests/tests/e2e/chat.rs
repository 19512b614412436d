//! Chat through the built-in `echo` model: streaming, persistence, resume, quotas, the
//! OpenAI-compatible API, and bad input. Provider behaviour is in `providers.rs`.

use confab_tests::sse::{all_events, ids, text};
use confab_tests::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn user_with_session<'a>(app: &'a TestApp, email: &str) -> (TestUser<'a>, String) {
    let user = app.user(email).await;
    let session = user.create_session(json!({})).await;
    (user, session)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_streams_and_is_saved() {
    let app = spawn_app().await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    let events = ada.chat(&session, "hello echo world").await;

    let names: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 2..], ["usage", "message_end"]);
    assert_eq!(ids(&events), (0..events.len() as u64).collect::<Vec<_>>());
    assert_eq!(text(&events), "hello echo world");
    assert_eq!(events.last().unwrap().data["status"], "complete");

    let start = &events[0].data;
    let items = ada.messages(&session).await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        (&items[0]["id"], &items[0]["role"], &items[0]["content"]),
        (&start["user_message_id"], &json!("user"), &json!("hello echo world"))
    );
    assert_eq!(
        (&items[1]["id"], &items[1]["role"], &items[1]["status"]),
        (&start["message_id"], &json!("assistant"), &json!("complete"))
    );
    assert_eq!(items[1]["content"], "hello echo world");
    assert_eq!(items[1]["model"], "echo");
    assert!(items[1]["usage"]["output_tokens"].as_u64().unwrap() > 0);

    let got = ada.get(&format!("/sessions/{session}")).await.good().await;
    assert_eq!(got["title"], "hello echo world", "an untitled session is named after its first message");
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_replays_after_the_last_event_without_gap_or_repeat() {
    let app = spawn_app().await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    let events = ada.chat(&session, "one two three four").await;
    let message = events[0].data["message_id"].as_str().unwrap().to_string();
    let path = format!("/chat/sessions/{session}/messages/{message}/stream");

    for cut in 0..events.len() as u64 - 1 {
        let by_header =
            all_events(send(ada.request(Method::GET, &path).header("last-event-id", cut.to_string())).await)
                .await;
        assert_eq!(by_header, events[cut as usize + 1..], "after event {cut}");
        let by_query = all_events(ada.get(&format!("{path}?after={cut}")).await).await;
        assert_eq!(by_query, by_header);
    }
    let replay = all_events(ada.get(&path).await).await;
    assert_eq!(replay, events, "no last event id replays everything");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_longest_message_outgrows_no_store_item() {
    let app = spawn_app().await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    // 100,000 characters of four bytes each: 400 KB of UTF-8, and one long "word".
    let content = "😀".repeat(100_000);
    let events = ada.chat(&session, &content).await;
    assert_eq!(events.last().unwrap().data["status"], "complete", "{:?}", events.last());
    assert_eq!(text(&events), content);
    let message = events[0].data["message_id"].as_str().unwrap().to_string();
    let path = format!("/chat/sessions/{session}/messages/{message}/stream");
    let replay = all_events(ada.get(&path).await).await;
    assert_eq!(replay, events, "every batch of the stream was saved");
    let items = ada.messages(&session).await;
    assert_eq!(
        (items[0]["content"].as_str(), items[1]["content"].as_str()),
        (Some(&*content), Some(&*content))
    );
    let next = ada.chat(&session, "and now?").await;
    assert_eq!(next.last().unwrap().data["status"], "complete");
    // A lost text blob empties that message; the conversation still reads.
    let blobs = app.data_dir().join("blobs/users");
    let removed =
        std::process::Command::new("find").arg(&blobs).args(["-path", "*/messages/*", "-delete"]).status();
    assert!(removed.expect("find runs").success());
    let messages = ada.messages(&session).await;
    assert_eq!(messages[0]["content"], "", "{}", messages[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_context_carries_earlier_turns() {
    let app = spawn_app().await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    for content in ["first", "second", "third"] {
        let events = ada.chat(&session, content).await;
        assert_eq!(text(&events), content);
    }
    let contents: Vec<_> = ada.messages(&session).await.iter().map(|m| m["content"].clone()).collect();
    assert_eq!(
        contents,
        [json!("first"), json!("first"), json!("second"), json!("second"), json!("third"), json!("third")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_chat_input_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    let (bob, bobs_session) = user_with_session(&app, "bob@example.com").await;
    struct Refused {
        body: Value,
        status: StatusCode,
        code: &'static str,
    }
    let invalid =
        |body| Refused { body, status: StatusCode::UNPROCESSABLE_ENTITY, code: "validation_failed" };
    let malformed = |body| Refused { body, status: StatusCode::BAD_REQUEST, code: "invalid_request" };
    let cases = [
        invalid(json!({"content": ""})),
        invalid(json!({"content": "   "})),
        invalid(json!({"content": "x".repeat(100_001)})),
        Refused {
            body: json!({"content": "hi", "model": "no-such-model"}),
            status: StatusCode::NOT_FOUND,
            code: "model_not_found",
        },
        malformed(json!({"content": 5})),
        malformed(json!({"text": "hi"})),
        malformed(json!({"content": "hi", "extra": 1})),
    ];
    for Refused { body, status, code } in cases {
        assert_error_ctx(ada.send_message(&session, &body).await, status, code, &body.to_string()).await;
    }
    let resp = send(
        ada.request(Method::POST, &format!("/chat/sessions/{session}/messages"))
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    let not_yours = ada.send_message(&bobs_session, &json!({"content": "hi"})).await;
    assert_error(not_yours, StatusCode::NOT_FOUND, "not_found").await;
    let anonymous = send(
        app.request(Method::POST, &format!("/chat/sessions/{session}/messages"))
            .json(&json!({"content": "hi"})),
    )
    .await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_error(
        ada.send_message("not-an-id", &json!({"content": "hi"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    for (who, session) in [(&ada, &session), (&bob, &bobs_session)] {
        assert_eq!(who.messages(session).await, Vec::<Value>::new(), "nothing was written");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_and_cancel_check_ownership_and_ids() {
    let app = spawn_app().await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    let (bob, _) = user_with_session(&app, "bob@example.com").await;
    let events = ada.chat(&session, "hi").await;
    let message = events[0].data["message_id"].as_str().unwrap().to_string();
    let stream = format!("/chat/sessions/{session}/messages/{message}/stream");
    let cancel = format!("/chat/sessions/{session}/messages/{message}/cancel");
    assert_error(bob.get(&stream).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(send(bob.request(Method::POST, &cancel)).await, StatusCode::NOT_FOUND, "not_found").await;
    let unknown = format!("/chat/sessions/{session}/messages/{UNKNOWN_ID}/stream");
    assert_error(ada.get(&unknown).await, StatusCode::NOT_FOUND, "not_found").await;
    for bad in ["x", "-1", "18446744073709551615", "18446744073709551616", "99999999999"] {
        let by_header = send(ada.request(Method::GET, &stream).header("last-event-id", bad)).await;
        assert_error_ctx(by_header, StatusCode::BAD_REQUEST, "invalid_request", bad).await;
        let by_query = ada.get(&format!("{stream}?after={bad}")).await;
        assert_error_ctx(by_query, StatusCode::BAD_REQUEST, "invalid_request", bad).await;
    }
    let finished = send(ada.request(Method::POST, &cancel)).await;
    assert_error(finished, StatusCode::CONFLICT, "conflict").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_per_minute_quota_with_admin_override() {
    avoid_minute_edge().await;
    let app = spawn_app_with(&[("CONFAB_REQUESTS_PER_MINUTE", "2")]).await;
    let admin = app.user("admin@example.com").await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    for _ in 0..2 {
        ada.chat(&session, "hi").await;
    }
    assert_throttled(ada.send_message(&session, &json!({"content": "hi"})).await, "rate_limited").await;
    let resp =
        app.patch_user(&admin.access_token, &ada.id, json!({"quota": {"requests_per_minute": 10}})).await;
    let view = assert_json(resp, StatusCode::OK).await;
    assert_eq!(view["quota"]["requests_per_minute"], 10);
    ada.chat(&session, "hi").await;
    let bad = app.patch_user(&admin.access_token, &ada.id, json!({"quota": {"tokens_per_day": 0}})).await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_per_day_quota_and_the_usage_report() {
    let app = spawn_app_with(&[("CONFAB_TOKENS_PER_DAY", "30")]).await;
    let admin = app.user("admin@example.com").await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    // Each turn reserves its prompt and the model's reply budget: 8 + 8 tokens for the
    // first; the second (its context is the first turn too) no longer fits.
    set_echo_reply_budget(&admin, 8).await;
    all_events(ada.send_message(&session, &json!({"content": "a reply longer than five tokens"})).await)
        .await;
    let mut refused = None;
    for _ in 0..50 {
        let resp = ada.send_message(&session, &json!({"content": "again"})).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(resp);
            break;
        }
        all_events(resp).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_throttled(refused.expect("the daily token quota refuses"), "rate_limited").await;

    let report = admin.get(&format!("/admin/usage?user_id={}", ada.id)).await.good().await;
    let rows = report["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    assert_eq!((&rows[0]["user_id"], &rows[0]["model"]), (&json!(ada.id), &json!("echo")));
    assert!(rows[0]["requests"].as_i64().unwrap() >= 1);
    assert!(rows[0]["output_tokens"].as_i64().unwrap() > 0);
    for bad in
        ["from=yesterday", "from=2026-01-10&to=2026-01-01", "from=2020-01-01&to=2026-01-01", "user_id=nope"]
    {
        let resp = admin.get(&format!("/admin/usage?{bad}")).await;
        assert_error_ctx(resp, StatusCode::BAD_REQUEST, "invalid_request", bad).await;
    }
    let resp = ada.get("/admin/usage").await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn set_echo_reply_budget(admin: &TestUser<'_>, tokens: u32) {
    let mut config = admin.get("/admin/models").await.good().await;
    config["models"][0]["max_output_tokens"] = json!(tokens);
    let resp = admin.put("/admin/models", &config).await;
    assert_json(resp, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_completions_cannot_outrun_the_daily_token_quota() {
    let app = spawn_app_with(&[("CONFAB_TOKENS_PER_DAY", "50")]).await;
    let ada = app.user("ada@example.com").await;
    // Reserves 2 + 10 tokens; uses 4.
    let body =
        json!({"model": "echo", "max_tokens": 10, "messages": [{"role": "user", "content": "hi there"}]});
    let attempts = (0..20).map(|_| send(ada.request(Method::POST, "/v1/chat/completions").json(&body)));
    let mut used = 0;
    let mut refused = 0;
    for resp in futures::future::join_all(attempts).await {
        if resp.status() == StatusCode::OK {
            used += assert_json(resp, StatusCode::OK).await["usage"]["total_tokens"].as_i64().unwrap();
        } else {
            assert_throttled(resp, "rate_limited").await;
            refused += 1;
        }
    }
    assert!(refused > 0 && used > 0, "{refused} refused, {used} tokens used");
    assert!(used <= 50, "{used} tokens used against a quota of 50");
    app.assert_tokens_settle_at(&ada, used).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_refused_as_busy_holds_no_tokens() {
    let app = spawn_app().await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    let turns: Vec<Value> = (0..8).map(|i| json!({"content": format!("turn {i}")})).collect();
    let attempts = turns.iter().map(|turn| ada.send_message(&session, turn));
    let mut conflicts = 0;
    for resp in futures::future::join_all(attempts).await {
        if resp.status() == StatusCode::OK {
            all_events(resp).await;
        } else {
            assert_error(resp, StatusCode::CONFLICT, "conflict").await;
            conflicts += 1;
        }
    }
    assert!(conflicts > 0, "concurrent turns on one session conflict");
    let used: i64 = ada
        .messages(&session)
        .await
        .iter()
        .filter(|m| m["role"] == "assistant")
        .map(|m| m["usage"]["input_tokens"].as_i64().unwrap() + m["usage"]["output_tokens"].as_i64().unwrap())
        .sum();
    app.assert_tokens_settle_at(&ada, used).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_compatible_api_with_an_api_key() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let key = str_field(&app.create_api_key(&ada.access_token, "sdk").await, "key");

    let models = app.get_ok(&key, "/v1/models").await;
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "echo");

    let request = json!({"model": "echo", "messages": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "ping pong"}]});
    let whole = assert_json(
        send(app.bearer(Method::POST, "/v1/chat/completions", &key).json(&request)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(whole["object"], "chat.completion");
    assert_eq!(whole["choices"][0]["message"], json!({"role": "assistant", "content": "ping pong"}));
    assert_eq!(whole["choices"][0]["finish_reason"], "stop");
    assert!(whole["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let mut streaming = request.clone();
    streaming["stream"] = json!(true);
    streaming["stream_options"] = json!({"include_usage": true});
    let events =
        all_events(send(app.bearer(Method::POST, "/v1/chat/completions", &key).json(&streaming)).await).await;
    assert_eq!(events.last().unwrap().data, json!("[DONE]"));
    let chunks = &events[..events.len() - 1];
    assert!(chunks.iter().all(|c| c.data["object"] == "chat.completion.chunk"));
    let content: String =
        chunks.iter().filter_map(|c| c.data["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "ping pong");
    assert_eq!(chunks[0].data["choices"][0]["delta"]["role"], "assistant");
    let usage = chunks.last().unwrap();
    assert_eq!(
        (usage.data["choices"].clone(), usage.data["usage"]["total_tokens"].is_u64()),
        (json!([]), true)
    );

    let unknown = send(
        app.bearer(Method::POST, "/v1/chat/completions", &key)
            .json(&json!({"model": "gpt-nope", "messages": [{"role": "user", "content": "x"}]})),
    )
    .await;
    let body = assert_error(unknown, StatusCode::NOT_FOUND, "model_not_found").await;
    assert_eq!(body["error"]["type"], "not_found_error");
    for bad in [
        json!({"model": "echo", "messages": []}),
        json!({"model": "echo", "messages": [{"role": "tool", "content": "x"}]}),
        json!({"model": "echo"}),
        json!({"model": "echo", "messages": [{"role": "user", "content": "x"}], "n": 2}),
    ] {
        let resp = send(app.bearer(Method::POST, "/v1/chat/completions", &key).json(&bad)).await;
        assert_error_ctx(resp, StatusCode::BAD_REQUEST, "invalid_request", &bad.to_string()).await;
    }
    let anonymous = app.post_json("/v1/chat/completions", &request).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_read_and_replace_model_routing() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let user = app.user("user@example.com").await;
    let config = admin.get("/admin/models").await.good().await;
    assert_eq!(config["default_model"], "echo");

    let mut edited = config.clone();
    edited["models"][0]["name"] = json!("parrot");
    edited["default_model"] = json!("parrot");
    let resp = admin.put("/admin/models", &edited).await;
    assert_eq!(assert_json(resp, StatusCode::OK).await["default_model"], "parrot");
    let models = user.get("/v1/models").await.good().await;
    assert_eq!(models["data"][0]["id"], "parrot");

    let mut bad = edited.clone();
    bad["default_model"] = json!("missing");
    let resp = admin.put("/admin/models", &bad).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let resp = user.put("/admin/models", &edited).await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    for secret in ["confab-signing-keys", "confab-verify-keys", "confab-provider-", "confab-provider-a/b"] {
        let mut bad = edited.clone();
        bad["models"][0]["targets"] = json!([{"provider": "openai", "base_url": "http://127.0.0.1:9/v1",
                                               "model": "m", "api_key_secret": secret}]);
        let resp = admin.put("/admin/models", &bad).await;
        let body =
            assert_error_ctx(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", secret).await;
        assert!(body["error"]["message"].as_str().unwrap().contains("confab-provider-"), "{body}");
    }
    assert_eq!(admin.get("/admin/models").await.good().await, edited, "nothing was saved");
    let health = admin.get("/admin/providers/health").await.good().await;
    assert_eq!(health["items"][0]["state"], "closed");
}

/// Fifty turns of one user at once, each in its own session, against a quota of ten a
/// minute: the quota holds, whatever the interleaving.
#[tokio::test(flavor = "multi_thread")]
async fn fifty_parallel_turns_get_at_most_the_requests_per_minute_quota() {
    avoid_minute_edge().await;
    let app = spawn_app_with(&[("CONFAB_REQUESTS_PER_MINUTE", "10")]).await;
    let ada = app.user("ada@example.com").await;
    let mut sessions = Vec::new();
    for _ in 0..50 {
        sessions.push(ada.create_session(json!({})).await);
    }
    let hi = json!({"content": "hi"});
    let turns = sessions.iter().map(|s| ada.send_message(s, &hi));
    let mut admitted = 0;
    for resp in futures::future::join_all(turns).await {
        if resp.status() == StatusCode::OK {
            all_events(resp).await;
            admitted += 1;
        } else {
            assert_throttled(resp, "rate_limited").await;
        }
    }
    assert!((1..=10).contains(&admitted), "{admitted} turns admitted against a quota of 10 a minute");
    let saved: usize =
        futures::future::join_all(sessions.iter().map(|s| ada.messages(s))).await.iter().map(Vec::len).sum();
    assert_eq!(saved, admitted * 2, "each admitted turn saved its question and reply, the others nothing");
}

/// Twenty turns sent to one session at once: one goes through, the others are told the
/// session is busy (409), and nothing is lost or saved twice.
#[tokio::test(flavor = "multi_thread")]
async fn parallel_turns_in_one_session_lose_nothing() {
    let app = spawn_app().await;
    let (ada, session) = user_with_session(&app, "ada@example.com").await;
    let bodies: Vec<Value> = (0..20).map(|n| json!({"content": format!("question {n}")})).collect();
    let turns = bodies.iter().map(|body| ada.send_message(&session, body));
    let mut admitted = Vec::new();
    for (n, resp) in futures::future::join_all(turns).await.into_iter().enumerate() {
        if resp.status() == StatusCode::OK {
            all_events(resp).await;
            admitted.push(format!("question {n}"));
        } else {
            assert_error(resp, StatusCode::CONFLICT, "conflict").await;
        }
    }
    assert!(!admitted.is_empty(), "at least one turn goes through");
    let messages = ada.messages(&session).await;
    let questions: Vec<String> = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    let mut expected = admitted.clone();
    expected.sort();
    let mut got = questions.clone();
    got.sort();
    assert_eq!(got, expected, "exactly the admitted questions are saved");
    assert_eq!(messages.len(), admitted.len() * 2);
}

/// The local server counts the day's tokens and usage in memory and writes them every
/// second: stopped at once by SIGTERM, it writes what it counted before it exits.
#[tokio::test(flavor = "multi_thread")]
async fn the_counts_in_memory_are_written_when_the_server_is_stopped() {
    use confab_core::ports::Store;
    let data_dir = tempfile::tempdir().unwrap();
    let server = confab_tests::process::LocalProcess::start(data_dir.path(), &[]).await;
    let (ada, session) = user_with_session(&server.app, "ada@example.com").await;
    ada.chat(&session, "count me").await;
    let ada_id = ada.account.id.clone();
    assert!(server.terminate(), "a clean exit");

    let store = confab_embedded::SqliteStore::open(data_dir.path().join("confab.db")).unwrap();
    let day = time::OffsetDateTime::now_utc().date();
    let usage = store.get(&format!("USAGE#{day}"), &format!("{ada_id}#echo")).await.unwrap();
    let usage = usage.expect("the usage row is written");
    assert_eq!(usage.int("requests"), Some(1));
    let used = usage.int("input_tokens").unwrap() + usage.int("output_tokens").unwrap();
    let counted = store.get(&format!("QUOTA#{ada_id}"), &day.to_string()).await.unwrap();
    assert_eq!(counted.and_then(|item| item.int("tokens")), Some(used), "the reservation settled");
}
