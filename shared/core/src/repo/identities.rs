//! Identities from identity providers, `(iss, sub)`, each linked to one user. One item
//! per identity, found by `(iss, sub)` at sign-in, and a copy in the user's partition so
//! everything linked to an account can be found (and deleted) with it.

use super::users::{self, User};
use super::{all_items, from_item, to_data};
use crate::app::App;
use crate::auth::secret_hash;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Condition, Item, Query, SkRange, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

const SK: &str = "IDENTITY";
const USER_SK_PREFIX: &str = "IDENTITY#";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub iss: String,
    pub sub: String,
    pub user_id: Id,
    /// The configured provider it first signed in through.
    pub provider: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `(iss, sub)` as one bounded key part: both are the provider's, of any length.
fn key(iss: &str, sub: &str) -> String {
    secret_hash(&format!("{}:{iss}{sub}", iss.len()))
}

fn pk(iss: &str, sub: &str) -> String {
    format!("IDENTITY#{}", key(iss, sub))
}

/// The identity's two items, each created only if new.
fn create_writes(identity: &Identity) -> [Write; 2] {
    let data = to_data(identity);
    let own = Item::new(pk(&identity.iss, &identity.sub), SK, data.clone());
    let listed = Item::new(
        users::pk(identity.user_id),
        format!("{USER_SK_PREFIX}{}", key(&identity.iss, &identity.sub)),
        data,
    );
    [own, listed].map(|item| Write::Put { item, condition: Condition::NotExists })
}

/// Where the identity `(iss, sub)` is stored, for tests and tools that look at the store.
pub fn item_key(iss: &str, sub: &str) -> (String, &'static str) {
    (pk(iss, sub), SK)
}

pub async fn get(app: &App, iss: &str, sub: &str) -> ApiResult<Option<Identity>> {
    match app.store.get(&pk(iss, sub), SK).await? {
        Some(item) => Ok(Some(from_item(&item)?)),
        None => Ok(None),
    }
}

/// Links `identity` to its user, if the user is still at `user_version` (not disabled
/// or changed meanwhile) and the identity is still new. False when either changed.
pub async fn link(app: &App, user: &User, user_version: u64, identity: &Identity) -> ApiResult<bool> {
    let mut writes = vec![users::save_write(user, user_version)];
    writes.extend(create_writes(identity));
    applied(app.store.transact(writes).await)
}

/// Creates `user` (claiming its email) with `identity` linked, all or nothing. False
/// when the email or the identity was taken meanwhile.
pub async fn create_with_user(app: &App, user: &User, identity: &Identity) -> ApiResult<bool> {
    let mut writes = users::create_writes(user);
    writes.extend(create_writes(identity));
    applied(app.store.transact(writes).await)
}

fn applied(result: Result<(), StoreError>) -> ApiResult<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Every identity linked to `user_id`.
pub async fn list(app: &App, user_id: Id) -> ApiResult<Vec<Identity>> {
    let query = Query::new(users::pk(user_id), SkRange::Prefix(USER_SK_PREFIX.into()));
    all_items(app, query).await?.iter().map(from_item).collect()
}

/// Unlinks every identity of `user_id` (the account is being deleted).
pub async fn delete_all(app: &App, user_id: Id) -> ApiResult<()> {
    for identity in list(app, user_id).await? {
        let (iss, sub) = (&identity.iss, &identity.sub);
        let own = Write::Delete { pk: pk(iss, sub), sk: SK.into(), condition: Condition::Always };
        let listed = Write::Delete {
            pk: users::pk(user_id),
            sk: format!("{USER_SK_PREFIX}{}", key(iss, sub)),
            condition: Condition::Always,
        };
        app.store.transact(vec![own, listed]).await?;
    }
    Ok(())
}
