use super::{Middleware, Next, authenticate, rate_limit};
use crate::app::App;
use crate::http::{Request, Response, error_response};
use crate::routes::health;
use std::sync::Arc;

/// The rate limiter and authentication, run at once: both go to the store, neither
/// needs the other, and every request waits for them. The limiter still decides
/// first: a limited request is refused whatever its credentials. Health checks skip
/// both.
pub struct Admission;

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Middleware for Admission {
    async fn handle(&self, app: &Arc<App>, mut req: Request, next: Next<'_>) -> Response {
        if health::is_check(&req) {
            return next.run(app, req).await;
        }
        let (allowed, caller) = futures::join!(rate_limit::check(app, &req), authenticate::caller(app, &req));
        if let Err(e) = allowed {
            return error_response(&e);
        }
        match caller {
            Ok(Some(principal)) => {
                req.extensions_mut().insert(principal);
            }
            Ok(None) => {}
            Err(e) => return error_response(&e),
        }
        next.run(app, req).await
    }
}
