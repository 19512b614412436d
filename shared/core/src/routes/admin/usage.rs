use crate::app::App;
use crate::chat::quota::{self, UsageRow};
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, parse_query};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;
use utoipa::{IntoParams, ToSchema};

/// Longest range one report may cover, in days.
const MAX_DAYS: i64 = 92;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// First day, `YYYY-MM-DD` (UTC); default: 30 days before `to`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, inclusive; default: today.
    #[param(format = Date)]
    pub to: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    pub items: Vec<UsageRow>,
}

fn date(name: &str, raw: &str) -> ApiResult<Date> {
    Date::parse(raw, format_description!("[year]-[month]-[day]"))
        .map_err(|_| ApiError::InvalidRequest(format!("{name} must be a date like 2026-01-31")))
}

/// Requests and tokens per user, model and day.
#[utoipa::path(get, path = "/admin/usage", tag = "admin", operation_id = "admin_usage",
    security(("bearer" = [])), params(UsageQuery),
    responses((status = 200, body = UsageReport), (status = 400, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let q: UsageQuery = parse_query(&req)?;
    let to = q.to.as_deref().map(|t| date("to", t)).transpose()?.unwrap_or(app.now().date());
    let from =
        q.from.as_deref().map(|f| date("from", f)).transpose()?.unwrap_or(to - time::Duration::days(30));
    let days = (to - from).whole_days();
    if !(0..=MAX_DAYS).contains(&days) {
        return Err(ApiError::InvalidRequest(format!(
            "from must not be after to, and at most {MAX_DAYS} days before it"
        )));
    }
    let user_id = q
        .user_id
        .as_deref()
        .map(|u| Id::parse(u).ok_or_else(|| ApiError::InvalidRequest("user_id must be a user id".into())))
        .transpose()?;
    let items = quota::report(app, from, to, user_id).await?;
    Ok(json(StatusCode::OK, &UsageReport { items }))
}
