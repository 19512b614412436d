//! Conversations and their messages. A session and its messages share a partition, so
//! listing messages is one query and deleting a session finds everything it owns.

use super::attachments::AttachedFile;
use super::{DELETE_BATCH, Progress, all_items, delete_items, from_item, to_data};
use crate::app::App;
use crate::domain::{Id, MessageRole, MessageStatus};
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange, StoreError, Write};
use crate::providers::Usage;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

const SK: &str = "SESSION";
pub(super) const MESSAGE_PREFIX: &str = "MSG#";

/// A conversation as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    #[schema(value_type = String)]
    pub id: Id,
    pub title: String,
    pub model: Option<String>,
    pub system_prompt: Option<String>,
    pub archived: bool,
    /// The newest message of the branch shown and answered by default; `null` when it
    /// is the newest message of all (sessions from before branches) or there is none.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub current_leaf_id: Option<Id>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// A session as stored: with its owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Owned {
    pub user_id: Id,
    /// The title was derived from the first message (not set by the user), so a
    /// generated one may replace it.
    #[serde(default)]
    pub title_derived: bool,
    #[serde(flatten)]
    pub session: Session,
}

#[cfg(test)]
impl Owned {
    /// A new session titled `title` of a new user, for the core's tests.
    pub fn fresh(app: &App, title: &str) -> Owned {
        Owned {
            user_id: app.new_id(),
            title_derived: false,
            session: Session::new(app, title.into(), None, None),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Message {
    #[schema(value_type = String)]
    pub id: Id,
    /// The message this one answers: a user message answers an assistant's (or the
    /// root, `null`), a reply answers a user message. Stored `null` at the root; a
    /// message stored without it (from before branches) answers the one before it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Id>,
    /// `user`, `assistant` or `system`.
    #[schema(value_type = String)]
    pub role: MessageRole,
    pub content: String,
    /// `complete`, `streaming`, `interrupted`, `cancelled` or `failed`.
    #[schema(value_type = String)]
    pub status: MessageStatus,
    pub model: Option<String>,
    pub usage: Option<Usage>,
    /// The pages a research report cites, by their `[n]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<crate::research::Source>>,
    /// A question asked of research (`POST /chat/sessions/{id}/research`), at this
    /// depth: regenerating its reply researches it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub research_depth: Option<crate::research::Depth>,
    /// The files a user message was sent with. A file deleted later keeps its place
    /// here (its name), though its bytes are gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachedFile>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The partition of a session: its record, its messages and their stream buffers.
pub fn pk(id: Id) -> String {
    format!("SESSION#{id}")
}

pub fn message_sk(id: Id) -> String {
    format!("{MESSAGE_PREFIX}{id}")
}

/// Message text longer than this (in bytes) is kept in a blob, so that no message
/// outgrows a store item (a 100,000-character message can be 400 KB of UTF-8).
const INLINE_CONTENT_BYTES: usize = 64 * 1024;
/// The item field naming the blob that holds a long message's text.
const CONTENT_BLOB: &str = "content_blob";

impl Message {
    /// The write that stores this message; a long text is put in a blob first.
    pub(super) async fn write(
        &self,
        app: &App,
        owner: Id,
        session_id: Id,
        condition: Condition,
    ) -> ApiResult<Write> {
        let mut item = Item::new(pk(session_id), message_sk(self.id), to_data(self));
        if self.content.len() > INLINE_CONTENT_BYTES {
            // A key of its own per write: a losing conditional write never overwrites
            // the text of the one that won (the leftover goes with the session).
            let key = format!("{}messages/{}-{}", blob_prefix(owner, session_id), self.id, app.new_id());
            let text = bytes::Bytes::from(self.content.clone());
            app.blobs.put(&key, "text/plain; charset=utf-8", text).await?;
            item.data.insert("content".into(), String::new().into());
            item.data.insert(CONTENT_BLOB.into(), key.into());
        }
        Ok(Write::Put { item, condition })
    }
}

/// A stored message, with its text read back from its blob if it was long. A lost
/// blob leaves the text empty (and is logged) rather than breaking the conversation.
pub(super) async fn load(app: &App, item: &Item) -> ApiResult<Message> {
    let mut message: Message = from_item(item)?;
    if let Some(key) = item.str(CONTENT_BLOB) {
        match app.blobs.get(key).await? {
            Some(text) => message.content = String::from_utf8_lossy(&text).into_owned(),
            None => tracing::error!(blob = key, message_id = %message.id, "a message's text is missing"),
        }
    }
    Ok(message)
}

/// Blobs read at once when loading many messages.
const PARALLEL_LOADS: usize = 8;

pub(super) async fn load_all(app: &App, items: &[Item]) -> ApiResult<Vec<Message>> {
    let mut messages = Vec::with_capacity(items.len());
    for chunk in items.chunks(PARALLEL_LOADS) {
        messages.extend(futures::future::try_join_all(chunk.iter().map(|item| load(app, item))).await?);
    }
    Ok(messages)
}

/// The message and the version to update it against.
pub async fn message(app: &App, session_id: Id, id: Id) -> ApiResult<(Message, u64)> {
    let item = app.store.get(&pk(session_id), &message_sk(id)).await?.ok_or(ApiError::NotFound)?;
    Ok((load(app, &item).await?, item.version))
}

fn user_index(user_id: Id, archived: bool) -> String {
    let state = if archived { "archived" } else { "active" };
    format!("USER#{user_id}#SESSIONS#{state}")
}

impl Session {
    /// A session made now, with no messages yet and not archived.
    pub fn new(app: &App, title: String, model: Option<String>, system_prompt: Option<String>) -> Session {
        let now = app.now();
        Session {
            id: app.new_id(),
            title,
            model,
            system_prompt,
            archived: false,
            current_leaf_id: None,
            created_at: now,
            updated_at: now,
        }
    }
}

impl Owned {
    pub(super) fn item(&self) -> Item {
        Item::new(pk(self.session.id), SK, to_data(self))
            .with_gsi1(user_index(self.user_id, self.session.archived), self.session.id.to_string())
    }
}

/// Where a user's session count is kept.
fn count_key(user_id: Id) -> (String, &'static str) {
    (format!("USER#{user_id}"), "SESSIONS")
}

/// Changes the user's session count by `delta`; returns the new count.
async fn count_sessions(app: &App, user_id: Id, delta: i64) -> ApiResult<i64> {
    let (pk, sk) = count_key(user_id);
    super::count_floored(app, &pk, sk, delta).await
}

async fn uncount_session(app: &App, user_id: Id) {
    let (pk, sk) = count_key(user_id);
    super::uncount(app, &pk, sk, 1, "session count").await;
}

/// Creates the session unless the user already has `max_sessions_per_user`: the count
/// is taken first, atomically, so parallel creates cannot overshoot it.
pub async fn create(app: &App, owned: &Owned) -> ApiResult<()> {
    let count = count_sessions(app, owned.user_id, 1).await?;
    let created = if count > app.config.max_sessions_per_user {
        Err(ApiError::Conflict("session limit reached; delete old sessions first"))
    } else {
        app.store.put(owned.item(), Condition::NotExists).await.map(|_| ()).map_err(ApiError::from)
    };
    if created.is_err() {
        uncount_session(app, owned.user_id).await;
    }
    created
}

/// Who owns session `id`, for work no request names a user for (the lease sweep).
pub async fn owner(app: &App, id: Id) -> ApiResult<Id> {
    let item = app.store.get(&pk(id), SK).await?.ok_or(ApiError::NotFound)?;
    Ok(from_item::<Owned>(&item)?.user_id)
}

/// The user's session `id` and its version; anyone else's is 404.
pub async fn get_owned(app: &App, user_id: Id, id: Id) -> ApiResult<(Owned, u64)> {
    let item = app.store.get(&pk(id), SK).await?.ok_or(ApiError::NotFound)?;
    let owned: Owned = from_item(&item)?;
    if owned.user_id != user_id {
        return Err(ApiError::NotFound);
    }
    Ok((owned, item.version))
}

pub async fn save(app: &App, owned: &Owned, version: u64) -> ApiResult<()> {
    app.store.put(owned.item(), Condition::Version(version)).await?;
    Ok(())
}

/// Attempts at replacing a derived title when other writes keep getting in between.
const RETITLE_ATTEMPTS: usize = 3;

/// Replaces the session's derived title with `title`; never one the user set, even in
/// the meantime (each write is conditional on the version read). Returns the session
/// when it was retitled.
pub async fn retitle(app: &App, id: Id, title: &str) -> ApiResult<Option<Owned>> {
    for _ in 0..RETITLE_ATTEMPTS {
        let Some(item) = app.store.get(&pk(id), SK).await? else { return Ok(None) };
        let mut owned: Owned = from_item(&item)?;
        if !owned.title_derived {
            return Ok(None);
        }
        owned.session.title = title.to_string();
        owned.title_derived = false;
        match app.store.put(owned.item(), Condition::Version(item.version)).await {
            Ok(_) => return Ok(Some(owned)),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// Newest first.
pub async fn list(
    app: &App,
    user_id: Id,
    archived: bool,
    limit: u32,
    cursor: Option<String>,
) -> ApiResult<(Vec<Session>, Option<String>)> {
    let query = Query::new(user_index(user_id, archived), SkRange::All)
        .on_gsi1()
        .backward()
        .limit(limit)
        .after(cursor);
    let page = app.store.query(query).await?;
    let sessions =
        page.items.iter().map(|i| from_item::<Owned>(i).map(|o| o.session)).collect::<ApiResult<_>>()?;
    Ok((sessions, page.cursor))
}

/// Deletes the session first (so it is gone at once), then everything in its partition
/// and its blobs. A crash part-way leaves only unreachable leftovers.
pub async fn delete(app: &App, owned: &Owned, version: u64) -> ApiResult<()> {
    let id = owned.session.id;
    // The link first: a crash after it leaves a session without one, never a live link
    // to a conversation nobody can find any more.
    super::shares::revoke(app, id).await?;
    app.store.delete(&pk(id), SK, Condition::Version(version)).await?;
    uncount_session(app, owned.user_id).await;
    let items = all_items(app, Query::new(pk(id), SkRange::All)).await?;
    super::attachments::delete_session_files(app, owned.user_id, &items).await?;
    let rest: Vec<Item> = items.into_iter().filter(|i| !super::attachments::is_record(i)).collect();
    delete_items(app, &rest).await?;
    for prefix in [blob_prefix(owned.user_id, id), export_prefix(owned.user_id, id)] {
        app.blobs.delete_prefix(&prefix).await?;
    }
    Ok(())
}

/// Deletes a batch of the user's sessions (account deletion): the first session's
/// partition is emptied before its record goes, so a rerun finds the session again
/// until nothing of it is left. Blobs go with the user's prefixes.
pub async fn delete_batch_of_user(app: &App, user_id: Id) -> ApiResult<Progress> {
    for archived in [false, true] {
        let query = Query::new(user_index(user_id, archived), SkRange::All).on_gsi1().limit(1);
        let Some(session) = app.store.query(query).await?.items.into_iter().next() else { continue };
        super::shares::revoke(app, from_item::<Owned>(&session)?.session.id).await?;
        let page = app.store.query(Query::new(session.pk.clone(), SkRange::All).limit(DELETE_BATCH)).await?;
        let contents: Vec<Item> = page.items.into_iter().filter(|i| i.sk != SK).collect();
        // Items a query no longer shows have expired: the store's TTL removes them.
        if contents.is_empty() {
            app.store.delete(&session.pk, SK, Condition::Always).await?;
        }
        delete_items(app, &contents).await?;
        return Ok(Progress::More(None));
    }
    Ok(Progress::Done)
}

/// Every blob prefix of a user: sessions' blobs and exports.
pub fn user_blob_prefixes(user_id: Id) -> [String; 2] {
    [format!("users/{user_id}/"), format!("exports/{user_id}/")]
}

/// A transaction entry that holds only while session `id` exists: for records that
/// must not outlive it (search entries, share links) when it is deleted meanwhile.
pub fn exists_check(id: Id) -> Write {
    Write::Check { pk: pk(id), sk: SK.into(), condition: Condition::Exists }
}

/// Where a session's blobs (large messages, attachments) live.
pub fn blob_prefix(user_id: Id, id: Id) -> String {
    format!("users/{user_id}/sessions/{id}/")
}

/// Where a session's exports live: apart from its other blobs, so that one lifecycle
/// rule on `exports/` can expire every export.
pub fn export_prefix(user_id: Id, id: Id) -> String {
    format!("exports/{user_id}/{id}/")
}
