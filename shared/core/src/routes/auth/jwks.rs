use crate::app::App;
use crate::auth::keys::verifier;
use crate::error::ApiResult;
use crate::http::{Response, json};
use http::{HeaderValue, StatusCode, header};

/// The public keys that verify access tokens, for other services.
#[utoipa::path(get, path = "/auth/jwks.json", tag = "auth",
    responses((status = 200, body = crate::auth::keys::Jwks)))]
pub async fn handle(app: &App) -> ApiResult<Response> {
    let mut resp = json(StatusCode::OK, &verifier(app, None).await?.jwks);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(resp)
}
