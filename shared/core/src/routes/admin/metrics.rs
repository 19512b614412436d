use crate::app::App;
use crate::error::ApiResult;
use crate::http::{Body, Response};
use crate::metrics::exposition;
use http::{HeaderValue, StatusCode, header};

/// Prometheus's text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// This instance's metrics in Prometheus's text format. On Lambda and Workers each
/// instance counts only what it served: there the EMF / JSON log lines are the truth.
#[utoipa::path(get, path = "/admin/metrics", tag = "admin", operation_id = "admin_metrics",
    security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8")))]
pub async fn handle(app: &App) -> ApiResult<Response> {
    Ok(text(exposition(app)))
}

/// A scrape's answer.
pub fn text(body: String) -> Response {
    let mut resp = Response::new(Body::Full(body.into()));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}
