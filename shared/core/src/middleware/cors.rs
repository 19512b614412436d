use super::{Middleware, Next};
use crate::app::App;
use crate::error::ApiError;
use crate::http::{Request, Response, error_response, header_str, no_content};
use http::{HeaderValue, Method, header};
use std::sync::Arc;

/// CORS for the origins in `CONFAB_CORS_ORIGINS` only, with credentials (cookies).
pub struct Cors;

const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type, x-csrf-token, x-request-id, last-event-id, \
                             x-api-key, anthropic-version, anthropic-beta, traceparent, tracestate";
const EXPOSE_HEADERS: &str = "x-request-id, x-trace-id, retry-after";

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for Cors {
    async fn handle(&self, app: &Arc<App>, req: Request, next: Next<'_>) -> Response {
        let origin = header_str(&req, header::ORIGIN).map(String::from);
        let allowed = origin.as_ref().filter(|o| app.config.cors_origins.contains(o));
        let preflight = req.method() == Method::OPTIONS
            && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let mut resp = match (preflight, &allowed) {
            (true, Some(_)) => preflight_response(),
            (true, None) => error_response(&ApiError::Forbidden("origin not allowed")),
            (false, _) => next.run(app, req).await,
        };
        expose(&mut resp, origin.as_deref(), &app.config.cors_origins);
        resp
    }
}

/// Lets an allowed `origin` read the response (with credentials).
pub fn expose(resp: &mut Response, origin: Option<&str>, allowed: &[String]) {
    let Some(origin) = origin else { return };
    let h = resp.headers_mut();
    if let Some(value) = allowed.iter().find(|a| *a == origin).and_then(|o| HeaderValue::from_str(o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
}

fn preflight_response() -> Response {
    let mut resp = no_content();
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOW_METHODS));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOW_HEADERS));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    resp
}
