//! The audit log: auth events and admin actions. Handlers attach [`AuditEvent`]s to
//! their responses; the audit middleware stores them with the request's context.

use super::{collect_filtered, from_item, to_data};
use crate::app::App;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::ports::{Condition, Item, Query, SkRange, Write};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;

const PK: &str = "AUDIT";

/// What happened, before the middleware adds who, where and when.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: &'static str,
    /// The user the event is about.
    pub user_id: Option<Id>,
    /// The user who caused it, when known.
    pub actor_id: Option<Id>,
    pub detail: Value,
}

impl AuditEvent {
    /// Something a user did to their own account: they are both its subject and actor.
    pub fn by_user(user_id: Id, action: &'static str, detail: Value) -> Self {
        AuditEvent { action, user_id: Some(user_id), actor_id: Some(user_id), detail }
    }
}

/// Events a handler attaches to its response (as an extension).
#[derive(Debug, Clone, Default)]
pub struct AuditEvents(pub Vec<AuditEvent>);

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    #[schema(value_type = String)]
    pub id: Id,
    pub action: String,
    #[schema(value_type = Option<String>)]
    pub user_id: Option<Id>,
    #[schema(value_type = Option<String>)]
    pub actor_id: Option<Id>,
    pub ip: String,
    pub request_id: String,
    /// The W3C trace id of the request, to find its logs and provider calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    pub detail: Value,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

fn user_index(user_id: Id) -> String {
    format!("AUDIT#USER#{user_id}")
}

/// Where the events' request came from.
pub struct Context {
    pub ip: String,
    pub request_id: String,
    pub trace_id: Option<String>,
}

/// Stores `events` in one transaction.
pub async fn record(app: &App, events: Vec<AuditEvent>, context: Context) -> ApiResult<()> {
    let writes = events
        .into_iter()
        .map(|e| {
            let entry = AuditEntry {
                id: app.new_id(),
                action: e.action.to_string(),
                user_id: e.user_id,
                actor_id: e.actor_id,
                ip: context.ip.clone(),
                request_id: context.request_id.clone(),
                trace_id: context.trace_id.clone(),
                detail: e.detail,
                created_at: app.now(),
            };
            let mut item = Item::new(PK, entry.id.to_string(), to_data(&entry));
            if let Some(user) = entry.user_id {
                item = item.with_gsi1(user_index(user), entry.id.to_string());
            }
            Write::Put { item, condition: Condition::NotExists }
        })
        .collect();
    app.store.transact(writes).await?;
    Ok(())
}

pub struct AuditFilter {
    pub user_id: Option<Id>,
    pub action: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

/// Entries newest first. Ids are time-ordered, so the time range is a key range.
pub async fn list(
    app: &App,
    filter: AuditFilter,
    limit: u32,
    cursor: Option<String>,
) -> ApiResult<(Vec<AuditEntry>, Option<String>)> {
    let ms = |t: OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    let low = filter.from.map(|t| Id::lowest_at(ms(t)).to_string()).unwrap_or_default();
    let high = filter.to.map(|t| Id::highest_at(ms(t)).to_string()).unwrap_or_else(|| "~".into());
    let range = SkRange::Between(low, high);
    let query = match filter.user_id {
        Some(user) => Query::new(user_index(user), range).on_gsi1(),
        None => Query::new(PK, range),
    }
    .backward();
    let action = filter.action;
    collect_filtered(app, query, limit, cursor, |item| {
        let entry: AuditEntry = from_item(item)?;
        Ok(action.as_deref().is_none_or(|a| a == entry.action).then_some(entry))
    })
    .await
}
