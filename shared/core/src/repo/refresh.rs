//! Logins (refresh families) and their refresh tokens, stored by the token's hash.
//! Both are listed per user in the secondary index, so deleting an account finds them.

use super::{Progress, all_items, delete_page, from_item, to_data};
use crate::app::App;
use crate::auth::secret_hash;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Condition, Item, Query, SkRange, StoreError, Write};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

const TOKEN_SK: &str = "REFRESH";
const FAMILY_SK: &str = "FAMILY";
const FAMILY_PREFIX: &str = "FAMILY#";

/// A refresh token, known by its hash.
#[derive(Serialize, Deserialize)]
pub struct TokenRecord {
    pub user_id: Id,
    pub family_id: Id,
    pub used: bool,
    /// When the token was rotated, and its successor's hash.
    #[serde(default)]
    pub rotated_at: Option<i64>,
    #[serde(default)]
    pub successor_hash: Option<String>,
}

/// One login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Family {
    pub user_id: Id,
    pub created_at: i64,
    pub revoked: bool,
    /// Hash of the login's CSRF token. Families from before it existed have none and
    /// pass no CSRF check: their cookie writes need a new login.
    #[serde(default)]
    pub csrf_hash: String,
    /// When the login was last refreshed (unix seconds).
    #[serde(default)]
    pub last_used_at: Option<i64>,
    /// The client's address and user agent at the login's start or latest refresh.
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

impl Family {
    /// Whether `presented` is this login's CSRF token.
    pub fn csrf_matches(&self, presented: Option<&str>) -> bool {
        let Some(presented) = presented.filter(|p| !p.is_empty()) else { return false };
        !self.csrf_hash.is_empty()
            && bool::from(self.csrf_hash.as_bytes().ct_eq(secret_hash(presented).as_bytes()))
    }
}

/// A record as read, with what writing it back needs.
pub struct Stored<T> {
    pub record: T,
    pub version: u64,
    pub expires_at: Option<i64>,
}

/// A token to store, and when it expires.
pub struct NewToken<'a> {
    pub token: &'a str,
    pub record: TokenRecord,
    pub expires_at: i64,
}

fn token_pk(token: &str) -> String {
    format!("REFRESH#{}", secret_hash(token))
}

fn family_pk(id: Id) -> String {
    format!("{FAMILY_PREFIX}{id}")
}

fn families_index(user_id: Id) -> String {
    format!("USER#{user_id}#FAMILIES")
}

fn tokens_index(user_id: Id) -> String {
    format!("USER#{user_id}#REFRESH")
}

fn family_item(id: Id, family: &Family, expires_at: Option<i64>) -> Item {
    let mut item = Item::new(family_pk(id), FAMILY_SK, to_data(family))
        .with_gsi1(families_index(family.user_id), id.to_string());
    item.expires_at = expires_at;
    item
}

fn token_item(token: &str, record: &TokenRecord) -> Item {
    Item::new(token_pk(token), TOKEN_SK, to_data(record))
        .with_gsi1(tokens_index(record.user_id), secret_hash(token))
}

fn put_token(new: &NewToken) -> Write {
    let item = token_item(new.token, &new.record).expiring_at(new.expires_at);
    Write::Put { item, condition: Condition::NotExists }
}

fn stored<T: serde::de::DeserializeOwned>(item: Option<Item>) -> ApiResult<Option<Stored<T>>> {
    let Some(item) = item else { return Ok(None) };
    Ok(Some(Stored { record: from_item(&item)?, version: item.version, expires_at: item.expires_at }))
}

/// Starts a login: stores the family (until `family_expires_at`) and its first token
/// in one transaction.
pub async fn create(
    app: &App,
    family_id: Id,
    family: &Family,
    family_expires_at: i64,
    first: &NewToken<'_>,
) -> ApiResult<()> {
    let family = Write::Put {
        item: family_item(family_id, family, Some(family_expires_at)),
        condition: Condition::NotExists,
    };
    app.store.transact(vec![family, put_token(first)]).await?;
    Ok(())
}

pub async fn token(app: &App, token: &str) -> ApiResult<Option<Stored<TokenRecord>>> {
    stored(app.store.get(&token_pk(token), TOKEN_SK).await?)
}

pub async fn family(app: &App, id: Id) -> ApiResult<Option<Stored<Family>>> {
    stored(app.store.get(&family_pk(id), FAMILY_SK).await?)
}

/// Replaces `token` with `used` (if it is still at the version `used` was read at),
/// stores its successor and writes the family back as `family` (its last use), if the
/// family is still at the version it was read at: all in one transaction. `false` when
/// something changed in between.
pub async fn rotate(
    app: &App,
    token: &str,
    used: &Stored<TokenRecord>,
    successor: &NewToken<'_>,
    family: &Stored<Family>,
) -> ApiResult<bool> {
    let mut used_item = token_item(token, &used.record);
    used_item.expires_at = used.expires_at;
    let writes = vec![
        Write::Put { item: used_item, condition: Condition::Version(used.version) },
        put_token(successor),
        Write::Put {
            item: family_item(used.record.family_id, &family.record, family.expires_at),
            condition: Condition::Version(family.version),
        },
    ];
    match app.store.transact(writes).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Writes the family back, keeping its expiry.
pub async fn save_family(app: &App, id: Id, family: &Stored<Family>) -> ApiResult<()> {
    app.store.put(family_item(id, &family.record, family.expires_at), Condition::Always).await?;
    Ok(())
}

/// Every login of `user_id` that has not ended, oldest first, revoked ones included.
pub async fn families(app: &App, user_id: Id) -> ApiResult<Vec<(Id, Family)>> {
    let query = Query::new(families_index(user_id), SkRange::All).on_gsi1();
    let mut out = Vec::new();
    for item in all_items(app, query).await? {
        if let Some(id) = item.pk.strip_prefix(FAMILY_PREFIX).and_then(Id::parse) {
            out.push((id, from_item(&item)?));
        }
    }
    Ok(out)
}

/// Deletes a batch of the user's logins (account deletion).
pub async fn delete_families(app: &App, user_id: Id, cursor: Option<String>) -> ApiResult<Progress> {
    delete_page(app, Query::new(families_index(user_id), SkRange::All).on_gsi1(), cursor).await
}

/// Deletes a batch of the user's refresh tokens (account deletion).
pub async fn delete_tokens(app: &App, user_id: Id, cursor: Option<String>) -> ApiResult<Progress> {
    delete_page(app, Query::new(tokens_index(user_id), SkRange::All).on_gsi1(), cursor).await
}
