//! The middleware chain every function runs, outermost first. Each layer is a small
//! type that sees the request, calls `next`, and may change the response.

mod admission;
mod anthropic_errors;
mod audit;
mod authenticate;
mod body_limit;
mod cors;
pub(crate) mod head;
mod metrics;
mod rate_limit;
mod request_id;
mod security_headers;

use crate::app::App;
use crate::http::{Request, Response};
use crate::ports::{MaybeSend, MaybeSync};
use crate::routes::{self, Function, Routes};
use std::sync::Arc;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Middleware: MaybeSend + MaybeSync {
    async fn handle(&self, app: &Arc<App>, req: Request, next: Next<'_>) -> Response;
}

/// The rest of the chain, ending in the routes.
pub struct Next<'a> {
    chain: &'a [&'a dyn Middleware],
    routes: &'a dyn Routes,
}

impl Next<'_> {
    pub async fn run(self, app: &Arc<App>, req: Request) -> Response {
        match self.chain.split_first() {
            Some((layer, rest)) => layer.handle(app, req, Next { chain: rest, routes: self.routes }).await,
            None => routes::dispatch(app, self.routes, req).await,
        }
    }
}

/// The headers the chain puts on every response, for answers made outside it (the edge
/// router's refusals): the security headers (with `no-store`), and CORS for an allowed
/// `origin`.
pub fn outer_headers(resp: &mut Response, origin: Option<&str>, cors_origins: &[String]) {
    security_headers::apply(resp.headers_mut());
    cors::expose(resp, origin, cors_origins);
}

/// Serves one request to `function` through the whole chain.
pub async fn serve(app: &Arc<App>, function: Function, req: Request) -> Response {
    serve_only(app, &function, req).await
}

/// Serves one request to `routes` through the whole chain: a Worker names its own
/// function's routes (`routes::SessionRoutes`…) and carries no other's handlers.
pub async fn serve_only(app: &Arc<App>, routes: &dyn Routes, req: Request) -> Response {
    let chain: [&dyn Middleware; 9] = [
        &request_id::RequestIdLayer,
        &metrics::RequestMetrics,
        &anthropic_errors::AnthropicErrors,
        &security_headers::SecurityHeaders,
        &cors::Cors,
        &head::Head,
        &body_limit::BodyLimit,
        &admission::Admission,
        &audit::AuditLog,
    ];
    Next { chain: &chain, routes }.run(app, req).await
}
