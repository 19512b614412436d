//! What the chat engine's unit tests share: an app whose models are OpenAI and
//! Anthropic targets answered by the kit's fake HTTP client, and real wire bodies.

use super::models::{ModelKind, ModelRoute};
use crate::domain::{MessageRole, MessageStatus, Quota, Role};
use crate::providers::{ChatMessage, ChatRequest, ChatRole, ProviderKind, Target};
use crate::repo::sessions::{self, Message, Owned, Session};
use crate::repo::turns;
use crate::repo::users::User;
use crate::testing::{Builder, Reply, TestApp};

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/providers/", $path))
    };
}

/// A streamed OpenAI reply: "Bonjour à tous 👋", finish `stop`, 19 + 6 tokens.
pub const OPENAI_STREAM: &str = fixture!("openai/stream.sse");
pub const OPENAI_429: &str = fixture!("openai/error_429.json");
/// A streamed Anthropic reply: "Bonjour à tous 👋", finish `end_turn`.
pub const ANTHROPIC_STREAM: &str = fixture!("anthropic/stream.sse");
pub const ANTHROPIC_529: &str = fixture!("anthropic/error_529.json");

pub fn openai() -> Target {
    Target {
        provider: ProviderKind::Openai,
        base_url: "https://api.openai.com/v1".into(),
        model: "gpt-4o-mini".into(),
        api_key_secret: Some("confab-provider-openai".into()),
        region: None,
    }
}

pub fn anthropic() -> Target {
    Target {
        provider: ProviderKind::Anthropic,
        base_url: "https://api.anthropic.com".into(),
        model: "claude-sonnet-4-5".into(),
        api_key_secret: Some("confab-provider-anthropic".into()),
        region: None,
    }
}

pub fn gemini() -> Target {
    Target {
        provider: ProviderKind::Gemini,
        base_url: "https://generativelanguage.googleapis.com".into(),
        model: "gemini-2.5-flash".into(),
        api_key_secret: Some("confab-provider-gemini".into()),
        region: None,
    }
}

pub fn route(targets: Vec<Target>) -> ModelRoute {
    ModelRoute {
        name: "chat".into(),
        kind: ModelKind::Chat,
        targets,
        context_tokens: 128_000,
        max_output_tokens: Some(256),
        vision: false,
    }
}

pub fn request() -> ChatRequest {
    let message = ChatMessage::text(ChatRole::User, "Say hello in French.");
    ChatRequest { messages: vec![message], max_tokens: Some(256), ..ChatRequest::default() }
}

/// The app `builder` builds, with the providers' keys set.
pub fn app(builder: Builder) -> TestApp {
    let t = builder.build();
    t.secrets.set("confab-provider-openai", "sk-test");
    t.secrets.set("confab-provider-anthropic", "sk-ant-test");
    t.secrets.set("confab-provider-gemini", "AIza-test");
    t
}

/// OpenAI's successful streamed reply, in one chunk per SSE event.
pub fn openai_reply() -> Reply {
    Reply::new(200).header("content-type", "text/event-stream").chunks(events(OPENAI_STREAM))
}

/// The SSE events of `body`, each with its blank line.
pub fn events(body: &'static str) -> impl Iterator<Item = String> {
    body.split_inclusive("\n\n").map(String::from)
}

/// A user with their own day's token quota (and room for 100 requests a minute).
pub fn user(t: &TestApp, tokens_per_day: i64) -> User {
    User {
        id: t.app.new_id(),
        email: "ada@example.com".into(),
        name: None,
        role: Role::User,
        created_at: t.app.now(),
        disabled: false,
        password_hash: String::new(),
        quota: Quota { requests_per_minute: Some(100), tokens_per_day: Some(tokens_per_day) },
        not_before: None,
        mfa_enabled: false,
        deleting: false,
    }
}

/// A turn as the send handler stores it before streaming: `owner`'s new session with
/// the question and a `streaming` reply. Returns the session, the question and the reply.
pub async fn streaming_turn(t: &TestApp, owner: &User) -> (Owned, Message, Message) {
    let app = &t.app;
    let session = Session::new(app, "French".into(), None, None);
    sessions::create(app, &Owned { user_id: owner.id, title_derived: false, session: session.clone() })
        .await
        .unwrap();
    let (owned, version) = sessions::get_owned(app, owner.id, session.id).await.unwrap();
    let message = |role, content: &str, status| Message {
        id: app.new_id(),
        parent_id: None,
        role,
        content: content.into(),
        status,
        model: None,
        usage: None,
        sources: None,
        research_depth: None,
        attachments: Vec::new(),
        created_at: session.created_at,
    };
    let asked = message(MessageRole::User, "Say hello in French.", MessageStatus::Complete);
    let reply = message(MessageRole::Assistant, "", MessageStatus::Streaming);
    turns::start(app, &owned, version, Some(&asked), &reply).await.unwrap();
    (owned, asked, reply)
}

/// One OpenAI stream chunk carrying `text`, shaped as in [`OPENAI_STREAM`].
pub fn openai_delta(text: &str) -> String {
    let chunk = serde_json::json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion.chunk",
        "created": 1741569952, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{ "index": 0, "delta": { "content": text }, "logprobs": null, "finish_reason": null }],
        "usage": null,
    });
    format!("data: {chunk}\n\n")
}
