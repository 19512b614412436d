use crate::app::App;
use crate::auth::keys::verifier;
use crate::error::ApiResult;
use crate::http::{Response, cacheable, json};
use http::StatusCode;

/// The public keys that verify access tokens, for other services.
#[utoipa::path(get, path = "/auth/jwks.json", tag = "auth", operation_id = "auth_jwks",
    responses((status = 200, body = crate::auth::keys::Jwks)))]
pub async fn handle(app: &App) -> ApiResult<Response> {
    Ok(cacheable(json(StatusCode::OK, &verifier(app, None).await?.jwks)))
}
