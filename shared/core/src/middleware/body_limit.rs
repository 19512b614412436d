use super::{Middleware, Next};
use crate::app::App;
use crate::error::ApiError;
use crate::http::{BodyTooLarge, Request, Response, error_response, header_str};
use http::header;
use std::sync::Arc;

/// Rejects oversize bodies (413) and bodies that are not JSON (415) before any work.
pub struct BodyLimit;

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for BodyLimit {
    async fn handle(&self, app: &Arc<App>, req: Request, next: Next<'_>) -> Response {
        let max = app.config.max_body_bytes;
        if req.extensions().get::<BodyTooLarge>().is_some() || req.body().len() > max {
            return error_response(&ApiError::PayloadTooLarge(max));
        }
        if !req.body().is_empty() && !header_str(&req, header::CONTENT_TYPE).is_some_and(is_json) {
            return error_response(&ApiError::UnsupportedMediaType);
        }
        next.run(app, req).await
    }
}
