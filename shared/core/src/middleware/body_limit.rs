use super::{Middleware, Next};
use crate::app::App;
use crate::error::ApiError;
use crate::http::{
    BodyNotRead, Request, Response, body_limit, error_response, header_str, is_attachments_path,
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
        let refused = match req.extensions().get::<BodyNotRead>() {
            Some(BodyNotRead::TimedOut) => Some(ApiError::BodyTimedOut),
            Some(BodyNotRead::NoRoom) => {
                Some(ApiError::Unavailable("request bodies in memory at their limit".into()))
            }
            Some(BodyNotRead::TooLarge) => Some(ApiError::PayloadTooLarge(max)),
            None => (req.body().len() > max).then_some(ApiError::PayloadTooLarge(max)),
        };
        if let Some(e) = refused {
            return error_response(&e);
        }
        let json = header_str(&req, header::CONTENT_TYPE).is_some_and(is_json);
        if !upload && !req.body().is_empty() && !json {
            return error_response(&ApiError::UnsupportedMediaType);
        }
        next.run(app, req).await
    }
}
