use crate::app::App;
use crate::chat::breaker::TargetHealth;
use crate::error::ApiResult;
use crate::http::{Response, json};
use crate::repo::routing;
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct ProvidersHealth {
    /// As seen by the instance that answered: circuits are kept per instance.
    pub items: Vec<TargetHealth>,
}

/// Every configured target's circuit state, recent errors and latency.
#[utoipa::path(get, path = "/admin/providers/health", tag = "admin", operation_id = "admin_providers_health",
    security(("bearer" = [])),
    responses((status = 200, body = ProvidersHealth)))]
pub async fn handle(app: &App) -> ApiResult<Response> {
    let config = routing::load(app).await?;
    let mut targets: Vec<_> = config.models.iter().flat_map(|m| m.targets.iter().cloned()).collect();
    targets.dedup();
    Ok(json(StatusCode::OK, &ProvidersHealth { items: app.breakers.report(targets) }))
}
