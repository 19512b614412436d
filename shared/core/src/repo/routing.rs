//! The model routing configuration: one item, seeded from the settings on first read.

use super::{from_item, to_data};
use crate::app::App;
use crate::chat::models::ModelConfig;
use crate::error::ApiResult;
use crate::ports::{Condition, Item, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const PK: &str = "CONFIG";
const SK: &str = "MODELS";
/// Routing is read on every chat turn, so each instance keeps it this long: an admin's
/// edit reaches every instance within it.
pub const CACHE_SECONDS: i64 = 10;

/// The stored configuration and where it came from: settings-seeded routing follows
/// the settings when they change, until an admin edits it.
#[derive(Serialize, Deserialize)]
struct Stored {
    edited_by_admin: bool,
    #[serde(flatten)]
    config: ModelConfig,
}

/// The current configuration: cached, else stored, else seeded (and stored).
pub async fn load(app: &App) -> ApiResult<Arc<ModelConfig>> {
    let now = app.clock.now_unix();
    if let Some(c) = app.models.get("", now, CACHE_SECONDS) {
        return Ok(c);
    }
    let seed = &app.config.seed_models;
    let config = match app.store.get(PK, SK).await? {
        Some(item) => {
            let stored: Stored = from_item(&item)?;
            if stored.edited_by_admin || stored.config == *seed {
                stored.config
            } else {
                write(app, seed.clone(), false, Condition::Version(item.version)).await?;
                seed.clone()
            }
        }
        None => {
            write(app, seed.clone(), false, Condition::NotExists).await?;
            seed.clone()
        }
    };
    Ok(app.models.put("", config, now))
}

/// Stores `config`. Losing a race to another instance seeding the same settings is
/// fine: both write the same thing.
async fn write(app: &App, config: ModelConfig, edited_by_admin: bool, condition: Condition) -> ApiResult<()> {
    let item = Item::new(PK, SK, to_data(&Stored { edited_by_admin, config }));
    match app.store.put(item, condition).await {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Stores an admin's configuration, after checking it.
pub async fn save(app: &App, config: ModelConfig) -> ApiResult<()> {
    config.validate()?;
    let item = Item::new(PK, SK, to_data(&Stored { edited_by_admin: true, config: config.clone() }));
    app.store.put(item, Condition::Always).await?;
    app.models.put("", config, app.clock.now_unix());
    Ok(())
}
