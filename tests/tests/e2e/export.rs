//! POST /sessions/{id}/export on the embedded store: the file's content in both formats,
//! the capability link that serves it, and what must not work.

use confab_tests::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A user with a titled session holding one complete echo turn.
async fn conversation(app: &TestApp) -> (TestUser<'_>, String) {
    let user = app.user("ada@example.com").await;
    let session = user.create_session(json!({"title": "Trip: Paris", "system_prompt": "Be brief."})).await;
    user.chat(&session, "hello export").await;
    (user, session)
}

async fn export(user: &TestUser<'_>, session: &str, format: &str) -> Value {
    user.post(&format!("/sessions/{session}/export"), &json!({"format": format})).await.created().await
}

/// Downloads a link without any credentials, as a browser following it would.
async fn download(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.expect("GET the export link")
}

#[tokio::test(flavor = "multi_thread")]
async fn json_and_markdown_exports_download_through_their_links() {
    let app = spawn_app().await;
    let (ada, session) = conversation(&app).await;

    let created = export(&ada, &session, "json").await;
    assert_eq!(keys(&created), ["expires_at", "url"]);
    let url = str_field(&created, "url");
    assert!(url.starts_with(&app.url(&format!("/sessions/{session}/export/"))), "{url}");
    let expires = OffsetDateTime::parse(&str_field(&created, "expires_at"), &Rfc3339).expect("rfc3339");
    let ttl = expires.unix_timestamp() - now();
    assert!((890..=900).contains(&ttl), "15 minutes, got {ttl}s");

    let resp = download(&url).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type").as_deref(), Some("application/json"));
    let disposition = header(&resp, "content-disposition").expect("content-disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"trip-paris-") && disposition.ends_with(".json"),
        "{disposition}"
    );
    assert_eq!(header(&resp, "cache-control").as_deref(), Some("private, no-store"));
    let file: Value = resp.json().await.expect("JSON export");
    assert_eq!(file["format"], "confab.export.v1");
    assert_eq!(file["session"], ada.get(&format!("/sessions/{session}")).await.good().await);
    assert_eq!(file["messages"], json!(ada.messages(&session).await));

    let md = export(&ada, &session, "markdown").await;
    let resp = download(&str_field(&md, "url")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type").as_deref(), Some("text/markdown; charset=utf-8"));
    let text = resp.text().await.expect("markdown");
    assert!(text.starts_with("# Trip: Paris\n"), "{text}");
    assert!(text.contains("## System prompt\n\nBe brief.\n"), "{text}");
    assert!(text.contains("### User · ") && text.contains("\n\nhello export\n"), "{text}");
    assert!(text.contains("### Assistant (echo) · "), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn export_links_use_the_configured_public_url() {
    let app = spawn_app_with(&[("CONFAB_PUBLIC_URL", "https://chat.example.com/")]).await;
    let (ada, session) = conversation(&app).await;
    let url = str_field(&export(&ada, &session, "markdown").await, "url");
    let path = url.strip_prefix("https://chat.example.com").expect("public URL");
    assert!(path.starts_with(&format!("/sessions/{session}/export/")), "{url}");
    assert_eq!(download(&app.url(path)).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn export_links_ignore_the_host_header() {
    let app = spawn_app().await;
    let (ada, session) = conversation(&app).await;
    let req = ada.request(Method::POST, &format!("/sessions/{session}/export"));
    let resp = send(req.header("host", "evil.example.com").json(&json!({"format": "json"}))).await;
    let url = str_field(&assert_json(resp, StatusCode::CREATED).await, "url");
    assert!(url.starts_with(&app.base_url), "the link goes to the server's own address: {url}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_export_requests_are_refused_and_write_nothing() {
    let app = spawn_app().await;
    let (ada, session) = conversation(&app).await;
    let path = format!("/sessions/{session}/export");
    for (body, ctx) in [
        (json!({"format": "pdf"}), "unknown format"),
        (json!({"format": 1}), "wrong type"),
        (json!({}), "missing format"),
        (json!({"format": "json", "to": "s3"}), "unknown field"),
    ] {
        let resp = ada.post(&path, &body).await;
        assert_error_ctx(resp, StatusCode::BAD_REQUEST, "invalid_request", ctx).await;
    }
    let exports = app.data_dir().join("blobs/exports");
    assert!(!exports.exists(), "nothing was written under {}", exports.display());

    let anonymous = app.post_json(&path, &json!({"format": "json"})).await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let eve = app.user("eve@example.com").await;
    let idor = eve.post(&path, &json!({"format": "json"})).await;
    assert_error(idor, StatusCode::NOT_FOUND, "not_found").await;
    let get = ada.get(&path).await;
    assert_error(get, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn links_open_only_their_own_export_and_die_with_the_session() {
    let app = spawn_app().await;
    let (ada, session) = conversation(&app).await;
    let url = str_field(&export(&ada, &session, "json").await, "url");
    let token = url.rsplit('/').next().expect("token").to_string();

    let other = ada.create_session(json!({})).await;
    for (path, ctx) in [
        (format!("/sessions/{session}/export/{token}x"), "altered token"),
        (format!("/sessions/{session}/export/not-a-token"), "made-up token"),
        (format!("/sessions/{other}/export/{token}"), "another session's id"),
        (format!("/sessions/not-an-id/export/{token}"), "bad session id"),
    ] {
        assert_error_ctx(download(&app.url(&path)).await, StatusCode::NOT_FOUND, "not_found", ctx).await;
    }

    assert_no_content(send(ada.request(Method::DELETE, &format!("/sessions/{session}"))).await).await;
    assert_error(download(&url).await, StatusCode::NOT_FOUND, "not_found").await;
    let exports = app.data_dir().join("blobs/exports");
    let left: Vec<_> = walk(&exports);
    assert!(left.is_empty(), "the session's exports were deleted: {left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}
