//! The end-to-end scenario every deployment shape runs (Lambda under `cargo lambda
//! watch`, Workers under `wrangler dev`), on DynamoDB, S3 and Secrets Manager in moto,
//! chatting with the mock provider: what a user does, and what strangers and bad input
//! get.

use crate::lambda::ProviderSetup;
use crate::sse::{Event, all_events, ends_with, error_code, events, ids, text, turn_ids};
use crate::totp::{MARGIN, STEP, code_at, settled_now};
use crate::web::{PAGES, TestWeb};
use crate::*;
use confab_core::providers::ProviderKind;
use confab_mock_provider::{Fault, MockHandle, MockProvider, Scenario};
use futures::StreamExt;
use std::time::{Duration, Instant};

pub const MODEL: &str = "oa-model";
/// The deployment's public origin, for the links it hands out.
pub const PUBLIC_URL: &str = "https://chat.example.com";
const API_KEY: &str = "sk-mock-for-the-scenario";

pub async fn mock() -> MockHandle {
    MockProvider::builder().spawn("127.0.0.1:0").await.expect("mock provider")
}

pub fn openai(mock: &MockHandle) -> ProviderSetup {
    ProviderSetup {
        kind: ProviderKind::Openai,
        settings_prefix: "OPENAI",
        base_url: format!("{}/v1", mock.base_url()),
        models: MODEL.into(),
        api_key: API_KEY.into(),
    }
}

/// Reads a reply's events, noting when each arrived.
async fn timed_events(resp: Response) -> Vec<(Instant, Event)> {
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type").as_deref(), Some("text/event-stream"));
    events(resp).map(|e| (Instant::now(), e)).collect().await
}

/// Register, log in, refresh, chat (streamed incrementally), drop and resume, read the
/// conversation, export it through a presigned URL of `bucket`, share it, and see usage
/// and audit as the admin. The app needs the mock's provider settings, a short stream
/// flush and [`PUBLIC_URL`].
pub async fn user_scenario(app: &TestApp, mock: &MockHandle, bucket: &str) {
    // Register (the first account is the admin) and log in; every cookie survives (Lambda
    // carries Set-Cookie values in a separate list, Workers in one header each).
    let admin = app.register("admin@example.com").await;
    assert_eq!(admin.user()["role"], "admin");
    for cookie in [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE] {
        assert!(!admin.cookies.value(cookie).is_empty(), "{cookie} set by register");
    }
    app.register("ada@example.com").await;
    let ada = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(ada.user()["role"], "user");

    // Refresh rotates the refresh token; presenting the old one again within the grace
    // period (a second tab) returns the same successor.
    let refreshed = app.refresh_raw(&ada.cookies).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let successor = Cookies::from_response(&refreshed).value(REFRESH_COOKIE).to_string();
    assert_ne!(successor, ada.cookies.value(REFRESH_COOKIE));
    let token = str_field(&refreshed.json::<Value>().await.expect("refresh body"), "access_token");
    let again = app.refresh_raw(&ada.cookies).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(Cookies::from_response(&again).value(REFRESH_COOKIE), successor);
    let ada = app.as_user(Registered { access_token: token, ..ada });

    // A session, and a reply that streams (Lambda response streaming, a Worker's stream
    // through the router): the mock sends a token every 60 ms, and the deltas must
    // arrive spread over that time.
    let session = ada.create_session(json!({"title": "A trip"})).await;
    mock.set_scenario(MODEL, Scenario::tokens(12).with_token_delay_ms(60));
    let reply = timed_events(ada.send_message(&session, &json!({"content": "plan a trip"})).await).await;
    let deltas: Vec<Instant> = reply.iter().filter(|(_, e)| e.event == "delta").map(|(t, _)| *t).collect();
    assert!(deltas.len() >= 6, "{} deltas", deltas.len());
    let spread = *deltas.last().unwrap() - deltas[0];
    assert!(
        spread >= Duration::from_millis(300),
        "deltas arrived together ({spread:?}): the reply was buffered"
    );
    let reply: Vec<Event> = reply.into_iter().map(|(_, e)| e).collect();
    assert_eq!(ids(&reply), (0..reply.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        reply.last().map(|e| (e.event.as_str(), e.data["status"].clone())),
        Some(("message_end", json!("complete")))
    );
    assert_eq!(mock.requests(MODEL).last().and_then(|r| r.api_key.clone()).as_deref(), Some(API_KEY));

    // A client that drops mid-reply resumes from another chat instance, without gap or repeat.
    mock.set_scenario(MODEL, Scenario::tokens(20).with_token_delay_ms(40));
    let mut stream = events(ada.send_message(&session, &json!({"content": "and the way back"})).await);
    let mut seen = Vec::new();
    while seen.len() < 4 {
        seen.push(stream.next().await.expect("an event before the drop"));
    }
    drop(stream);
    let message = str_field(&seen[0].data, "message_id");
    let path = format!("/chat/sessions/{session}/messages/{message}/stream");
    let last = seen.last().and_then(|e| e.id).expect("event id");
    let rest =
        all_events(send(ada.request(Method::GET, &path).header("last-event-id", last.to_string())).await)
            .await;
    let whole: Vec<Event> = seen.into_iter().chain(rest).collect();
    assert_eq!(ids(&whole), (0..whole.len() as u64).collect::<Vec<_>>(), "no gap, no repeat");
    assert_eq!(text(&whole).split_whitespace().count(), 20);

    // The conversation as stored.
    let items = ada.messages(&session).await;
    let shape: Vec<_> =
        items.iter().map(|m| (m["role"].as_str().unwrap(), m["status"].as_str().unwrap())).collect();
    assert_eq!(
        shape,
        [("user", "complete"), ("assistant", "complete"), ("user", "complete"), ("assistant", "complete")]
    );
    assert_eq!(items[3]["content"], json!(text(&whole)));

    // Export, downloaded through the presigned S3 URL with no other credentials.
    for (format, content_type) in [("json", "application/json"), ("markdown", "text/markdown; charset=utf-8")]
    {
        let path = format!("/sessions/{session}/export");
        let created =
            assert_json(ada.post(&path, &json!({"format": format})).await, StatusCode::CREATED).await;
        let url = str_field(&created, "url");
        assert!(url.contains("X-Amz-Signature=") && url.contains(bucket), "{url}");
        let file = reqwest::get(&url).await.expect("download the export");
        assert_eq!(file.status(), StatusCode::OK, "{url}");
        assert_eq!(header(&file, "content-type").as_deref(), Some(content_type));
        let body = file.text().await.expect("export body");
        assert!(
            body.contains("plan a trip") && body.contains(items[3]["content"].as_str().unwrap()),
            "{body}"
        );
    }

    // A share link: anyone reads the snapshot without signing in, until it is revoked.
    let shared = ada.post(&format!("/sessions/{session}/share"), &json!({})).await.created().await;
    let path = format!("/shared/{}", str_field(&shared, "token"));
    assert_eq!(str_field(&shared, "url"), format!("{PUBLIC_URL}{path}"));
    let snapshot = send(app.request(Method::GET, &path)).await.good().await;
    assert_eq!(snapshot["messages"][3]["content"], items[3]["content"]);
    let unshare = ada.request(Method::DELETE, &format!("/sessions/{session}/share"));
    assert_no_content(send(unshare).await).await;
    assert_error(send(app.request(Method::GET, &path)).await, StatusCode::NOT_FOUND, "not_found").await;

    // Admin: usage counts the provider's tokens; the audit log has the sign-ins.
    let usage = app.get_ok(&admin.access_token, "/admin/usage").await;
    let row = usage["items"].as_array().expect("usage items").iter().find(|r| r["model"] == MODEL).cloned();
    let row = row.unwrap_or_else(|| panic!("no usage for {MODEL}: {usage}"));
    assert_eq!(row["requests"], 2, "{row}");
    assert!(row["output_tokens"].as_u64().unwrap_or(0) >= 32, "{row}");
    let audit = app.get_ok(&admin.access_token, "/admin/audit?limit=100").await;
    let actions: Vec<&str> =
        audit["items"].as_array().expect("audit items").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["auth.register", "auth.login"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

/// The texts of the messages the provider got in the latest request for `model`.
pub fn sent_texts(mock: &MockHandle, model: &str) -> Vec<String> {
    let request = mock.requests(model).pop().expect("a request reached the provider");
    let messages = request.body["messages"].as_array().expect("messages").clone();
    messages.iter().map(|m| m["content"].as_str().unwrap_or_default().to_string()).collect()
}

/// Branches across the deployment: an edit and a regeneration are siblings, each turn's
/// context is its own branch (as the provider saw it), and the current leaf that chat
/// moves is the one the session function lists and switches.
pub async fn branches(app: &TestApp, mock: &MockHandle) {
    mock.clear_scenario(MODEL);
    let bo = app.user("bo@example.com").await;
    let session = bo.create_session(json!({"title": "Branches", "model": MODEL})).await;
    let turn = |response: Response| async { turn_ids(&all_events(response).await) };
    let (_, alpha_reply) = turn(bo.send_message(&session, &json!({"content": "alpha"})).await).await;
    turn(bo.send_message(&session, &json!({"content": "bravo"})).await).await;

    let edit = json!({"content": "charlie", "parent_id": alpha_reply});
    let (charlie, edit_reply) = turn(bo.send_message(&session, &edit).await).await;
    let charlie_context = ["alpha", "Mock reply to: alpha", "charlie"];
    assert_eq!(sent_texts(mock, MODEL), charlie_context, "never the other branch's words");
    let regenerate = format!("/chat/sessions/{session}/messages/{charlie}/regenerate");
    let (asked, second_reply) = turn(bo.post(&regenerate, &json!({})).await).await;
    assert_eq!(
        (asked.as_str(), sent_texts(mock, MODEL)),
        (charlie.as_str(), charlie_context.map(String::from).to_vec())
    );

    let leaf = |session: Value| session["current_leaf_id"].clone();
    assert_eq!(leaf(bo.get(&format!("/sessions/{session}")).await.good().await), json!(second_reply));
    let switched = bo.patch(&format!("/sessions/{session}"), &json!({"current_leaf_id": edit_reply})).await;
    assert_eq!(leaf(switched.good().await), json!(edit_reply));
    let branch = bo.get(&format!("/sessions/{session}/messages?branch=current")).await.good().await;
    let texts: Vec<String> =
        branch["items"].as_array().expect("items").iter().map(|m| str_field(m, "content")).collect();
    assert_eq!(texts, ["alpha", "Mock reply to: alpha", "charlie", "Mock reply to: charlie"]);
    assert_eq!(bo.messages(&session).await.len(), 7, "every branch is kept");
}

/// A provider that fails. Mid-stream (its own error event, or a dropped connection) the
/// reply ends `failed` with the text so far kept; a 503 before the first token is
/// retried, and one that lasts is a clear `upstream_unavailable`.
pub async fn provider_faults(app: &TestApp, mock: &MockHandle) {
    let cy = app.user("cy@example.com").await;
    let session = cy.create_session(json!({"title": "Faults", "model": MODEL})).await;
    let body = json!({"content": "go on"});
    let ask = || cy.send_message(&session, &body);
    for fault in [Fault::error_event_after(2), Fault::DropAfter { tokens: 2 }] {
        mock.set_scenario(MODEL, Scenario::reply("alpha beta gamma delta").then(fault.clone()));
        let events = all_events(ask().await).await;
        assert_eq!(text(&events), "alpha beta", "{fault:?}");
        assert!(error_code(&events).is_some(), "{fault:?}: no error event in {events:?}");
        ends_with(&events, "failed");
        let reply = cy.settled_reply(&session).await;
        let kept = (&reply["status"], &reply["content"]);
        assert_eq!(kept, (&json!("failed"), &json!("alpha beta")), "{fault:?}: the partial reply is kept");
    }

    mock.set_scenario(MODEL, Scenario::reply("after a retry").then(Fault::status(503)));
    let events = all_events(ask().await).await;
    assert_eq!(text(&events), "after a retry");
    ends_with(&events, "complete");

    mock.set_scenario(MODEL, Scenario::default().always(Fault::status(503)));
    let events = all_events(ask().await).await;
    assert_eq!((text(&events).as_str(), error_code(&events).as_deref()), ("", Some("upstream_unavailable")));
    ends_with(&events, "failed");
    mock.clear_scenario(MODEL);
}

/// A file through the deployment: an upload over the JSON body limit (binary, every
/// byte value, as the runtime carries it: base64 in Lambda's event, a stream through
/// the router Worker), a text file whose words reach the provider with a message, and
/// the download, byte for byte.
pub async fn attachment(app: &TestApp, mock: &MockHandle) {
    let amy = app.user("amy@example.com").await;
    let session = amy.create_session(json!({"title": "files"})).await;
    let mut image = crate::files::png();
    image.extend((0..=255u8).cycle().take(1536 * 1024));
    let id = amy.attach(&session, "big.png", "image/png", image.clone()).await;
    let notes = amy.attach(&session, "notes.txt", "text/plain", b"the word is tangerine".to_vec()).await;

    mock.clear_scenario(MODEL);
    let body = json!({"content": "read my notes", "attachments": [notes]});
    let reply = all_events(amy.send_message(&session, &body).await).await;
    assert_eq!(reply.last().map(|e| e.event.as_str()), Some("message_end"), "{reply:?}");
    let sent = mock.requests(MODEL).pop().expect("a request reached the provider").body.to_string();
    assert!(sent.contains("read my notes") && sent.contains("the word is tangerine"), "{sent}");
    let resp = amy.send_message(&session, &json!({"content": "see", "attachments": [id]})).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "model_cannot_see_images").await;

    let file = amy.get(&format!("/sessions/{session}/attachments/{id}")).await;
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(header(&file, "content-type").as_deref(), Some("image/png"));
    assert!(header(&file, "content-disposition").is_some_and(|d| d.starts_with("attachment;")));
    assert_eq!(file.bytes().await.expect("the file").to_vec(), image);
}

/// Research through the deployment: the chat function searches the test web (SearXNG's
/// API), reads its pages through the guarded fetcher (the redirect to a private address
/// refused, never reached) and streams the report, the mock provider playing every
/// agent; the report's citation of a page not read is taken out; the report and its
/// sources are saved, and regenerating it researches the question again. The app needs
/// `web.settings(…)`.
pub async fn research(app: &TestApp, mock: &MockHandle, web: &TestWeb) {
    // One answer serves every agent: the planner and the analyzer read its JSON, the
    // synthesizer's report is all of it.
    let answer = r#"{"questions": ["gpai obligations", "gpai code of practice"], "summary": "Both dated.", "more": []} Obligations apply from August 2025 [1]; fines are unknown [7]."#;
    mock.set_scenario(MODEL, Scenario::reply(answer));
    let asked_before = mock.requests(MODEL).len();
    let rae = app.user("rae@example.com").await;
    assert_eq!(rae.get("/chat/capabilities").await.good().await, json!({"research": true}));
    let session = rae.create_session(json!({"title": "Research", "model": MODEL})).await;
    let question = "What changed for general-purpose AI models in 2025?";
    let path = format!("/chat/sessions/{session}/research");
    let events = all_events(rae.post(&path, &json!({"question": question, "depth": "quick"})).await).await;
    let named = |events: &[Event], name: &str| -> Vec<Value> {
        events.iter().filter(|e| e.event == name).map(|e| e.data.clone()).collect()
    };

    assert_eq!(named(&events, "plan"), [json!({"questions": ["gpai obligations", "gpai code of practice"]})]);
    let mut queries = web.queries();
    queries.sort();
    assert_eq!(queries, ["gpai code of practice", "gpai obligations"]);
    assert_eq!(mock.requests(MODEL).len() - asked_before, 3, "planner, analyzer, synthesizer");
    let mut read: Vec<String> = named(&events, "source").iter().map(|s| str_field(s, "url")).collect();
    read.sort();
    assert_eq!(read, [web.url(PAGES[0].0), web.url(PAGES[2].0)], "each page once");
    assert_eq!(web.private_hits(), 0, "the redirect to a private address is refused");
    let steps = named(&events, "step");
    assert!(
        steps.iter().any(|s| s["status"] == "skipped" && str_field(s, "detail").contains("/redirect")),
        "{steps:?}"
    );
    let report = text(&events);
    let checked = answer.replace(" [7]", "");
    assert_eq!(report, format!("{checked}\n\n_Citations of pages that were not read were removed: 7._"));
    let end = events.last().expect("events");
    assert_eq!((end.event.as_str(), &end.data["status"]), ("message_end", &json!("complete")));

    let messages = rae.messages(&session).await;
    assert_eq!((&messages[0]["research_depth"], &messages[1]["content"]), (&json!("quick"), &json!(report)));
    let saved = messages[1]["sources"].as_array().expect("saved sources");
    let mut saved: Vec<(String, String)> =
        saved.iter().map(|s| (str_field(s, "url"), str_field(s, "snippet"))).collect();
    saved.sort();
    let snippets = |q: &str| format!("about {q}");
    assert_eq!(saved.len(), 2, "{saved:?}");
    assert!(
        saved
            .iter()
            .all(|(_, s)| *s == snippets("gpai obligations") || *s == snippets("gpai code of practice"))
    );

    // Regenerating the report researches the question again, beside the first.
    let (asked, first) = turn_ids(&events);
    let again = all_events(
        rae.post(&format!("/chat/sessions/{session}/messages/{asked}/regenerate"), &json!({})).await,
    )
    .await;
    let (asked_again, second) = turn_ids(&again);
    assert_eq!((asked_again.as_str(), named(&again, "source").len()), (asked.as_str(), 2));
    assert_ne!(first, second);
    assert_eq!(web.queries().len(), 4);
    assert_eq!(web.private_hits(), 0);
    assert_eq!(rae.messages(&session).await.len(), 3, "two reports to one question");
}

/// Signing in with TOTP across the deployment: setup seals the secret with the key from
/// Secrets Manager (auth), login asks for a code, takes one once (its step is stored),
/// and takes a recovery code once; the session it opens works on another function.
pub async fn mfa_sign_in(app: &TestApp) {
    let mia = app.user("mia@example.com").await;
    let (secret, recovery) = mia.enable_mfa().await;
    let login = |factor: Value| async move {
        let mut body = json!({"email": "mia@example.com", "password": PASSWORD});
        body.as_object_mut().unwrap().extend(factor.as_object().unwrap().clone());
        app.post_json("/auth/login", &body).await
    };
    assert_error(login(json!({})).await, StatusCode::UNAUTHORIZED, "mfa_required").await;
    // The enabling code's step is used up; the next step's code is within the skew.
    let next = code_at(&secret, settled_now(MARGIN).await + STEP);
    let signed_in = login(json!({"totp": next})).await.good().await;
    assert_error(login(json!({"totp": next})).await, StatusCode::UNAUTHORIZED, "mfa_invalid").await;
    login(json!({"recovery_code": recovery[0]})).await.good().await;
    let again = login(json!({"recovery_code": recovery[0]})).await;
    assert_error(again, StatusCode::UNAUTHORIZED, "mfa_invalid").await;
    let token = str_field(&signed_in, "access_token");
    app.get_ok(&token, "/sessions").await;
    assert_eq!(app.get_ok(&token, "/auth/me").await["user"]["mfa_enabled"], true);
}

/// Malformed, oversized and mistyped bodies, missing and forged tokens, other users'
/// sessions, bad ids and admin routes: clear JSON errors, nothing written. The app must
/// cap bodies at 4096 bytes.
pub async fn strangers_and_bad_input(app: &TestApp) {
    let admin = app.register("admin@example.com").await;
    let ada = app.register("ada@example.com").await;
    let eve = app.register("eve@example.com").await;
    let session = str_field(&app.create_session(&ada.access_token, json!({"title": "mine"})).await, "id");

    // Malformed, mistyped, oversized, wrongly typed bodies: clear 4xx JSON, nothing written.
    let cases: [(&str, Vec<u8>, &str, StatusCode, &str); 4] = [
        (
            "malformed",
            b"{\"email\":".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "wrong types",
            br#"{"email":7,"password":[]}"#.to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "oversized",
            vec![b' '; 8192],
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "not JSON",
            b"email=x".to_vec(),
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (ctx, body, content_type, status, code) in cases {
        let resp =
            send(app.request(Method::POST, "/auth/register").header("content-type", content_type).body(body))
                .await;
        assert_error_ctx(resp, status, code, ctx).await;
    }
    let weak = app.register_raw("weak@example.com", "short").await;
    assert_error(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_error(
        app.login_raw("weak@example.com", "short").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    // No token, a forged one, alg none: 401 on every function.
    let forged = format!("{}x", &ada.access_token[..ada.access_token.len() - 1]);
    let none_alg = unsigned_token(&json!({"alg": "none", "typ": "at+jwt"}), &peek_claims(&ada.access_token));
    for path in ["/auth/me", "/sessions", "/admin/users", "/v1/models"] {
        assert_error_ctx(
            send(app.request(Method::GET, path)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            path,
        )
        .await;
        for bad in [&forged, &none_alg] {
            assert_error_ctx(
                send(app.bearer(Method::GET, path, bad)).await,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                path,
            )
            .await;
        }
    }

    // Someone else's session is not found, whichever function is asked; bad ids too.
    let eve = app.as_user(eve);
    let theirs = [
        Call::new(Method::GET, format!("/sessions/{session}")),
        Call::new(Method::GET, format!("/sessions/{session}/messages")),
        Call::new(Method::POST, format!("/sessions/{session}/export")).with_body(json!({"format": "json"})),
        Call::new(Method::POST, format!("/chat/sessions/{session}/messages"))
            .with_body(json!({"content": "hi"})),
        Call::new(Method::GET, format!("/sessions/{UNKNOWN_ID}")),
        Call::new(Method::GET, "/sessions/not-an-id"),
    ];
    for call in theirs {
        assert_error_ctx(eve.call(&call).await, StatusCode::NOT_FOUND, "not_found", &call.label()).await;
    }
    assert_eq!(
        app.get_ok(&ada.access_token, &format!("/sessions/{session}/messages")).await["items"],
        json!([])
    );

    // Admin routes are for admins only; unknown routes are JSON 404s.
    for path in ["/admin/users", "/admin/audit", "/admin/usage"] {
        assert_error_ctx(
            send(app.bearer(Method::GET, path, &ada.access_token)).await,
            StatusCode::FORBIDDEN,
            "forbidden",
            path,
        )
        .await;
        app.get_ok(&admin.access_token, path).await;
    }
    assert_error(
        send(app.bearer(Method::GET, "/sessions/x/y/z", &ada.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
