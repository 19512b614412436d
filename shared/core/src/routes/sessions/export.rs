use super::file;
use crate::app::App;
use crate::auth::principal;
use crate::domain::Id;
use crate::error::ApiResult;
use crate::http::{Request, Response, json, parse_json};
use crate::repo::exports::{self, Export, Format};
use crate::repo::sessions;
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// `json` or `markdown`.
    pub format: Format,
}

/// Exports the conversation as a file and returns a download link that expires in 15
/// minutes (presigned S3 on AWS). The link needs no credentials: share it with care.
#[utoipa::path(post, path = "/sessions/{id}/export", tag = "sessions", operation_id = "sessions_export",
    security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ExportRequest,
    responses((status = 201, body = Export), (status = 404, body = crate::http::ErrorBody),
        (status = 422, body = crate::http::ErrorBody)))]
pub async fn handle(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let body: ExportRequest = parse_json(&req)?;
    let (owned, _) = sessions::get_owned(app, user_id, id).await?;
    let export = exports::create(app, &owned, body.format).await?;
    Ok(json(StatusCode::CREATED, &export))
}

/// Downloads an export through the link `POST /sessions/{id}/export` returned, where
/// the blob store cannot sign links itself (the embedded store).
#[utoipa::path(get, path = "/sessions/{id}/export/{token}", tag = "sessions", operation_id = "sessions_export_download",
    params(("id" = String, Path), ("token" = String, Path)),
    responses((status = 200, description = "the exported file"), (status = 404, body = crate::http::ErrorBody)))]
pub async fn download(app: &App, id: Id, token: &str) -> ApiResult<Response> {
    let export = exports::open(app, id, token).await?;
    file(export.body, &export.content_type, &export.filename)
}
