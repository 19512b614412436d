use super::{Middleware, Next};
use crate::app::App;
use crate::http::{REQUEST_ID_HEADER as HEADER, Request, RequestId, Response, request_id_is_well_formed};
use http::HeaderValue;
use std::sync::Arc;
use tracing::Instrument;

/// Gives every request an id (the caller's, when well-formed) and a tracing span, and
/// logs one line when it completes.
pub struct RequestIdLayer;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for RequestIdLayer {
    async fn handle(&self, app: &Arc<App>, mut req: Request, next: Next<'_>) -> Response {
        let id = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| request_id_is_well_formed(v))
            .map(String::from)
            .unwrap_or_else(|| app.new_id().to_string());
        req.extensions_mut().insert(RequestId(id.clone()));
        let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
        let started = app.clock.now();
        let mut resp = next.run(app, req).instrument(span.clone()).await;
        let elapsed_ms = (app.clock.now() - started).as_seconds_f64() * 1000.0;
        span.in_scope(|| tracing::info!(status = resp.status().as_u16(), elapsed_ms, "request completed"));
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(HEADER, v);
        }
        resp
    }
}
