//! Attachments: files of a session uploaded as raw bodies, checked against their type,
//! downloaded only by their owner, sent with messages (images to models that see
//! them, text and PDFs' text in the words), named in exports, gone with the session.

use confab_mock_provider::MockProvider;
use confab_tests::files::{pdf, png};
use confab_tests::sse::all_events;
use confab_tests::*;

fn file_path(session: &str, id: &str) -> String {
    format!("/sessions/{session}/attachments/{id}")
}

async fn delete(user: &TestUser<'_>, path: &str) -> Response {
    send(user.request(Method::DELETE, path)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn files_of_each_type_are_uploaded_listed_downloaded_and_deleted() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let session = ada.create_session(json!({"title": "files"})).await;

    let created = ada.upload(&session, "../../cat \"1\".png", Some("image/png"), png()).await.created().await;
    assert_eq!(keys(&created), ["content_type", "created_at", "filename", "id", "size"]);
    assert_eq!(
        (&created["filename"], &created["content_type"]),
        (&json!("cat \"1\".png"), &json!("image/png"))
    );
    assert_eq!(created["size"], png().len());
    let png_id = str_field(&created, "id");
    let uploads = [
        ("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0 jpeg".to_vec()),
        ("anim.gif", "image/gif", b"GIF89a....".to_vec()),
        ("pic.webp", "image/webp", b"RIFF\x10\0\0\0WEBPVP8 ".to_vec()),
        ("notes.md", "text/markdown; charset=utf-8", "# Notes\nhéllo".as_bytes().to_vec()),
        ("data.json", "application/json", b"{\"a\": 1}".to_vec()),
        ("report.pdf", "application/pdf", pdf("Quarterly report")),
        ("naïve\u{7}\\evil.txt", "text/plain", b"plain".to_vec()),
    ];
    for (name, content_type, bytes) in uploads {
        ada.attach(&session, name, content_type, bytes).await;
    }
    let listed = ada.get(&format!("/sessions/{session}/attachments")).await.good().await;
    let names: Vec<&str> =
        listed["items"].as_array().unwrap().iter().map(|f| f["filename"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "cat \"1\".png",
            "photo.jpg",
            "anim.gif",
            "pic.webp",
            "notes.md",
            "data.json",
            "report.pdf",
            "evil.txt"
        ]
    );
    assert_eq!(listed["items"][4]["content_type"], "text/markdown");

    let resp = ada.get(&file_path(&session, &png_id)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    for (name, value) in [
        ("content-type", "image/png"),
        ("content-disposition", "attachment; filename=\"cat__1_.png\"; filename*=UTF-8''cat%20%221%22.png"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "private, no-store"),
    ] {
        assert_eq!(header(&resp, name).as_deref(), Some(value), "{name}");
    }
    assert_eq!(resp.bytes().await.unwrap(), png());

    assert_no_content(delete(&ada, &file_path(&session, &png_id)).await).await;
    assert_error(ada.get(&file_path(&session, &png_id)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(delete(&ada, &file_path(&session, &png_id)).await, StatusCode::NOT_FOUND, "not_found").await;
    let listed = ada.get(&format!("/sessions/{session}/attachments")).await.good().await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(7));
    let actions = app.audit_actions(&ada, &ada.id).await;
    assert!(actions.iter().any(|a| a == "attachment.deleted"), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_of_the_wrong_size_type_or_bytes_are_refused() {
    let app = spawn_app_with(&[
        ("CONFAB_MAX_BODY_BYTES", "1000"),
        ("CONFAB_MAX_ATTACHMENT_BYTES", "3000"),
        ("CONFAB_MAX_ATTACHMENT_BYTES_PER_USER", "5000"),
    ])
    .await;
    let ada = app.user("ada@example.com").await;
    let session = ada.create_session(json!({"title": "limits"})).await;

    // The upload path alone takes bodies over the JSON limit, up to its own.
    ada.attach(&session, "big.txt", "text/plain", vec![b'a'; 3000]).await;
    let resp = ada.upload(&session, "bigger.txt", Some("text/plain"), vec![b'a'; 3001]).await;
    assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let resp = ada.post("/sessions", &json!({"title": "x".repeat(1100)})).await;
    assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let path = format!("/sessions/{session}/messages");
    let resp = send(ada.request(Method::POST, &format!("/chat{path}")).body(vec![b'a'; 1500])).await;
    assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    for (content_type, bytes, why) in [
        (Some("application/zip"), b"PK\x03\x04".to_vec(), "a type attachments do not take"),
        (Some("image/png"), b"GIF89a....".to_vec(), "bytes of another image type"),
        (Some("application/pdf"), b"<html>hi</html>".to_vec(), "HTML called a PDF"),
        (Some("image/webp"), b"RIFF\x10\0\0\0WAVEfmt ".to_vec(), "a WAV called WebP"),
        (Some("text/plain"), b"\xff\xfe\0h\0i".to_vec(), "text that is not UTF-8"),
        (None, b"hello".to_vec(), "no type"),
    ] {
        let resp = ada.upload(&session, "f", content_type, bytes).await;
        assert_error_ctx(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", why).await;
    }
    let resp = ada.upload(&session, "empty.txt", Some("text/plain"), Vec::new()).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let resp = ada.upload(&session, "/\u{1}/", Some("text/plain"), b"x".to_vec()).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let no_name =
        send(ada.request(Method::POST, &format!("/sessions/{session}/attachments")).body("x")).await;
    assert_error(no_name, StatusCode::BAD_REQUEST, "invalid_request").await;
    let listed = ada.get(&format!("/sessions/{session}/attachments")).await.good().await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1), "nothing refused was kept: {listed}");

    // One user's files, all sessions together, hold at most 5000 bytes here.
    let other = ada.create_session(json!({"title": "more"})).await;
    let resp = ada.upload(&other, "over.txt", Some("text/plain"), vec![b'a'; 2001]).await;
    assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    let fits = ada.attach(&other, "fits.txt", "text/plain", vec![b'a'; 2000]).await;
    let resp = ada.upload(&other, "one.txt", Some("text/plain"), b"a".to_vec()).await;
    assert_error(resp, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(delete(&ada, &file_path(&other, &fits)).await.status(), StatusCode::NO_CONTENT);
    ada.attach(&other, "again.txt", "text/plain", vec![b'a'; 2000]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_owner_reaches_a_file_and_only_in_its_session() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let eve = app.user("eve@example.com").await;
    let session = ada.create_session(json!({"title": "mine"})).await;
    let other = ada.create_session(json!({"title": "other"})).await;
    let file = ada.attach(&session, "secret.txt", "text/plain", b"ada's secret".to_vec()).await;

    let path = file_path(&session, &file);
    assert_error(eve.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(delete(&eve, &path).await, StatusCode::NOT_FOUND, "not_found").await;
    let list = format!("/sessions/{session}/attachments");
    assert_error(eve.get(&list).await, StatusCode::NOT_FOUND, "not_found").await;
    let resp = eve.upload(&session, "x.txt", Some("text/plain"), b"x".to_vec()).await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(ada.get(&file_path(&other, &file)).await, StatusCode::NOT_FOUND, "not_found").await;

    // Naming a file of another session, or another user's, writes nothing.
    let eves = eve.create_session(json!({"title": "eve's"})).await;
    for (user, session) in [(&eve, &eves), (&ada, &other)] {
        let resp = user.send_message(session, &json!({"content": "read it", "attachments": [file]})).await;
        assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(user.messages(session).await, Vec::<Value>::new());
    }
    let resp = ada.send_message(&session, &json!({"content": "twice", "attachments": [file, file]})).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let eleven = vec![json!(file); 11];
    let resp = ada.send_message(&session, &json!({"content": "many", "attachments": eleven})).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn text_and_pdfs_reach_the_model_and_images_only_models_that_see() {
    let mock = MockProvider::builder().spawn("127.0.0.1:0").await.unwrap();
    let openai_url = format!("{}/v1", mock.base_url());
    let app = spawn_app_with(&[
        ("CONFAB_OPENAI_BASE_URL", &openai_url),
        ("CONFAB_OPENAI_API_KEY", "openai-key"),
        ("CONFAB_OPENAI_MODELS", "oa-model"),
        ("CONFAB_OPENAI_VISION_MODELS", "oa-vision"),
    ])
    .await;
    let ada = app.user("ada@example.com").await;
    let session = ada.create_session(json!({"title": "context"})).await;
    let notes =
        ada.attach(&session, "notes.txt", "text/plain", b"the code word is heliotrope".to_vec()).await;
    let report =
        ada.attach(&session, "report.pdf", "application/pdf", pdf("Revenue rose by 42 percent")).await;
    let photo = ada.attach(&session, "cat.png", "image/png", png()).await;

    let ask = |model: &str, files: &[&String]| json!({"content": "what do these say?", "model": model, "attachments": files});
    all_events(ada.send_message(&session, &ask("oa-model", &[&notes, &report])).await).await;
    let sent = mock.requests("oa-model").pop().expect("a request reached the provider").body;
    let words = sent["messages"].as_array().unwrap().last().unwrap()["content"].to_string();
    for expected in [
        "what do these say?",
        "notes.txt",
        "the code word is heliotrope",
        "report.pdf",
        "Revenue rose by 42 percent",
    ] {
        assert!(words.contains(expected), "{expected:?} is not in {words}");
    }

    let before = ada.messages(&session).await.len();
    let resp = ada.send_message(&session, &ask("oa-model", &[&photo])).await;
    assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "model_cannot_see_images").await;
    assert_eq!(ada.messages(&session).await.len(), before, "a refused message is not kept");

    all_events(ada.send_message(&session, &ask("oa-vision", &[&photo])).await).await;
    let sent = mock.requests("oa-vision").pop().expect("a request reached the provider").body;
    let last = sent["messages"].as_array().unwrap().last().unwrap().clone();
    let image = last["content"].as_array().and_then(|parts| parts.iter().find(|p| p["type"] == "image_url"));
    let url =
        image.map(|p| p["image_url"]["url"].as_str().unwrap_or_default().to_string()).unwrap_or_default();
    let expected = format!(
        "data:image/png;base64,{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png())
    );
    assert_eq!(url, expected, "{last}");
    // The earlier text files stay in the context of later turns.
    assert!(sent.to_string().contains("heliotrope"), "{sent}");

    let messages = ada.messages(&session).await;
    let attached: Vec<&Value> = messages.iter().filter(|m| m.get("attachments").is_some()).collect();
    assert_eq!(attached.len(), 2);
    assert_eq!(
        attached[1]["attachments"],
        json!([{"id": photo, "filename": "cat.png", "content_type": "image/png"}])
    );
    assert!(messages.iter().filter(|m| m["role"] == "assistant").all(|m| m.get("attachments").is_none()));

    // A deleted file keeps its name on the message; later turns are told it is gone.
    assert_no_content(delete(&ada, &file_path(&session, &notes)).await).await;
    all_events(ada.send_message(&session, &ask("oa-model", &[])).await).await;
    let sent = mock.requests("oa-model").pop().unwrap().body;
    let asked = sent["messages"][0]["content"].as_str().unwrap_or_default();
    assert!(asked.contains("[file notes.txt: deleted]") && !asked.contains("heliotrope"), "{sent}");
    let sent = sent.to_string();
    assert!(sent.contains("[image cat.png: this model cannot see images]"), "{sent}");
    let first = ada.messages(&session).await.into_iter().find(|m| m.get("attachments").is_some()).unwrap();
    assert_eq!(first["attachments"][0]["filename"], "notes.txt");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_echo_model_hears_the_file_exports_name_it_and_deleting_the_session_removes_it() {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    let session = ada.create_session(json!({"title": "echo"})).await;
    let notes = ada.attach(&session, "notes.txt", "text/plain", b"from the file".to_vec()).await;
    let body = json!({"content": "hear this", "attachments": [notes]});
    let events = all_events(ada.send_message(&session, &body).await).await;
    let reply = confab_tests::sse::text(&events);
    assert!(reply.contains("hear this") && reply.contains("from the file"), "{reply}");

    let export = ada
        .post(&format!("/sessions/{session}/export"), &json!({"format": "markdown"}))
        .await
        .created()
        .await;
    let markdown = reqwest::get(str_field(&export, "url")).await.unwrap().text().await.unwrap();
    assert!(markdown.contains("- Attached: `notes.txt` (text/plain)"), "{markdown}");
    let export =
        ada.post(&format!("/sessions/{session}/export"), &json!({"format": "json"})).await.created().await;
    let json: Value = reqwest::get(str_field(&export, "url")).await.unwrap().json().await.unwrap();
    assert_eq!(json["messages"][0]["attachments"][0]["filename"], "notes.txt");

    let blobs =
        app.data_dir().join("blobs/users").join(&ada.id).join("sessions").join(&session).join("attachments");
    assert!(blobs.join(&notes).join("file").exists());
    assert_no_content(delete(&ada, &format!("/sessions/{session}")).await).await;
    assert!(!blobs.exists(), "the session's files are deleted with it");
}
