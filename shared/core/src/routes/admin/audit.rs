use crate::app::App;
use crate::domain::Id;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::PageRequest;
use crate::http::{Request, Response, json, parse_query};
use crate::repo::Listing;
use crate::repo::audit::{self, AuditEntry, AuditFilter};
use http::StatusCode;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events about this user.
    pub user_id: Option<String>,
    /// Only this action, e.g. `auth.login_failed`.
    pub action: Option<String>,
    /// RFC 3339; inclusive.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339; inclusive.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// 1 to 100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

fn instant(name: &str, raw: Option<&str>) -> ApiResult<Option<OffsetDateTime>> {
    raw.map(|r| {
        OffsetDateTime::parse(r, &Rfc3339)
            .map_err(|_| ApiError::InvalidRequest(format!("{name} must be an RFC 3339 date-time")))
    })
    .transpose()
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", operation_id = "admin_audit",
    security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Listing<AuditEntry>), (status = 400, body = crate::http::ErrorBody),
        (status = 403, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let q: AuditQuery = parse_query(&req)?;
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor)?;
    let user_id = q
        .user_id
        .as_deref()
        .map(|u| Id::parse(u).ok_or_else(|| ApiError::InvalidRequest("user_id must be a user id".into())))
        .transpose()?;
    let filter = AuditFilter {
        user_id,
        action: q.action.filter(|a| !a.is_empty()),
        from: instant("from", q.from.as_deref())?,
        to: instant("to", q.to.as_deref())?,
    };
    let (items, next_cursor) = audit::list(app, filter, page.limit, page.cursor).await?;
    Ok(json(StatusCode::OK, &Listing { items, next_cursor }))
}
