use super::{Middleware, Next};
use crate::app::App;
use crate::http::{REQUEST_ID_HEADER as HEADER, Request, RequestId, Response, request_id_is_well_formed};
use crate::trace::{self, AmznTraceId, TRACE_ID_HEADER, TRACEPARENT, TraceContext};
use http::HeaderValue;
use std::sync::Arc;
use tracing::Instrument;

/// Gives every request an id (the caller's, when well-formed), a trace (see
/// [`trace_of`]) and a tracing span carrying both, and logs one line when it completes.
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
        let trace = trace_of(app, &req);
        req.extensions_mut().insert(trace);
        let trace_id = trace.trace_id();
        let span = tracing::info_span!("request", request_id = %id, trace_id = %trace_id, method = %req.method(), path = %req.uri().path());
        let started = app.clock.now();
        let served = trace::scoped(Some(trace), next.run(app, req));
        let mut resp = served.instrument(span.clone()).await;
        let elapsed_ms = (app.clock.now() - started).as_seconds_f64() * 1000.0;
        span.in_scope(|| tracing::info!(status = resp.status().as_u16(), elapsed_ms, "request completed"));
        for (name, value) in [(HEADER, id), (TRACE_ID_HEADER, trace_id)] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

/// The caller's trace (`traceparent`), else Lambda's (X-Ray), else a new one: a
/// malformed header starts a new trace, as W3C asks, rather than failing the request.
fn trace_of(app: &App, req: &Request) -> TraceContext {
    let header = req.headers().get(TRACEPARENT).and_then(|v| v.to_str().ok());
    let xray = req.extensions().get::<AmznTraceId>();
    header
        .and_then(|h| TraceContext::continue_from(h, &*app.random))
        .or_else(|| xray.and_then(|x| TraceContext::continue_xray(&x.0, &*app.random)))
        .unwrap_or_else(|| TraceContext::new(&*app.random))
}
