use crate::app::App;
use crate::chat::models::ModelConfig;
use crate::error::ApiResult;
use crate::http::{Request, Response, json, parse_json};
use crate::repo::audit::AuditEvent;
use crate::repo::routing;
use crate::routes::audited;
use http::StatusCode;
use serde_json::json;

/// The model routing: each model's ordered provider targets. Provider keys appear
/// only as the names of the secrets that hold them.
#[utoipa::path(get, path = "/admin/models", tag = "admin", operation_id = "admin_get_models",
    security(("bearer" = [])),
    responses((status = 200, body = ModelConfig), (status = 403, body = crate::http::ErrorBody)))]
pub async fn get(app: &App) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &*routing::load(app).await?))
}

/// Replaces the model routing. Instances pick it up within seconds.
#[utoipa::path(put, path = "/admin/models", tag = "admin", operation_id = "admin_put_models",
    security(("bearer" = [])),
    request_body = ModelConfig,
    responses((status = 200, body = ModelConfig), (status = 422, body = crate::http::ErrorBody)))]
pub async fn put(app: &App, req: Request) -> ApiResult<Response> {
    let actor = crate::auth::admin(&req)?.user.id;
    let config: ModelConfig = parse_json(&req)?;
    routing::save(app, config.clone()).await?;
    let names: Vec<_> = config.models.iter().map(|m| m.name.as_str()).collect();
    let event = AuditEvent {
        action: "admin.models_updated",
        user_id: None,
        actor_id: Some(actor),
        detail: json!({ "models": names, "default_model": config.default_model }),
    };
    Ok(audited(json(StatusCode::OK, &config), event))
}
