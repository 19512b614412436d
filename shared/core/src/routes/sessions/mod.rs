pub(crate) mod attachments;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod export;
pub(crate) mod get;
pub(crate) mod list;
pub(crate) mod messages;
pub(crate) mod share;
pub(crate) mod update;

use super::{Function, health, path_id};
use crate::app::App;
use crate::by_method;
use crate::domain::optional_text;
use crate::error::{ApiError, ApiResult};
use crate::http::{Body, Request, Response};
use crate::ports::blob::content_disposition;
use bytes::Bytes;
use http::{HeaderValue, header};

pub const MAX_TITLE: usize = 200;
pub const MAX_MODEL: usize = 100;
pub const MAX_SYSTEM_PROMPT: usize = 32_000;

pub async fn route(app: &App, segments: &[&str], req: Request) -> ApiResult<Response> {
    match segments {
        ["sessions", "health"] => by_method!(req, { GET => health::handle(app, Function::Session) }),
        ["sessions"] => by_method!(req, {
            POST => create::handle(app, req),
            GET => list::handle(app, req),
        }),
        ["sessions", id] => by_method!(req, {
            GET => get::handle(app, path_id(id)?, req),
            PATCH => update::handle(app, path_id(id)?, req),
            DELETE => delete::handle(app, path_id(id)?, req),
        }),
        ["sessions", id, "messages"] => by_method!(req, { GET => messages::handle(app, path_id(id)?, req) }),
        ["sessions", id, "export"] => by_method!(req, { POST => export::handle(app, path_id(id)?, req) }),
        ["sessions", id, "export", token] => {
            by_method!(req, { GET => export::download(app, path_id(id)?, token) })
        }
        ["sessions", id, "attachments"] => by_method!(req, {
            POST => attachments::upload(app, path_id(id)?, req),
            GET => attachments::list(app, path_id(id)?, req),
        }),
        ["sessions", id, "attachments", file] => by_method!(req, {
            GET => attachments::download(app, path_id(id)?, path_id(file)?, req),
            DELETE => attachments::delete(app, path_id(id)?, path_id(file)?, req),
        }),
        ["sessions", id, "share"] => by_method!(req, {
            POST => share::create(app, path_id(id)?, req),
            DELETE => share::revoke(app, path_id(id)?, req),
        }),
        ["shared", token] => by_method!(req, { GET => share::read(app, token) }),
        _ => Err(ApiError::NotFound),
    }
}

/// A title as given, or empty (the chat function names untitled sessions later).
fn title(raw: Option<&str>) -> ApiResult<String> {
    Ok(optional_text("title", raw, MAX_TITLE)?.unwrap_or_default())
}

/// A file to save, never to render: a download of `body` as `filename`, kept in no cache.
fn file(body: Bytes, content_type: &str, filename: &str) -> ApiResult<Response> {
    let mut resp = Response::new(Body::Full(body));
    let headers = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type.to_string()),
        (header::CONTENT_DISPOSITION, content_disposition(filename)),
        (header::CACHE_CONTROL, "private, no-store".to_string()),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).map_err(|e| ApiError::Internal(e.to_string()))?);
    }
    Ok(resp)
}
