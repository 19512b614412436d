use super::{Middleware, Next};
use crate::app::App;
use crate::http::{Request, Response, client_ip, request_id};
use crate::repo::audit::{AuditEvents, Context, record};
use crate::trace::TraceContext;
use std::sync::Arc;

/// Stores the audit events a handler attached to its response.
pub struct AuditLog;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for AuditLog {
    async fn handle(&self, app: &Arc<App>, req: Request, next: Next<'_>) -> Response {
        let context = Context {
            ip: client_ip(&req).to_string(),
            request_id: request_id(&req),
            trace_id: req.extensions().get::<TraceContext>().map(TraceContext::trace_id),
        };
        let mut resp = next.run(app, req).await;
        if let Some(AuditEvents(events)) = resp.extensions_mut().remove::<AuditEvents>()
            && let Err(e) = record(app, events, context).await
        {
            tracing::error!(error = %e, "audit events could not be stored");
        }
        resp
    }
}
