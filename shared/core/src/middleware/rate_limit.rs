use crate::app::App;
use crate::auth::throttle::fixed_window;
use crate::error::ApiResult;
use crate::http::{Request, client_ip};

/// Per-client-IP request limit, counted in the store so it holds across instances.
pub async fn check(app: &App, req: &Request) -> ApiResult<()> {
    let ip = client_ip(req).to_string();
    fixed_window(app, "ip", &ip, app.config.rate_limit_per_minute, 60).await
}
