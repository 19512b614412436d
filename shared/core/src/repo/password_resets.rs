//! Password reset links: a one-time token an admin hands out, stored only as its hash,
//! with a pointer beside the user record so a newer link replaces the older one.

use super::users::{self, User, pk};
use super::{Progress, from_item, to_data};
use crate::app::App;
use crate::auth::secret_hash;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;

const SK: &str = "PWRESET";

/// What a link's token stands for.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reset {
    pub user_id: Id,
    /// Unix seconds; judged by the clock port, not the store's expiry.
    pub expires_at: i64,
}

fn token_pk(hash: &str) -> String {
    format!("PWRESET#{hash}")
}

/// Stores a link for `token`, replacing the user's older link in the same transaction.
pub async fn create(app: &App, token: &str, reset: &Reset) -> ApiResult<()> {
    let hash = secret_hash(token);
    let previous = app.store.get(&pk(reset.user_id), SK).await?;
    let link = Item::new(token_pk(&hash), SK, to_data(reset)).expiring_at(reset.expires_at);
    let pointer = Item::new(pk(reset.user_id), SK, to_data(&json!({ "token_hash": hash })));
    let mut writes = vec![
        Write::Put { item: link, condition: Condition::NotExists },
        Write::Put {
            item: pointer,
            condition: previous.as_ref().map_or(Condition::NotExists, |p| Condition::Version(p.version)),
        },
    ];
    if let Some(old) = previous.as_ref().and_then(|p| p.str("token_hash")) {
        writes.push(Write::Delete { pk: token_pk(old), sk: SK.into(), condition: Condition::Always });
    }
    match app.store.transact(writes).await {
        Err(StoreError::ConditionFailed) => {
            Err(ApiError::Conflict("another reset link was made at once; retry"))
        }
        other => Ok(other?),
    }
}

/// The link of `token` and its version, if it is stored.
pub async fn find(app: &App, token: &str) -> ApiResult<Option<(Reset, u64)>> {
    match app.store.get(&token_pk(&secret_hash(token)), SK).await? {
        Some(item) => Ok(Some((from_item(&item)?, item.version))),
        None => Ok(None),
    }
}

/// Uses the link up and saves `user` (its new password) in one transaction, so a link
/// sets a password once. `InvalidResetToken` if it was used in between.
pub async fn redeem(app: &App, token: &str, version: u64, user: &User, user_version: u64) -> ApiResult<()> {
    let writes = vec![
        Write::Delete {
            pk: token_pk(&secret_hash(token)),
            sk: SK.into(),
            condition: Condition::Version(version),
        },
        Write::Delete { pk: pk(user.id), sk: SK.into(), condition: Condition::Always },
        users::save_write(user, user_version),
    ];
    match app.store.transact(writes).await {
        Err(StoreError::ConditionFailed) => Err(ApiError::InvalidResetToken),
        other => Ok(other?),
    }
}

/// Deletes the user's link, if any (account deletion).
pub async fn delete_of_user(app: &App, user_id: Id) -> ApiResult<Progress> {
    let Some(pointer) = app.store.get(&pk(user_id), SK).await? else { return Ok(Progress::Done) };
    let mut writes = vec![Write::Delete { pk: pk(user_id), sk: SK.into(), condition: Condition::Always }];
    if let Some(hash) = pointer.str("token_hash") {
        writes.push(Write::Delete { pk: token_pk(hash), sk: SK.into(), condition: Condition::Always });
    }
    app.store.transact(writes).await?;
    Ok(Progress::Done)
}
