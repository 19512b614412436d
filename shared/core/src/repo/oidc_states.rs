//! Identity-provider sign-ins in progress, keyed by the hash of their `state`, expiring
//! with the attempt and taken at most once.

use super::{from_item, to_data};
use crate::app::App;
use crate::auth::secret_hash;
use crate::error::ApiResult;
use crate::ports::{Condition, Item, StoreError};
use serde::{Deserialize, Serialize};

const SK: &str = "OIDC_STATE";

/// What the callback needs to finish a sign-in. Never leaves the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub provider: String,
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    pub return_to: String,
}

fn pk(state: &str) -> String {
    format!("OIDC_STATE#{}", secret_hash(state))
}

pub async fn save(app: &App, state: &str, pending: &PendingSignIn, expires_at: i64) -> ApiResult<()> {
    let item = Item::new(pk(state), SK, to_data(pending)).expiring_at(expires_at);
    app.store.put(item, Condition::NotExists).await?;
    Ok(())
}

/// The attempt `state` names, deleted as it is read: of two callbacks with the same
/// state, at most one gets it.
pub async fn take(app: &App, state: &str) -> ApiResult<Option<PendingSignIn>> {
    let Some(item) = app.store.get(&pk(state), SK).await? else { return Ok(None) };
    match app.store.delete(&item.pk, SK, Condition::Version(item.version)).await {
        Ok(()) => Ok(Some(from_item(&item)?)),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
