use super::{Middleware, Next};
use crate::app::App;
use crate::http::{Body, Request, Response};
use http::{HeaderValue, Method, header};
use std::sync::Arc;

/// HEAD is GET without the body: the request goes on as a GET, and the answer keeps
/// its headers (with the length the body would have had) but not the body.
pub struct Head;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for Head {
    async fn handle(&self, app: &Arc<App>, mut req: Request, next: Next<'_>) -> Response {
        if req.method() != Method::HEAD {
            return next.run(app, req).await;
        }
        *req.method_mut() = Method::GET;
        without_body(next.run(app, req).await)
    }
}

/// The answer without its body, keeping the length the body had.
pub fn without_body(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    if let Body::Full(bytes) = &body {
        parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    }
    Response::from_parts(parts, Body::empty())
}
