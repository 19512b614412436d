use super::{Middleware, Next};
use crate::app::App;
use crate::auth::throttle::fixed_window;
use crate::http::{Request, Response, client_ip, error_response};
use std::sync::Arc;

/// Per-client-IP request limit, counted in the store so it holds across instances.
pub struct RateLimit;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for RateLimit {
    async fn handle(&self, app: &Arc<App>, req: Request, next: Next<'_>) -> Response {
        let ip = client_ip(&req).to_string();
        if let Err(e) = fixed_window(app, "ip", &ip, app.config.rate_limit_per_minute, 60).await {
            return error_response(&e);
        }
        next.run(app, req).await
    }
}
