//! The scheduled sweep every runtime runs about once a minute: it ends replies whose
//! producer died (`chat::lease::sweep`) and carries on account deletions that a
//! request left unfinished (`accounts::sweep`).

use crate::app::App;
use crate::error::ApiResult;
use crate::{accounts, chat};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Swept {
    /// Expired stream leases found.
    pub expired: usize,
    /// Account deletions finished.
    pub accounts_deleted: usize,
}

/// Runs both sweeps, the second even if the first fails, and fails if either did.
pub async fn run(app: &App) -> ApiResult<Swept> {
    let expired = chat::lease::sweep(app).await;
    let accounts_deleted = accounts::sweep(app).await;
    Ok(Swept { expired: expired?, accounts_deleted: accounts_deleted? })
}
