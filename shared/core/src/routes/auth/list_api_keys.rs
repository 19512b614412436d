use crate::app::App;
use crate::auth::signed_in;
use crate::error::ApiResult;
use crate::http::{Request, Response, json};
use crate::repo::api_keys::{self, ApiKeyView};
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
}

#[utoipa::path(get, path = "/auth/api-keys", tag = "auth", operation_id = "auth_list_api_keys",
    security(("bearer" = [])),
    responses((status = 200, body = ApiKeyList), (status = 401, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, req: Request) -> ApiResult<Response> {
    let keys = api_keys::list(app, signed_in(&req)?.user.id).await?;
    Ok(json(StatusCode::OK, &ApiKeyList { items: keys.iter().map(|k| k.view()).collect() }))
}
