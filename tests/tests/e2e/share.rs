//! Share links: a snapshot anyone with the link reads without signing in, holding the
//! conversation's words and nothing that names its owner; replaced, revoked or deleted
//! with the session, it is dead at once.

use confab_tests::*;

async fn share(user: &TestUser<'_>, session: &str) -> (String, String) {
    let shared = user.post(&format!("/sessions/{session}/share"), &json!({})).await.created().await;
    assert_eq!(keys(&shared), ["token", "url"]);
    (str_field(&shared, "token"), str_field(&shared, "url"))
}

/// GET without any credentials, as whoever was sent the link.
async fn open(url: &str) -> Response {
    reqwest::get(url).await.expect("GET the share link")
}

async fn unshare(user: &TestUser<'_>, session: &str) -> Response {
    send(user.request(Method::DELETE, &format!("/sessions/{session}/share"))).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_share_link_shows_the_conversation_to_anyone_until_revoked() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let session = ada.create_session(json!({"title": "Trip: Paris"})).await;
    ada.chat(&session, "hello share").await;

    let (token, url) = share(&ada, &session).await;
    assert_eq!(url, app.url(&format!("/shared/{token}")));
    let resp = open(&url).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&resp, "x-robots-tag").as_deref(), Some("noindex, nofollow"));
    let text = resp.text().await.expect("snapshot body");
    for secret in [ada.id.as_str(), "ada@example.com", session.as_str()] {
        assert!(!text.contains(secret), "the snapshot names {secret}: {text}");
    }
    let snapshot: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(keys(&snapshot), ["messages", "shared_at", "title"]);
    assert_eq!(snapshot["title"], "Trip: Paris");
    let messages = snapshot["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{snapshot}");
    assert_eq!(keys(&messages[0]), ["content", "created_at", "role"]);
    assert_eq!((&messages[0]["role"], &messages[0]["content"]), (&json!("user"), &json!("hello share")));
    assert_eq!(messages[1]["role"], "assistant");

    // A snapshot: later turns are not in it.
    ada.chat(&session, "after the link").await;
    let later: Value = open(&url).await.json().await.expect("JSON");
    assert_eq!(later["messages"].as_array().map(Vec::len), Some(2));

    // A new link replaces the old one, which is dead at once.
    let (_, newer) = share(&ada, &session).await;
    assert_error(open(&url).await, StatusCode::NOT_FOUND, "not_found").await;
    let current: Value = open(&newer).await.json().await.expect("JSON");
    assert_eq!(current["messages"].as_array().map(Vec::len), Some(4));

    assert_no_content(unshare(&ada, &session).await).await;
    assert_error(open(&newer).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_no_content(unshare(&ada, &session).await).await;

    let actions = app.audit_actions(&ada, &ada.id).await;
    assert_eq!(actions.iter().filter(|a| *a == "session.shared").count(), 2, "{actions:?}");
    assert!(actions.iter().any(|a| a == "session.unshared"), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_owner_shares_and_strangers_guess_nothing() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let eve = app.user("eve@example.com").await;
    let session = ada.create_session(json!({"title": "mine"})).await;
    let (token, url) = share(&ada, &session).await;

    let path = format!("/sessions/{session}/share");
    assert_error(eve.post(&path, &json!({})).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(unshare(&eve, &session).await, StatusCode::NOT_FOUND, "not_found").await;
    let anonymous = send(app.request(Method::POST, &path)).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let mut near = token.clone();
    near.replace_range(..1, if token.starts_with('A') { "B" } else { "A" });
    for guess in [near, "x".into(), "%00".into(), "A".repeat(5000), format!("{token}=")] {
        let resp = send(app.request(Method::GET, &format!("/shared/{guess}"))).await;
        assert_error_ctx(resp, StatusCode::NOT_FOUND, "not_found", &guess).await;
    }
    let resp = send(app.request(Method::POST, &format!("/shared/{token}"))).await;
    assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    assert_eq!(open(&url).await.status(), StatusCode::OK);

    // Deleting the session deletes its link.
    assert_no_content(send(ada.request(Method::DELETE, &format!("/sessions/{session}"))).await).await;
    assert_error(open(&url).await, StatusCode::NOT_FOUND, "not_found").await;
}
