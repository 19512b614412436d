//! Share links: a read-only snapshot of a conversation, public to whoever holds the
//! link's token. The snapshot is a blob under the session's prefix (so it goes with the
//! session or the account); the token is stored only hashed, in a lookup item, and the
//! session's partition names the current link so revoking or replacing it is one
//! transaction. Deleting the lookup item kills the link at once.

use super::branches;
use super::sessions::{self, Message, Owned, blob_prefix};
use super::{from_item, to_data};
use crate::app::App;
use crate::auth::secret_hash;
use crate::domain::{Id, MessageRole};
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, StoreError, Write};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

const SK: &str = "SHARE";
/// `App::random_token`'s length: 32 bytes, unpadded base64url.
const TOKEN_LEN: usize = 43;

/// What a share link's lookup item and the session's own record both keep.
#[derive(Debug, Serialize, Deserialize)]
struct Link {
    session_id: Id,
    token_hash: String,
    key: String,
}

/// A new link, as its creator sees it once.
#[derive(Debug, Serialize, ToSchema)]
pub struct Shared {
    pub token: String,
    pub url: String,
}

/// The snapshot anyone with the link reads: no ids, no owner, no attachments.
#[derive(Debug, Serialize, ToSchema)]
pub struct Snapshot {
    pub title: String,
    pub messages: Vec<SharedMessage>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub shared_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SharedMessage {
    #[schema(value_type = String)]
    pub role: MessageRole,
    pub content: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

fn lookup_pk(token_hash: &str) -> String {
    format!("SHARE#{token_hash}")
}

/// Snapshots the conversation's current branch and links to it, replacing (and killing)
/// an earlier link.
pub async fn create(app: &App, owned: &Owned) -> ApiResult<Shared> {
    let base_url = app.config.public_url.as_deref().ok_or_else(|| {
        ApiError::Unavailable("CONFAB_PUBLIC_URL must be set to hand out share links".into())
    })?;
    let session = &owned.session;
    let messages = branches::current_branch(app, session).await?;
    let key = format!("{}share-{}.json", blob_prefix(owned.user_id, session.id), app.new_id());
    let snapshot = Snapshot { title: session.title.clone(), messages: shown(messages), shared_at: app.now() };
    let body = Bytes::from(serde_json::to_vec(&snapshot).map_err(|e| ApiError::Internal(e.to_string()))?);
    app.blobs.put(&key, "application/json", body).await?;
    let token = app.random_token();
    let link = Link { session_id: session.id, token_hash: secret_hash(&token), key };
    let earlier = current(app, session.id).await?;
    let mut writes = vec![
        Write::Put {
            item: Item::new(lookup_pk(&link.token_hash), SK, to_data(&link)),
            condition: Condition::NotExists,
        },
        Write::Put {
            item: Item::new(sessions::pk(session.id), SK, to_data(&link)),
            condition: earlier.as_ref().map_or(Condition::NotExists, |(_, v)| Condition::Version(*v)),
        },
    ];
    writes.extend(earlier.as_ref().map(|(old, _)| unlink(old)));
    writes.push(sessions::exists_check(session.id));
    if let Err(e) = commit(app, writes).await {
        delete_snapshot(app, &link).await?;
        return Err(e);
    }
    if let Some((old, _)) = earlier {
        delete_snapshot(app, &old).await?;
    }
    Ok(Shared { url: format!("{base_url}/shared/{token}"), token })
}

/// Kills the session's link, if it has one; whether it had.
pub async fn revoke(app: &App, session_id: Id) -> ApiResult<bool> {
    let Some((link, version)) = current(app, session_id).await? else { return Ok(false) };
    let own =
        Write::Delete { pk: sessions::pk(session_id), sk: SK.into(), condition: Condition::Version(version) };
    commit(app, vec![own, unlink(&link)]).await?;
    delete_snapshot(app, &link).await?;
    Ok(true)
}

/// The snapshot behind a token, as stored; anything else is 404.
pub async fn open(app: &App, token: &str) -> ApiResult<Bytes> {
    let well_formed = token.len() == TOKEN_LEN
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(ApiError::NotFound);
    }
    let item = app.store.get(&lookup_pk(&secret_hash(token)), SK).await?.ok_or(ApiError::NotFound)?;
    let link: Link = from_item(&item)?;
    app.blobs.get(&link.key).await?.ok_or(ApiError::NotFound)
}

/// The user's and the assistant's words, nothing else.
fn shown(messages: Vec<Message>) -> Vec<SharedMessage> {
    messages
        .into_iter()
        .filter(|m| m.role != MessageRole::System && !m.content.is_empty())
        .map(|m| SharedMessage { role: m.role, content: m.content, created_at: m.created_at })
        .collect()
}

async fn current(app: &App, session_id: Id) -> ApiResult<Option<(Link, u64)>> {
    match app.store.get(&sessions::pk(session_id), SK).await? {
        Some(item) => Ok(Some((from_item(&item)?, item.version))),
        None => Ok(None),
    }
}

fn unlink(link: &Link) -> Write {
    Write::Delete { pk: lookup_pk(&link.token_hash), sk: SK.into(), condition: Condition::Always }
}

/// Snapshot keys end in a unique id and `.json`, so the prefix is the key alone.
async fn delete_snapshot(app: &App, link: &Link) -> ApiResult<()> {
    Ok(app.blobs.delete_prefix(&link.key).await?)
}

/// A concurrent change to the same link is a conflict for the caller to retry.
async fn commit(app: &App, writes: Vec<Write>) -> ApiResult<()> {
    app.store.transact(writes).await.map_err(|e| match e {
        StoreError::ConditionFailed => ApiError::Conflict("the share link changed meanwhile; try again"),
        e => e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::repo::sessions::Session;
    use crate::testing;

    #[test]
    fn replacing_revoking_and_deleting_the_session_leave_nothing_behind() {
        let config = Config { public_url: Some("https://chat.example.com".into()), ..Config::default() };
        let t = testing::app().with_config(config).build();
        let app = &t.app;
        let owned = Owned::fresh(app, "Trip");
        let shares = |t: &testing::TestApp| t.store.items().iter().filter(|i| i.sk == SK).count();
        t.run(async {
            sessions::create(app, &owned).await.unwrap();
            let first = create(app, &owned).await.unwrap();
            let second = create(app, &owned).await.unwrap();
            assert!(second.url.ends_with(&second.token) && first.token != second.token);
            assert!(matches!(open(app, &first.token).await, Err(ApiError::NotFound)));
            assert!(open(app, &second.token).await.is_ok());
            assert_eq!(
                (shares(&t), t.blobs.keys().len()),
                (2, 1),
                "one lookup, one session record, one blob"
            );
            assert!(revoke(app, owned.session.id).await.unwrap());
            assert_eq!((shares(&t), t.blobs.keys().len()), (0, 0));
            create(app, &owned).await.unwrap();
            let (owned, version) = sessions::get_owned(app, owned.user_id, owned.session.id).await.unwrap();
            sessions::delete(app, &owned, version).await.unwrap();
        });
        assert_eq!((shares(&t), t.blobs.keys().len()), (0, 0));
        // A share that commits after its session was deleted is refused, leaving nothing.
        let stale = Owned { session: Session { id: app.new_id(), ..owned.session.clone() }, ..owned.clone() };
        assert!(matches!(t.run(create(app, &stale)), Err(ApiError::Conflict(_))));
        assert_eq!((shares(&t), t.blobs.keys().len()), (0, 0));
    }
}
