use crate::auth::principal;
use crate::error::ApiResult;
use crate::http::{Request, Response, json};
use crate::repo::users::UserView;
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
}

#[utoipa::path(get, path = "/auth/me", tag = "auth", operation_id = "auth_me", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = crate::http::ErrorBody)))]
pub async fn handle(req: Request) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &MeResponse { user: principal(&req)?.user.view() }))
}
