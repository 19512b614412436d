use super::{Middleware, Next};
use crate::app::App;
use crate::http::{Body, ErrorDetail, Request, Response};
use crate::routes::chat::messages_wire::{AnthropicError, ErrorEnvelope, is_messages_path};
use bytes::Bytes;
use std::sync::Arc;

/// Errors on Anthropic's Messages API in Anthropic's shape, whichever layer refused
/// (authentication, limits, the handler): `{"type": "error", "error": {type, message}}`.
pub struct AnthropicErrors;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for AnthropicErrors {
    async fn handle(&self, app: &Arc<App>, req: Request, next: Next<'_>) -> Response {
        let anthropic = is_messages_path(req.uri().path());
        let resp = next.run(app, req).await;
        match resp.extensions().get::<ErrorDetail>().cloned() {
            Some(detail) if anthropic => {
                let (parts, _) = resp.into_parts();
                let envelope = ErrorEnvelope::new(AnthropicError::new(parts.status, detail));
                let body = serde_json::to_vec(&envelope).unwrap_or_default();
                Response::from_parts(parts, Body::Full(Bytes::from(body)))
            }
            _ => resp,
        }
    }
}
