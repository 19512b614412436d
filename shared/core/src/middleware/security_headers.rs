use super::{Middleware, Next};
use crate::app::App;
use crate::http::{Request, Response};
use http::{HeaderMap, HeaderValue, header};
use std::sync::Arc;

/// Headers every API response carries: the API serves JSON and event streams only, so
/// nothing may be framed, sniffed or loaded from it; and nothing may be cached unless
/// its handler said so (the public JWKS, OpenAPI document and health checks do), since
/// most answers are someone's private data.
pub struct SecurityHeaders;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for SecurityHeaders {
    async fn handle(&self, app: &Arc<App>, req: Request, next: Next<'_>) -> Response {
        let mut resp = next.run(app, req).await;
        apply(resp.headers_mut());
        resp
    }
}

/// Puts the security headers on `h`, and `Cache-Control: no-store` where none is set.
pub fn apply(h: &mut HeaderMap) {
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}
