use super::{Middleware, Next};
use crate::app::App;
use crate::error::ApiError;
use crate::http::{
    BodiesFull, BodyTimedOut, BodyTooLarge, Request, Response, body_limit, error_response, header_str,
    is_attachments_path,
};
use http::header;
use std::sync::Arc;

/// Rejects oversize bodies (413), bodies that are not JSON (415), bodies sent too
/// slowly (408) and bodies the entry point had no room to read (503) before any work.
/// Attachment uploads may be larger and of other types (their handler checks the type).
pub struct BodyLimit;

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for BodyLimit {
    async fn handle(&self, app: &Arc<App>, req: Request, next: Next<'_>) -> Response {
        let upload = is_attachments_path(req.uri().path());
        let max = body_limit(&app.config, req.method(), req.uri().path());
        if req.extensions().get::<BodyTimedOut>().is_some() {
            return error_response(&ApiError::BodyTimedOut);
        }
        if req.extensions().get::<BodiesFull>().is_some() {
            return error_response(&ApiError::Unavailable("request bodies in memory at their limit".into()));
        }
        if req.extensions().get::<BodyTooLarge>().is_some() || req.body().len() > max {
            return error_response(&ApiError::PayloadTooLarge(max));
        }
        let json = header_str(&req, header::CONTENT_TYPE).is_some_and(is_json);
        if !upload && !req.body().is_empty() && !json {
            return error_response(&ApiError::UnsupportedMediaType);
        }
        next.run(app, req).await
    }
}
