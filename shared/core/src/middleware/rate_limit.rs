use crate::app::App;
use crate::auth::throttle::fixed_window;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, client_ip, client_key};

/// Per-client-IP request limit, counted in the store so it holds across instances (in
/// memory on the local server, which counts alone: `App::counting_alone`). A
/// store that cannot count (full, read-only, down) lets the request through with a
/// warning, as the edge router's limiter does: the limit protects the service, so it
/// must not be what takes the service down. Credential throttles do not do this.
pub async fn check(app: &App, req: &Request) -> ApiResult<()> {
    let ip = client_key(client_ip(req));
    match fixed_window(app, "ip", &ip, app.config.rate_limit_per_minute, 60).await {
        Err(ApiError::Unavailable(e)) => {
            tracing::warn!(error = %e, metric = "rate_limit_unavailable", "the rate limiter failed; the request goes on uncounted");
            Ok(())
        }
        outcome => outcome,
    }
}
