//! The writes of a chat turn: starting one saves the session, both messages and the
//! reply's lease at once; ending one saves the reply and gives its lease up.

use super::leases;
use super::sessions::{Message, Owned};
use crate::app::App;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Condition, StoreError, Write};

/// Starts a turn: the session (if still at `version`, so that racing turns cannot
/// both move its current branch), the user's message (none when regenerating), the
/// `streaming` reply and the reply's lease, in one transaction.
pub async fn start(
    app: &App,
    owned: &Owned,
    version: u64,
    user_message: Option<&Message>,
    reply: &Message,
) -> ApiResult<()> {
    let (owner, session_id) = (owned.user_id, owned.session.id);
    let mut writes = vec![Write::Put { item: owned.item(), condition: Condition::Version(version) }];
    if let Some(asked) = user_message {
        writes.push(asked.write(app, owner, session_id, Condition::NotExists).await?);
    }
    writes.push(reply.write(app, owner, session_id, Condition::NotExists).await?);
    writes.push(leases::grant(app, session_id, reply.id));
    app.store.transact(writes).await?;
    Ok(())
}

/// Saves the reply as it ended and gives its lease up, in one transaction.
pub async fn finish(app: &App, owner: Id, session_id: Id, reply: &Message) -> ApiResult<()> {
    let write = reply.write(app, owner, session_id, Condition::Exists).await?;
    app.store.transact(vec![write, leases::release(session_id, reply.id)]).await?;
    Ok(())
}

/// Saves a reply ended by someone other than its producer, unless the reply changed
/// since it was read at `version` or its lease since it was read at `lease_version`
/// (`None`: there was none). Returns whether it was saved.
pub async fn end_abandoned(
    app: &App,
    owner: Id,
    session_id: Id,
    reply: &Message,
    version: u64,
    lease_version: Option<u64>,
) -> ApiResult<bool> {
    let write = reply.write(app, owner, session_id, Condition::Version(version)).await?;
    let lease = leases::release_unchanged(session_id, reply.id, lease_version);
    match app.store.transact(vec![write, lease]).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
