//! Files attached to a session: uploaded as a raw body, listed, downloaded and deleted
//! by the session's owner only.

use crate::app::App;
use crate::auth::principal;
use crate::domain::{AttachmentKind, Id, classify, filename};
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response, header_str, json, no_content, parse_query};
use crate::pdf;
use crate::repo::attachments::{self, Attachment, Upload};
use crate::repo::sessions;
use crate::repo::{Listing, audit::AuditEvent};
use crate::routes::audited;
use crate::routes::sessions::file;
use http::{StatusCode, header};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name; paths are cut to their last segment, control characters
    /// dropped, at most 200 characters kept.
    #[param(min_length = 1, max_length = 1000)]
    pub filename: String,
}

/// Attaches a file to the session: the request body is the file, with its type in
/// `Content-Type`. PNG, JPEG, WebP and GIF images and PDFs must start with their
/// format's bytes; text types (`text/*`, JSON, XML, YAML, TOML, JavaScript) must be
/// UTF-8. At most `CONFAB_MAX_ATTACHMENT_BYTES` (5 MB unless set), 50 files per
/// session, and `CONFAB_MAX_ATTACHMENT_BYTES_PER_USER` (1 GiB unless set) held by all
/// of the user's files. A PDF's text is read now, for the context.
#[utoipa::path(post, path = "/sessions/{id}/attachments", tag = "sessions", operation_id = "attachments_upload",
    security(("bearer" = [])),
    params(("id" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, description = "the file's bytes", content_type = "application/octet-stream"),
    responses((status = 201, body = Attachment), (status = 404, body = crate::http::ErrorBody),
        (status = 409, description = "the session has 50 attachments, or the user's files would hold more than they may",
            body = crate::http::ErrorBody),
        (status = 413, body = crate::http::ErrorBody),
        (status = 415, description = "a type attachments do not take, or bytes that are not of the type named",
            body = crate::http::ErrorBody),
        (status = 422, body = crate::http::ErrorBody)))]
pub async fn upload(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let query: UploadQuery = parse_query(&req)?;
    let (owned, _) = sessions::get_owned(app, user_id, id).await?;
    let filename = filename(&query.filename)?;
    let bytes = req.body().clone();
    if bytes.is_empty() {
        return Err(ApiError::Validation("the file is empty".into()));
    }
    let (kind, content_type) = classify(header_str(&req, header::CONTENT_TYPE), &bytes)?;
    let text = if kind == AttachmentKind::Pdf { pdf::text(&bytes) } else { None };
    let attachment = Attachment {
        id: app.new_id(),
        filename,
        content_type,
        size: bytes.len() as u64,
        created_at: app.now(),
    };
    attachments::create(app, &owned, Upload { attachment: attachment.clone(), bytes, text }).await?;
    let event = AuditEvent::by_user(
        user_id,
        "attachment.uploaded",
        json!({ "session_id": id, "attachment_id": attachment.id, "size": attachment.size }),
    );
    Ok(audited(json(StatusCode::CREATED, &attachment), event))
}

/// The session's attachments, oldest first.
#[utoipa::path(get, path = "/sessions/{id}/attachments", tag = "sessions", operation_id = "attachments_list",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Listing<Attachment>), (status = 404, body = crate::http::ErrorBody)))]
pub async fn list(app: &App, id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    sessions::get_owned(app, user_id, id).await?;
    let items = attachments::list(app, id).await?;
    Ok(json(StatusCode::OK, &Listing { items, next_cursor: None }))
}

/// The file, as a download (`Content-Disposition: attachment`, never rendered).
#[utoipa::path(get, path = "/sessions/{id}/attachments/{attachment_id}", tag = "sessions",
    operation_id = "attachments_download",
    security(("bearer" = [])),
    params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, description = "the file's bytes, with its type"),
        (status = 404, body = crate::http::ErrorBody)))]
pub async fn download(app: &App, id: Id, attachment_id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let (owned, _) = sessions::get_owned(app, user_id, id).await?;
    let attachment = attachments::get(app, id, attachment_id).await?;
    let bytes = attachments::bytes(app, &owned, attachment_id).await?;
    file(bytes, &attachment.content_type, &attachment.filename)
}

/// Deletes the file. Messages that used it keep its name; its bytes are gone, and the
/// context says so where it stood.
#[utoipa::path(delete, path = "/sessions/{id}/attachments/{attachment_id}", tag = "sessions",
    operation_id = "attachments_delete",
    security(("bearer" = [])),
    params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = crate::http::ErrorBody)))]
pub async fn delete(app: &App, id: Id, attachment_id: Id, req: Request) -> ApiResult<Response> {
    let user_id = principal(&req)?.user.id;
    let (owned, _) = sessions::get_owned(app, user_id, id).await?;
    attachments::delete(app, &owned, attachment_id).await?;
    let event = AuditEvent::by_user(
        user_id,
        "attachment.deleted",
        json!({ "session_id": id, "attachment_id": attachment_id }),
    );
    Ok(audited(no_content(), event))
}
