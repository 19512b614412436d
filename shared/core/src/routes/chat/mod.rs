pub(crate) mod cancel;
pub(crate) mod capabilities;
pub(crate) mod completions;
pub(crate) mod embeddings;
pub(crate) mod list_models;
pub(crate) mod messages;
pub(crate) mod messages_wire;
pub(crate) mod regenerate;
pub(crate) mod research;
pub(crate) mod resume;
pub(crate) mod send;
mod v1_call;
mod v1_request;
mod v1_wire;

use super::{Function, health, path_id};
use crate::app::App;
use crate::by_method;
use crate::error::{ApiError, ApiResult};
use crate::http::{Request, Response};
use std::sync::Arc;

pub async fn route(app: &Arc<App>, segments: &[&str], req: Request) -> ApiResult<Response> {
    match segments {
        ["chat", "health"] => by_method!(req, { GET => health::handle(app, Function::Chat) }),
        ["chat", "capabilities"] => by_method!(req, { GET => capabilities::handle(app, req) }),
        ["chat", "sessions", id, "messages"] => {
            by_method!(req, { POST => send::handle(app, path_id(id)?, req) })
        }
        ["chat", "sessions", id, "research"] => {
            by_method!(req, { POST => research::handle(app, path_id(id)?, req) })
        }
        ["chat", "sessions", id, "messages", message, "stream"] => by_method!(req, {
            GET => resume::handle(app, path_id(id)?, path_id(message)?, req),
        }),
        ["chat", "sessions", id, "messages", message, "regenerate"] => by_method!(req, {
            POST => regenerate::handle(app, path_id(id)?, path_id(message)?, req),
        }),
        ["chat", "sessions", id, "messages", message, "cancel"] => by_method!(req, {
            POST => cancel::handle(app, path_id(id)?, path_id(message)?, req),
        }),
        ["v1", "chat", "completions"] => by_method!(req, { POST => completions::handle(app, req) }),
        ["v1", "messages"] => by_method!(req, { POST => messages::handle(app, req) }),
        ["v1", "embeddings"] => by_method!(req, { POST => embeddings::handle(app, req) }),
        ["v1", "models"] => by_method!(req, { GET => list_models::handle(app, req) }),
        _ => Err(ApiError::NotFound),
    }
}
