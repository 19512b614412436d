//! Accounts being deleted: one marker per account, listed in one partition so the
//! sweep finds them, holding how far the deletion got. The marker is written with the
//! user record's `deleting` flag in one transaction, and removed with the user record
//! and the email claim in the last one.

use super::users::{self, User};
use super::{from_item, to_data};
use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange, StoreError, Write};
use serde::{Deserialize, Serialize};

const PK: &str = "DELETIONS";

/// How far an account's deletion got: the step it is at, and where in that step.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Pending {
    pub step: usize,
    pub cursor: Option<String>,
}

fn item(user_id: Id, pending: &Pending) -> Item {
    Item::new(PK, user_id.to_string(), to_data(pending))
}

/// Marks `user` (read at `version`) as being deleted and queues the deletion, in one
/// conditional transaction: from then on the account is unusable.
pub async fn start(app: &App, user: &User, version: u64) -> ApiResult<()> {
    let marked = User { deleting: true, ..user.clone() };
    let writes = vec![
        users::save_write(&marked, version),
        Write::Put { item: item(user.id, &Pending::default()), condition: Condition::NotExists },
    ];
    match app.store.transact(writes).await {
        Err(StoreError::ConditionFailed) => Err(ApiError::Conflict("the account changed meanwhile; retry")),
        other => Ok(other?),
    }
}

pub async fn get(app: &App, user_id: Id) -> ApiResult<Option<(Pending, u64)>> {
    match app.store.get(PK, &user_id.to_string()).await? {
        Some(item) => Ok(Some((from_item(&item)?, item.version))),
        None => Ok(None),
    }
}

/// Saves progress if nobody else did since `version`; the new version, or `None` when
/// another run is at work on the same account.
pub async fn save(app: &App, user_id: Id, pending: &Pending, version: u64) -> ApiResult<Option<u64>> {
    match app.store.put(item(user_id, pending), Condition::Version(version)).await {
        Ok(version) => Ok(Some(version)),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Up to `limit` accounts waiting to be deleted.
pub async fn pending(app: &App, limit: u32) -> ApiResult<Vec<Id>> {
    let page = app.store.query(Query::new(PK, SkRange::All).limit(limit)).await?;
    Ok(page.items.iter().filter_map(|item| Id::parse(&item.sk)).collect())
}

/// Ends a deletion: the user record, the email claim and the marker (if still at
/// `version`) go together. `user` is `None` when the record is already gone.
pub async fn finish(app: &App, user_id: Id, user: Option<&User>, version: u64) -> ApiResult<()> {
    let mut writes = vec![Write::Delete {
        pk: PK.into(),
        sk: user_id.to_string(),
        condition: Condition::Version(version),
    }];
    writes.extend(user.into_iter().flat_map(users::forget_writes));
    match app.store.transact(writes).await {
        Err(StoreError::ConditionFailed) => Ok(()),
        other => Ok(other?),
    }
}
