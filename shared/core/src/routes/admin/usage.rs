use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, json, parse_query};
use crate::repo::usage::{self, UsageRow};
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

/// The report's first and last day: `to` defaults to today, `from` to 30 days before it.
fn range(from: Option<&str>, to: Option<&str>, today: Date) -> ApiResult<(Date, Date)> {
    let to = to.map(|t| date("to", t)).transpose()?.unwrap_or(today);
    let from = match from {
        Some(f) => date("from", f)?,
        // Checked: `to` is the client's and may be the first representable day.
        None => to.checked_sub(time::Duration::days(30)).unwrap_or(to),
    };
    let days = (to - from).whole_days();
    if !(0..=MAX_DAYS).contains(&days) {
        return Err(ApiError::InvalidRequest(format!(
            "from must not be after to, and at most {MAX_DAYS} days before it"
        )));
    }
    Ok((from, to))
}

/// Requests and tokens per user, model and day.
#[utoipa::path(get, path = "/admin/usage", tag = "admin", operation_id = "admin_usage",
    security(("bearer" = [])), params(UsageQuery),
    responses((status = 200, body = UsageReport), (status = 400, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let q: UsageQuery = parse_query(&req)?;
    let (from, to) = range(q.from.as_deref(), q.to.as_deref(), app.now().date())?;
    let user_id = q
        .user_id
        .as_deref()
        .map(|u| Id::parse(u).ok_or_else(|| ApiError::InvalidRequest("user_id must be a user id".into())))
        .transpose()?;
    let items = usage::report(app, from, to, user_id).await?;
    Ok(json(StatusCode::OK, &UsageReport { items }))
}

#[cfg(test)]
mod tests {
    use super::range;
    use time::macros::date;

    #[test]
    fn ranges_at_the_ends_of_the_calendar_do_not_overflow() {
        let today = date!(2026 - 03 - 01);
        assert_eq!(range(None, None, today).unwrap(), (date!(2026 - 01 - 30), today));
        assert!(range(None, Some("-9999-01-01"), today).is_ok());
        assert!(range(Some("-9999-01-01"), Some("9999-12-31"), today).is_err());
        assert!(range(Some("2026-01-02"), Some("2026-01-01"), today).is_err());
    }
}
