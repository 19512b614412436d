//! Files attached to a session: a record in the session's partition (so it goes with
//! the session) and the bytes in a blob under the session's prefix (so they go with
//! the session or the account), with a PDF's text read once at upload beside them.

use super::sessions::{self, Owned, blob_prefix};
use super::{all_items, from_item, to_data};
use crate::app::App;
use crate::domain::{AttachmentKind, Id};
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange, StoreError, Write};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

const PREFIX: &str = "ATTACH#";
/// Most files one session keeps.
pub const MAX_PER_SESSION: usize = 50;

/// A file as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    #[schema(value_type = String)]
    pub id: Id,
    pub filename: String,
    /// `image/png`, `image/jpeg`, `image/webp`, `image/gif`, `application/pdf` or a text type.
    pub content_type: String,
    /// In bytes.
    pub size: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// A file as a message names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttachedFile {
    #[schema(value_type = String)]
    pub id: Id,
    pub filename: String,
    pub content_type: String,
}

impl From<&Attachment> for AttachedFile {
    fn from(a: &Attachment) -> Self {
        AttachedFile { id: a.id, filename: a.filename.clone(), content_type: a.content_type.clone() }
    }
}

/// A file and its contents, as uploaded.
pub struct Upload {
    pub attachment: Attachment,
    pub bytes: Bytes,
    /// A PDF's text, when it could be read.
    pub text: Option<String>,
}

/// What the context takes from a file: an image's bytes, or text.
pub enum Contents {
    Image(Bytes),
    Text(String),
    /// A PDF no text could be read from.
    NoText,
}

fn sk(id: Id) -> String {
    format!("{PREFIX}{id}")
}

/// The blobs of one file: its bytes, and a PDF's text.
fn blob_dir(owner: Id, session_id: Id, id: Id) -> String {
    format!("{}attachments/{id}/", blob_prefix(owner, session_id))
}

/// Where the bytes a user's attachments hold are counted (beside the session count).
fn bytes_key(user_id: Id) -> (String, &'static str) {
    (format!("USER#{user_id}"), "ATTACHMENT_BYTES")
}

async fn uncount_bytes(app: &App, user_id: Id, bytes: i64) {
    let (pk, sk) = bytes_key(user_id);
    super::uncount(app, &pk, sk, bytes, "attachment bytes").await;
}

/// Whether a session's item is a file's record.
pub fn is_record(item: &Item) -> bool {
    item.sk.starts_with(PREFIX)
}

/// Deletes the records of the files among a session's `items` (the session is being
/// deleted) and gives back the bytes of those this call removed.
pub async fn delete_session_files(app: &App, user_id: Id, items: &[Item]) -> ApiResult<()> {
    for item in items.iter().filter(|i| is_record(i)) {
        remove_record(app, user_id, &item.pk, &item.sk, item.int("size").unwrap_or(0)).await?;
    }
    Ok(())
}

/// Deletes a file's record if it is still there, and only then gives back its bytes:
/// two deletions of one file (at once, or the file's and its session's) give them back
/// once. Whether this call removed it.
async fn remove_record(app: &App, user_id: Id, pk: &str, sk: &str, size: i64) -> ApiResult<bool> {
    match app.store.delete(pk, sk, Condition::Exists).await {
        Ok(()) => {
            uncount_bytes(app, user_id, size).await;
            Ok(true)
        }
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Stores the file unless the session already has [`MAX_PER_SESSION`] or the user's
/// files would hold more than `max_attachment_bytes_per_user` (counted first,
/// atomically, so parallel uploads cannot overshoot it); a session deleted meanwhile
/// is 404. A refused or failed upload leaves nothing behind.
pub async fn create(app: &App, owned: &Owned, upload: Upload) -> ApiResult<()> {
    let session_id = owned.session.id;
    if list(app, session_id).await?.len() >= MAX_PER_SESSION {
        return Err(ApiError::Conflict(
            "this session has as many attachments as it may keep; delete some first",
        ));
    }
    let size = i64::try_from(upload.attachment.size).unwrap_or(i64::MAX);
    let (pk, sk) = bytes_key(owned.user_id);
    let held = super::count_floored(app, &pk, sk, size).await?;
    let stored = match held > app.config.max_attachment_bytes_per_user {
        true => Err(ApiError::Conflict(
            "your attachments would hold more than each user may keep; delete some first",
        )),
        false => store(app, owned, upload).await,
    };
    if stored.is_err() {
        uncount_bytes(app, owned.user_id, size).await;
    }
    stored
}

/// Writes the file's bytes, then its record; on a failure, the bytes are deleted again.
async fn store(app: &App, owned: &Owned, upload: Upload) -> ApiResult<()> {
    let session_id = owned.session.id;
    let attachment = &upload.attachment;
    let dir = blob_dir(owned.user_id, session_id, attachment.id);
    app.blobs.put(&format!("{dir}file"), &attachment.content_type, upload.bytes).await?;
    if let Some(text) = upload.text {
        let put = app.blobs.put(&format!("{dir}text"), "text/plain; charset=utf-8", Bytes::from(text)).await;
        if let Err(e) = put {
            app.blobs.delete_prefix(&dir).await?;
            return Err(e.into());
        }
    }
    let item = Item::new(sessions::pk(session_id), sk(attachment.id), to_data(attachment));
    let writes =
        vec![Write::Put { item, condition: Condition::NotExists }, sessions::exists_check(session_id)];
    if let Err(e) = app.store.transact(writes).await {
        app.blobs.delete_prefix(&dir).await?;
        return Err(match e {
            StoreError::ConditionFailed => ApiError::NotFound,
            e => e.into(),
        });
    }
    Ok(())
}

/// The session's files, oldest first.
pub async fn list(app: &App, session_id: Id) -> ApiResult<Vec<Attachment>> {
    let query = Query::new(sessions::pk(session_id), SkRange::Prefix(PREFIX.into()));
    all_items(app, query).await?.iter().map(from_item).collect()
}

/// File `id` of the session; 404 if the session has none by that id.
pub async fn get(app: &App, session_id: Id, id: Id) -> ApiResult<Attachment> {
    let item = app.store.get(&sessions::pk(session_id), &sk(id)).await?.ok_or(ApiError::NotFound)?;
    from_item(&item)
}

/// The file's bytes; 404 once they are gone.
pub async fn bytes(app: &App, owned: &Owned, id: Id) -> ApiResult<Bytes> {
    let key = format!("{}file", blob_dir(owned.user_id, owned.session.id, id));
    app.blobs.get(&key).await?.ok_or(ApiError::NotFound)
}

/// What a model is given of the file: an image's bytes, a text file's text, a PDF's
/// extracted text. `None` when the file's bytes are gone.
pub async fn contents(app: &App, owned: &Owned, attachment: &Attachment) -> ApiResult<Option<Contents>> {
    let dir = blob_dir(owned.user_id, owned.session.id, attachment.id);
    let kind = AttachmentKind::of(&attachment.content_type);
    let key = if kind == AttachmentKind::Pdf { format!("{dir}text") } else { format!("{dir}file") };
    let Some(blob) = app.blobs.get(&key).await? else {
        return Ok((kind == AttachmentKind::Pdf).then_some(Contents::NoText));
    };
    Ok(Some(match kind {
        AttachmentKind::Image => Contents::Image(blob),
        _ => Contents::Text(String::from_utf8_lossy(&blob).into_owned()),
    }))
}

/// Deletes the file: its record first, so a crash leaves only unreachable bytes.
pub async fn delete(app: &App, owned: &Owned, id: Id) -> ApiResult<()> {
    let attachment = get(app, owned.session.id, id).await?;
    let size = i64::try_from(attachment.size).unwrap_or(i64::MAX);
    if !remove_record(app, owned.user_id, &sessions::pk(owned.session.id), &sk(id), size).await? {
        return Err(ApiError::NotFound);
    }
    Ok(app.blobs.delete_prefix(&blob_dir(owned.user_id, owned.session.id, id)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::sessions::Session;
    use crate::testing;

    fn upload(app: &App, name: &str, body: &'static [u8], text: Option<&str>) -> Upload {
        let attachment = Attachment {
            id: app.new_id(),
            filename: name.into(),
            content_type: if text.is_some() { "application/pdf".into() } else { "text/plain".into() },
            size: body.len() as u64,
            created_at: app.now(),
        };
        Upload { attachment, bytes: Bytes::from_static(body), text: text.map(String::from) }
    }

    #[test]
    fn files_live_and_die_with_their_session() {
        let t = testing::app().build();
        let app = &t.app;
        let owned = Owned::fresh(app, "s");
        t.run(async {
            sessions::create(app, &owned).await.unwrap();
            let notes = upload(app, "notes.txt", b"hello", None);
            let notes_id = notes.attachment.id;
            create(app, &owned, notes).await.unwrap();
            let pdf = upload(app, "a.pdf", b"%PDF-", Some("pdf words"));
            let pdf_attachment = pdf.attachment.clone();
            create(app, &owned, pdf).await.unwrap();
            let listed: Vec<_> = list(app, owned.session.id).await.unwrap().into_iter().map(|a| a.filename).collect();
            assert_eq!(listed, ["notes.txt", "a.pdf"]);
            assert_eq!(bytes(app, &owned, notes_id).await.unwrap(), "hello");
            assert!(matches!(contents(app, &owned, &pdf_attachment).await.unwrap(), Some(Contents::Text(t)) if t == "pdf words"));
            delete(app, &owned, pdf_attachment.id).await.unwrap();
            assert!(matches!(get(app, owned.session.id, pdf_attachment.id).await, Err(ApiError::NotFound)));
            assert!(matches!(delete(app, &owned, pdf_attachment.id).await, Err(ApiError::NotFound)));
            let (owned, version) = sessions::get_owned(app, owned.user_id, owned.session.id).await.unwrap();
            sessions::delete(app, &owned, version).await.unwrap();
        });
        assert!(t.store.items().is_empty() || t.store.items().iter().all(|i| !i.sk.starts_with(PREFIX)));
        assert_eq!(t.blobs.keys().len(), 0);
        // A file whose session was deleted meanwhile is refused and leaves no bytes.
        let gone = Owned { session: Session::new(app, "gone".into(), None, None), ..owned.clone() };
        assert!(matches!(
            t.run(create(app, &gone, upload(app, "late.txt", b"x", None))),
            Err(ApiError::NotFound)
        ));
        assert_eq!(t.blobs.keys().len(), 0);
    }

    fn held(t: &testing::TestApp, owned: &Owned) -> i64 {
        let (pk, sk) = bytes_key(owned.user_id);
        t.run(t.app.store.get(&pk, sk)).unwrap().and_then(|i| i.int("count")).unwrap_or(0)
    }

    #[test]
    fn a_user_keeps_at_most_the_configured_bytes_and_deleting_gives_them_back() {
        let config = crate::Config { max_attachment_bytes_per_user: 10, ..crate::Config::default() };
        let t = testing::app().with_config(config).build();
        let app = &t.app;
        let first = Owned::fresh(app, "a");
        let second = Owned { session: Session::new(app, "b".into(), None, None), ..first.clone() };
        t.run(sessions::create(app, &first)).unwrap();
        t.run(sessions::create(app, &second)).unwrap();
        let six = upload(app, "six.txt", b"123456", None);
        let six_id = six.attachment.id;
        t.run(create(app, &first, six)).unwrap();
        let refused = t.run(create(app, &second, upload(app, "five.txt", b"12345", None)));
        assert!(matches!(refused, Err(ApiError::Conflict(_))), "all sessions count together");
        assert_eq!((held(&t, &first), t.blobs.keys().len()), (6, 1), "a refused file holds nothing");
        t.run(create(app, &second, upload(app, "four.txt", b"1234", None))).unwrap();
        assert_eq!(held(&t, &first), 10);
        // Two deletions that both found the file (a race) give its bytes back once.
        let record = (sessions::pk(first.session.id), sk(six_id));
        assert!(t.run(remove_record(app, first.user_id, &record.0, &record.1, 6)).unwrap());
        assert!(!t.run(remove_record(app, first.user_id, &record.0, &record.1, 6)).unwrap());
        assert!(matches!(t.run(delete(app, &first, six_id)), Err(ApiError::NotFound)));
        assert_eq!(held(&t, &first), 4);
        t.run(create(app, &first, upload(app, "five.txt", b"12345", None))).unwrap();
        let (owned, version) = t.run(sessions::get_owned(app, second.user_id, second.session.id)).unwrap();
        t.run(sessions::delete(app, &owned, version)).unwrap();
        assert_eq!(held(&t, &first), 5, "a deleted session gives its files' bytes back");
    }
}
