//! Refresh tokens: opaque, stored only as hashes, rotated on every use. Tokens from one
//! login form a family; presenting a token that was already rotated means it leaked,
//! so the whole family is revoked (OAuth 2.0 Security BCP, refresh token rotation).

use super::secret_hash;
use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, Query, SkRange, Write};
use crate::repo::{all_items, from_item, to_data};
use serde::{Deserialize, Serialize};

const TOKEN_SK: &str = "REFRESH";
const FAMILY_SK: &str = "FAMILY";

#[derive(Serialize, Deserialize)]
struct TokenRecord {
    user_id: Id,
    family_id: Id,
    used: bool,
}

#[derive(Serialize, Deserialize)]
struct FamilyRecord {
    user_id: Id,
    created_at: i64,
    revoked: bool,
}

/// A new refresh token and how long its cookie should live.
pub struct Issued {
    pub token: String,
    pub max_age: i64,
}

pub enum Outcome {
    Rotated {
        user_id: Id,
        issued: Issued,
    },
    /// A rotated token came back: its family is now revoked.
    Reused {
        user_id: Id,
    },
}

fn token_pk(token: &str) -> String {
    format!("REFRESH#{}", secret_hash(token))
}

fn family_pk(id: Id) -> String {
    format!("FAMILY#{id}")
}

fn families_index(user_id: Id) -> String {
    format!("USER#{user_id}#FAMILIES")
}

fn family_item(id: Id, family: &FamilyRecord, absolute: i64) -> Item {
    Item::new(family_pk(id), FAMILY_SK, to_data(family))
        .with_gsi1(families_index(family.user_id), id.to_string())
        .expiring_at(family.created_at + absolute)
}

/// A token item that lives for the idle period, but never past the family's end.
fn new_token(app: &App, family_id: Id, family: &FamilyRecord) -> (Issued, Write) {
    let token = app.random_token();
    let now = app.clock.now_unix();
    let expires =
        (now + app.config.refresh_idle_seconds).min(family.created_at + app.config.refresh_absolute_seconds);
    let record = TokenRecord { user_id: family.user_id, family_id, used: false };
    let item = Item::new(token_pk(&token), TOKEN_SK, to_data(&record)).expiring_at(expires);
    (Issued { token, max_age: expires - now }, Write::Put { item, condition: Condition::NotExists })
}

/// Starts a family at login and returns its first token.
pub async fn start_family(app: &App, user_id: Id) -> ApiResult<Issued> {
    let family_id = app.new_id();
    let family = FamilyRecord { user_id, created_at: app.clock.now_unix(), revoked: false };
    let (issued, token_write) = new_token(app, family_id, &family);
    let family_write = Write::Put {
        item: family_item(family_id, &family, app.config.refresh_absolute_seconds),
        condition: Condition::NotExists,
    };
    app.store.transact(vec![family_write, token_write]).await?;
    Ok(issued)
}

/// Exchanges `token` for a new one. Unknown, expired or revoked tokens are 401.
pub async fn rotate(app: &App, token: &str) -> ApiResult<Outcome> {
    let item = app.store.get(&token_pk(token), TOKEN_SK).await?.ok_or(ApiError::Unauthorized)?;
    let record: TokenRecord = from_item(&item)?;
    let family_item_now =
        app.store.get(&family_pk(record.family_id), FAMILY_SK).await?.ok_or(ApiError::Unauthorized)?;
    let family: FamilyRecord = from_item(&family_item_now)?;
    if family.revoked {
        return Err(ApiError::Unauthorized);
    }
    if record.used {
        revoke_family(app, record.family_id).await?;
        return Ok(Outcome::Reused { user_id: record.user_id });
    }
    let used = TokenRecord { used: true, ..record };
    let mut used_item = Item::new(item.pk.clone(), TOKEN_SK, to_data(&used));
    used_item.expires_at = item.expires_at;
    let (issued, new_write) = new_token(app, used.family_id, &family);
    let writes = vec![
        Write::Put { item: used_item, condition: Condition::Version(item.version) },
        new_write,
        Write::Check {
            pk: family_item_now.pk,
            sk: FAMILY_SK.into(),
            condition: Condition::Version(family_item_now.version),
        },
    ];
    // A lost race means another request rotated this token first: it wins, this one is refused.
    app.store.transact(writes).await.map_err(|_| ApiError::Unauthorized)?;
    Ok(Outcome::Rotated { user_id: used.user_id, issued })
}

async fn revoke_family(app: &App, family_id: Id) -> ApiResult<()> {
    let Some(item) = app.store.get(&family_pk(family_id), FAMILY_SK).await? else { return Ok(()) };
    let mut family: FamilyRecord = from_item(&item)?;
    family.revoked = true;
    let mut revoked = family_item(family_id, &family, app.config.refresh_absolute_seconds);
    revoked.expires_at = item.expires_at;
    app.store.put(revoked, Condition::Always).await?;
    Ok(())
}

/// Revokes the family `token` belongs to (logout). Unknown tokens are ignored.
pub async fn revoke_for_token(app: &App, token: &str) -> ApiResult<()> {
    match app.store.get(&token_pk(token), TOKEN_SK).await? {
        Some(item) => revoke_family(app, from_item::<TokenRecord>(&item)?.family_id).await,
        None => Ok(()),
    }
}

/// Revokes every family of `user_id` (account disabled).
pub async fn revoke_all(app: &App, user_id: Id) -> ApiResult<()> {
    let query = Query::new(families_index(user_id), SkRange::All).on_gsi1();
    for item in all_items(app, query).await? {
        if let Some(id) = item.pk.strip_prefix("FAMILY#").and_then(Id::parse) {
            revoke_family(app, id).await?;
        }
    }
    Ok(())
}
