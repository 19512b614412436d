//! Conversation exports: a session rendered as JSON or Markdown, stored as a blob under
//! `exports/`, and handed out as a download link that expires. Blob stores that sign
//! their own links (S3) give a presigned URL; for the others (the embedded folder) the
//! session function serves the blob behind a capability token stored with a TTL.

use super::branches;
use super::sessions::{Message, Owned, Session, export_prefix};
use super::{Progress, delete_page, from_item, to_data};
use crate::app::App;
use crate::auth::secret_hash;
use crate::domain::{Id, MessageRole, MessageStatus};
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

/// Long enough to click, short enough that a leaked link soon stops working.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);
const LINK_SK: &str = "EXPORT";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Markdown,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Markdown => "md",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
        }
    }
}

/// Where to download an export, and until when.
#[derive(Debug, Serialize, ToSchema)]
pub struct Export {
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// What a capability link leads to.
#[derive(Debug, Serialize, Deserialize)]
struct Link {
    session_id: Id,
    key: String,
    filename: String,
    content_type: String,
}

/// An export's file, served through its capability link.
pub struct Download {
    pub body: Bytes,
    pub content_type: String,
    pub filename: String,
}

/// Renders the session's current branch, stores the file and returns its download link.
pub async fn create(app: &App, owned: &Owned, format: Format) -> ApiResult<Export> {
    let session = &owned.session;
    let messages = branches::current_branch(app, session).await?;
    let now = app.now();
    let key = format!("{}{}.{}", export_prefix(owned.user_id, session.id), app.new_id(), format.extension());
    let filename = filename(session, format, now);
    app.blobs.put(&key, format.content_type(), render(format, session, &messages, now)).await?;
    let expires_at = now + LINK_TTL;
    let url = match app.blobs.download_url(&key, &filename, LINK_TTL).await? {
        Some(url) => url,
        None => {
            let link =
                Link { session_id: session.id, key, filename, content_type: format.content_type().into() };
            capability_link(app, owned.user_id, link, expires_at).await?
        }
    };
    Ok(Export { url, expires_at })
}

/// A link the session function serves itself, at the configured public URL: never
/// one built from the request's `Host`, which the caller controls.
async fn capability_link(app: &App, owner: Id, link: Link, expires_at: OffsetDateTime) -> ApiResult<String> {
    let base_url = app.config.public_url.as_deref().ok_or_else(|| {
        ApiError::Unavailable("CONFAB_PUBLIC_URL must be set for this store to hand out links".into())
    })?;
    let token = app.random_token();
    let item = Item::new(link_pk(&token), LINK_SK, to_data(&link))
        .with_gsi1(links_index(owner), secret_hash(&token))
        .expiring_at(expires_at.unix_timestamp());
    app.store.put(item, Condition::NotExists).await?;
    Ok(format!("{base_url}/sessions/{}/export/{token}", link.session_id))
}

fn link_pk(token: &str) -> String {
    format!("EXPORT#{}", secret_hash(token))
}

/// Where a user's links are listed, so deleting the account finds them.
fn links_index(user_id: Id) -> String {
    format!("USER#{user_id}#EXPORTS")
}

/// Deletes a batch of the user's export links (account deletion).
pub async fn delete_links_of_user(app: &App, user_id: Id, cursor: Option<String>) -> ApiResult<Progress> {
    delete_page(app, Query::new(links_index(user_id), SkRange::All).on_gsi1(), cursor).await
}

/// The file behind a capability link; unknown, expired or deleted is 404.
pub async fn open(app: &App, session_id: Id, token: &str) -> ApiResult<Download> {
    let item = app.store.get(&link_pk(token), LINK_SK).await?.ok_or(ApiError::NotFound)?;
    let link: Link = from_item(&item)?;
    if link.session_id != session_id {
        return Err(ApiError::NotFound);
    }
    let body = app.blobs.get(&link.key).await?.ok_or(ApiError::NotFound)?;
    Ok(Download { body, content_type: link.content_type, filename: link.filename })
}

/// `<title>-<date>.<ext>`, the title reduced to a slug.
fn filename(session: &Session, format: Format, now: OffsetDateTime) -> String {
    let slug: String = session
        .title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join("-");
    let slug = if slug.is_empty() { "conversation".to_string() } else { slug };
    format!("{slug}-{}.{}", now.date(), format.extension())
}

fn render(format: Format, session: &Session, messages: &[Message], now: OffsetDateTime) -> Bytes {
    match format {
        Format::Json => render_json(session, messages, now),
        Format::Markdown => Bytes::from(render_markdown(session, messages, now)),
    }
}

#[derive(Serialize)]
struct JsonExport<'a> {
    /// Lets readers tell this layout from later ones.
    format: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    exported_at: OffsetDateTime,
    session: &'a Session,
    messages: &'a [Message],
}

fn render_json(session: &Session, messages: &[Message], now: OffsetDateTime) -> Bytes {
    let export = JsonExport { format: "confab.export.v1", exported_at: now, session, messages };
    Bytes::from(serde_json::to_vec_pretty(&export).unwrap_or_default())
}

fn render_markdown(session: &Session, messages: &[Message], now: OffsetDateTime) -> String {
    let title = if session.title.is_empty() { "Untitled conversation" } else { &session.title };
    let mut out = format!("# {title}\n\n");
    let _ = writeln!(out, "- Session: `{}`", session.id);
    if let Some(model) = &session.model {
        let _ = writeln!(out, "- Model: {model}");
    }
    let _ = writeln!(out, "- Created: {}\n- Exported: {}\n", rfc3339(session.created_at), rfc3339(now));
    if let Some(prompt) = &session.system_prompt {
        let _ = write!(out, "## System prompt\n\n{prompt}\n\n");
    }
    for m in messages {
        let who = match m.role {
            MessageRole::User => "User".to_string(),
            MessageRole::Assistant => {
                format!("Assistant{}", m.model.as_deref().map(|x| format!(" ({x})")).unwrap_or_default())
            }
            MessageRole::System => "system".to_string(),
        };
        let _ = write!(out, "---\n\n### {who} · {}\n\n{}\n\n", rfc3339(m.created_at), m.content);
        for file in &m.attachments {
            let _ =
                writeln!(out, "- Attached: `{}` ({})", file.filename.replace('`', "'"), file.content_type);
        }
        // A research report's sources, as its `[n]` cite them.
        for source in m.sources.iter().flatten() {
            let _ = writeln!(out, "[{}]: <{}> {:?}", source.n, source.url, source.title);
        }
        if !m.attachments.is_empty() || m.sources.as_ref().is_some_and(|s| !s.is_empty()) {
            out.push('\n');
        }
        if m.status != MessageStatus::Complete {
            let _ = write!(out, "_(reply {})_\n\n", m.status.as_str());
        }
    }
    out
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::attachments::AttachedFile;
    use time::macros::datetime;

    fn session(title: &str) -> Session {
        Session {
            id: Id::parse("01JD3QF2Z8N6WQ1ZQ6ZK4G9M7V").unwrap(),
            title: title.into(),
            model: Some("echo".into()),
            system_prompt: Some("Be brief.".into()),
            archived: false,
            current_leaf_id: None,
            created_at: datetime!(2026-11-22 10:00 UTC),
            updated_at: datetime!(2026-11-22 10:05 UTC),
        }
    }

    fn message(role: MessageRole, content: &str, status: MessageStatus) -> Message {
        Message {
            id: Id::parse("01JD3QF2Z8N6WQ1ZQ6ZK4G9M7W").unwrap(),
            parent_id: None,
            role,
            content: content.into(),
            status,
            model: (role == MessageRole::Assistant).then(|| "echo".into()),
            usage: None,
            sources: None,
            research_depth: None,
            attachments: Vec::new(),
            created_at: datetime!(2026-11-22 10:01 UTC),
        }
    }

    #[test]
    fn markdown_has_title_prompt_and_every_turn() {
        let mut asked = message(MessageRole::User, "hi there", MessageStatus::Complete);
        let file = AttachedFile {
            id: asked.id,
            filename: "plan `v2`.pdf".into(),
            content_type: "application/pdf".into(),
        };
        asked.attachments.push(file);
        let messages = [asked, message(MessageRole::Assistant, "hi", MessageStatus::Interrupted)];
        let md = render_markdown(&session("Trip plans"), &messages, datetime!(2026-11-22 11:00 UTC));
        assert!(
            md.starts_with("# Trip plans\n\n- Session: `01JD3QF2Z8N6WQ1ZQ6ZK4G9M7V`\n- Model: echo\n"),
            "{md}"
        );
        assert!(md.contains("## System prompt\n\nBe brief.\n"), "{md}");
        assert!(
            md.contains("### User · 2026-11-22T10:01:00Z\n\nhi there\n\n- Attached: `plan 'v2'.pdf` (application/pdf)\n\n"),
            "{md}"
        );
        assert!(
            md.contains("### Assistant (echo) · 2026-11-22T10:01:00Z\n\nhi\n\n_(reply interrupted)_"),
            "{md}"
        );
    }

    #[test]
    fn a_reports_sources_are_link_references() {
        let mut report = message(MessageRole::Assistant, "It changed [1].", MessageStatus::Complete);
        let source = |n, url: &str| crate::research::Source {
            n,
            url: url.into(),
            title: "The \"AI Act\"".into(),
            snippet: String::new(),
        };
        report.sources = Some(vec![source(1, "https://a.example/x"), source(2, "https://b.example/y")]);
        let md = render_markdown(&session("Research"), &[report.clone()], datetime!(2026-11-22 11:00 UTC));
        let refs = "It changed [1].\n\n[1]: <https://a.example/x> \"The \\\"AI Act\\\"\"\n[2]: <https://b.example/y>";
        assert!(md.contains(refs), "{md}");
        let json: serde_json::Value =
            serde_json::from_slice(&render_json(&session("R"), &[report], datetime!(2026-11-22 11:00 UTC)))
                .unwrap();
        assert_eq!(json["messages"][0]["sources"][1]["url"], "https://b.example/y");
    }

    #[test]
    fn filenames_are_slugs_of_the_title() {
        let now = datetime!(2026-11-22 11:00 UTC);
        assert_eq!(
            filename(&session("Trip: Paris & Rome!"), Format::Markdown, now),
            "trip-paris-rome-2026-11-22.md"
        );
        assert_eq!(filename(&session("¿¡"), Format::Json, now), "conversation-2026-11-22.json");
    }
}
