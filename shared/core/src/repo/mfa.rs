//! A user's TOTP MFA: the sealed secret, whether it is on, the last time step accepted
//! (so no code works twice) and the hashes of the unused recovery codes. One item per
//! user next to the user record, whose `mfa_enabled` flag is written in the same
//! transaction so login reads no extra item for accounts without MFA.

use super::users::{self, pk};
use super::{from_item, to_data};
use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::ports::{Condition, Item, StoreError, Write};
use serde::{Deserialize, Serialize};

const SK: &str = "MFA";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mfa {
    /// The TOTP secret, encrypted (`auth::mfa::seal`).
    pub sealed_secret: String,
    /// False while set up but not yet confirmed with a code.
    pub enabled: bool,
    /// The latest TOTP time step accepted: codes of this step or earlier are refused.
    pub last_step: Option<u64>,
    /// `auth::secret_hash` of each unused recovery code.
    pub recovery_hashes: Vec<String>,
}

fn item(user_id: Id, mfa: &Mfa) -> Item {
    Item::new(pk(user_id), SK, to_data(mfa))
}

/// The user's MFA record and the version to update it against.
pub async fn get(app: &App, user_id: Id) -> ApiResult<Option<(Mfa, u64)>> {
    match app.store.get(&pk(user_id), SK).await? {
        Some(item) => Ok(Some((from_item(&item)?, item.version))),
        None => Ok(None),
    }
}

/// Writes `mfa` if the record is still at `version` (`None`: if there is none).
/// A lost race is a conflict the caller maps to its own answer.
pub async fn save(app: &App, user_id: Id, mfa: &Mfa, version: Option<u64>) -> ApiResult<()> {
    app.store.put(item(user_id, mfa), expect(version)).await?;
    Ok(())
}

/// Turns MFA on or off: the record (written, or deleted when `mfa` is `None`) and the
/// user's flag change together or not at all.
pub async fn set_enabled(
    app: &App,
    user: &users::User,
    user_version: u64,
    mfa: Option<&Mfa>,
    mfa_version: u64,
) -> ApiResult<()> {
    let record = match mfa {
        Some(mfa) => Write::Put { item: item(user.id, mfa), condition: Condition::Version(mfa_version) },
        None => Write::Delete { pk: pk(user.id), sk: SK.into(), condition: Condition::Version(mfa_version) },
    };
    let flagged = users::User { mfa_enabled: mfa.is_some(), ..user.clone() };
    match app.store.transact(vec![record, users::save_write(&flagged, user_version)]).await {
        Err(StoreError::ConditionFailed) => Err(ApiError::Conflict("MFA was changed concurrently; retry")),
        other => Ok(other?),
    }
}

fn expect(version: Option<u64>) -> Condition {
    version.map_or(Condition::NotExists, Condition::Version)
}
