use super::{admin, auth, chat, health, sessions};
use crate::error::ApiResult;
use crate::http::{Response, cacheable, json};
use http::StatusCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "confab", description = "Multi-user AI chat backend: auth, chat, sessions and admin."),
    paths(
        health::handle,
        auth::register::handle, auth::login::handle, auth::refresh::handle, auth::logout::handle,
        auth::me::handle, auth::jwks::handle, auth::create_api_key::handle, auth::list_api_keys::handle,
        auth::delete_api_key::handle,
        sessions::create::handle, sessions::list::handle, sessions::get::handle, sessions::update::handle,
        sessions::delete::handle, sessions::messages::handle, sessions::export::handle, sessions::export::download,
        chat::send::handle, chat::resume::handle, chat::cancel::handle,
        chat::completions::handle, chat::list_models::handle,
        admin::list_users::handle, admin::update_user::handle, admin::audit::handle, admin::usage::handle,
        admin::models::get, admin::models::put, admin::providers_health::handle,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An access token (JWT) or an API key (cfk_…)"))
            .build();
        doc.components.get_or_insert_default().add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI 3.1 document of the whole API, generated from the handlers.
pub async fn handle() -> ApiResult<Response> {
    Ok(cacheable(json(StatusCode::OK, &ApiDoc::openapi())))
}
