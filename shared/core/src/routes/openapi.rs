use super::chat::messages_wire::is_messages_path;
use super::{admin, auth, chat, health, sessions};
use crate::error::ApiResult;
use crate::http::{Response, cacheable, json};
use http::StatusCode;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "confab", description = "Multi-user AI chat backend: auth, chat, sessions and admin."),
    paths(
        health::handle,
        auth::register::handle, auth::login::handle, auth::refresh::handle, auth::logout::handle,
        auth::me::handle, auth::jwks::handle, auth::create_api_key::handle, auth::list_api_keys::handle,
        auth::delete_api_key::handle, auth::mfa::setup, auth::mfa::enable, auth::mfa::disable,
        auth::mfa::regenerate, auth::oidc::providers, auth::oidc::start, auth::oidc::callback,
        auth::password::change, auth::password::reset, auth::logins::list, auth::logins::revoke,
        auth::delete_account::handle,
        sessions::create::handle, sessions::list::handle, sessions::get::handle, sessions::update::handle,
        sessions::delete::handle, sessions::messages::handle, sessions::export::handle, sessions::export::download,
        sessions::share::create, sessions::share::revoke, sessions::share::read,
        sessions::attachments::upload, sessions::attachments::list, sessions::attachments::download,
        sessions::attachments::delete,
        chat::send::handle, chat::research::handle, chat::capabilities::handle, chat::regenerate::handle,
        chat::resume::handle, chat::cancel::handle, chat::completions::handle, chat::messages::handle,
        chat::list_models::handle, chat::embeddings::handle,
        admin::list_users::handle, admin::update_user::handle, admin::audit::handle, admin::usage::handle,
        admin::models::get, admin::models::put, admin::providers_health::handle, admin::metrics::handle,
        admin::password_reset::handle, admin::delete_user::handle,
    ),
    modifiers(&BearerAuth, &ChainErrors, &IdParameters),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An access token (JWT) or an API key (cfk_…)"))
            .build();
        let components = doc.components.get_or_insert_default();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        let key =
            ApiKeyValue::with_description("x-api-key", "An API key (cfk_…), as Anthropic's clients send it");
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(key)));
    }
}

/// The errors the middleware chain can answer on any operation, documented once here
/// rather than on every handler: the per-IP limit and an unavailable store (all but
/// health, which skips admission), authentication on secured operations (and CSRF on
/// their cookie-authenticated writes), and the body checks where there is a body.
struct ChainErrors;

impl Modify for ChainErrors {
    fn modify(&self, doc: &mut Document) {
        for (path, operation) in operations(doc) {
            // Anthropic's clients read their own error shape.
            let schema = if is_messages_path(path) { "ErrorEnvelope" } else { "ErrorBody" };
            if path != "/{function}/health" {
                add_chain_errors(operation, schema);
            }
        }
    }
}

fn add_chain_errors(operation: &mut Operation, schema: &str) {
    let mut errors = vec![
        ("429", "too many requests from this address; see Retry-After"),
        ("503", "a backing service is unavailable"),
    ];
    if operation.security.is_some() {
        errors
            .push(("401", "missing, invalid or expired credentials (`api_key_expired`: an expired API key)"));
        errors.push((
            "403",
            "not allowed: disabled account, missing role, a cookie write without CSRF header, or an API \
             key outside its scopes (`insufficient_scope`)",
        ));
    }
    if operation.request_body.is_some() {
        errors.push(("400", "malformed JSON or a body of the wrong shape"));
        errors.push(("413", "the body is larger than the limit"));
        errors.push(("415", "the body is not application/json"));
    }
    for (status, description) in errors {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description, schema));
    }
}

fn error_response(description: &str, schema: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build();
    ResponseBuilder::new().description(description).content("application/json", content).build().into()
}

/// Every id in a path or query (`id`, `message_id`, `user_id`, `attachment_id`) is a ULID in its
/// canonical form; anything else names nothing (404 in a path, 400 in a query).
struct IdParameters;

/// Canonical ULIDs: 26 Crockford base-32 characters, upper case, at most `7ZZZ…`.
pub(crate) const ID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$";

impl Modify for IdParameters {
    fn modify(&self, doc: &mut Document) {
        let id = ObjectBuilder::new().schema_type(Type::String).pattern(Some(ID_PATTERN)).build();
        let ids = operations(doc).flat_map(|(_, op)| op.parameters.iter_mut().flatten());
        for parameter in
            ids.filter(|p| ["id", "message_id", "user_id", "attachment_id"].contains(&p.name.as_str()))
        {
            parameter.schema = Some(id.clone().into());
        }
    }
}

/// Every operation of `doc`, with its path.
fn operations(doc: &mut Document) -> impl Iterator<Item = (&String, &mut Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        let all = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        all.into_iter().flatten().map(move |operation| (path, operation))
    })
}

/// The OpenAPI 3.1 document of the whole API, generated from the handlers.
pub async fn handle() -> ApiResult<Response> {
    Ok(cacheable(json(StatusCode::OK, &ApiDoc::openapi())))
}
