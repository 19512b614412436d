//! Sign-in from identity providers: the list, the start (a redirect to the provider)
//! and the callback (a redirect to `return_to` with the session cookies). Every failure
//! is a redirect to `/?auth_error=<code>` without any session cookie, and is audited.

use super::throttle_credentials;
use crate::app::App;
use crate::auth::oidc::accounts::{self, Outcome};
use crate::auth::oidc::{self, Failure};
use crate::auth::{refresh, session_tokens};
use crate::error::ApiResult;
use crate::http::cookies::{self, OIDC_STATE, OIDC_STATE_COOKIE};
use crate::http::{Request, Response, found, json};
use crate::repo::audit::AuditEvent;
use crate::routes::audited;
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct ProviderView {
    /// As in `/auth/oidc/{provider}/start`.
    pub name: String,
    pub display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    pub items: Vec<ProviderView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// A path on this site to land on once signed in (default `/`).
    pub return_to: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the provider when it refused.
    pub error: Option<String>,
}

/// The identity providers users may sign in with.
#[utoipa::path(get, path = "/auth/oidc/providers", tag = "auth", operation_id = "auth_oidc_providers",
    responses((status = 200, body = ProviderList)))]
pub async fn providers(app: &App) -> ApiResult<Response> {
    let items = app
        .config
        .oidc_providers
        .iter()
        .map(|p| ProviderView { name: p.name.clone(), display_name: p.display_name.clone() })
        .collect();
    Ok(json(StatusCode::OK, &ProviderList { items }))
}

/// Starts a sign-in: a redirect to the provider (authorization code flow with `state`,
/// `nonce` and PKCE S256), and a short-lived cookie binding `state` to this browser.
/// Only the general per-IP limit applies: the callback, which calls the provider, counts
/// against the credential limit.
#[utoipa::path(get, path = "/auth/oidc/{provider}/start", tag = "auth", operation_id = "auth_oidc_start",
    params(("provider" = String, Path, description = "a name from /auth/oidc/providers"), StartQuery),
    responses((status = 302, description = "to the provider; on failure to `/?auth_error=<code>`",
        headers(("location" = String)))))]
pub async fn start(app: &App, name: &str, req: Request) -> ApiResult<Response> {
    let started = async {
        let provider = oidc::provider(app, name)?;
        let query: StartQuery = parse_query(&req)?;
        let return_to = oidc::safe_return_to(query.return_to.as_deref())?;
        oidc::start(app, provider, return_to).await
    };
    Ok(match started.await {
        Ok(started) => {
            let https = app.config.public_url.as_deref().is_some_and(|u| u.starts_with("https:"));
            let cookie = OIDC_STATE_COOKIE.set_over(&started.state, oidc::STATE_SECONDS, https);
            with_cookie(found(&started.location), &cookie)
        }
        Err(failure) => failed(name, failure),
    })
}

/// The provider's redirect back: signs in and redirects to `return_to` with the session
/// cookies; on any failure redirects to `/?auth_error=<code>` with none.
#[utoipa::path(get, path = "/auth/oidc/{provider}/callback", tag = "auth", operation_id = "auth_oidc_callback",
    params(("provider" = String, Path), CallbackQuery),
    responses((status = 302, description = "to `return_to` with the session cookies (as login sets them); on \
        failure to `/?auth_error=<code>`: `invalid_state`, `provider_error`, `invalid_token`, `email_not_verified`, \
        `domain_not_allowed`, `account_exists`, `account_disabled`, `unknown_provider`, `invalid_request`, \
        `rate_limited`, `server_error`", headers(("location" = String)))))]
pub async fn callback(app: &App, name: &str, req: Request) -> ApiResult<Response> {
    let resp = match sign_in(app, name, &req).await {
        Ok(resp) => resp,
        Err(failure) => failed(name, failure),
    };
    Ok(with_cookie(resp, &OIDC_STATE_COOKIE.clear()))
}

async fn sign_in(app: &App, name: &str, req: &Request) -> Result<Response, Failure> {
    throttle_credentials(app, req).await?;
    let provider = oidc::provider(app, name)?;
    let query: CallbackQuery = parse_query(req)?;
    let pending =
        oidc::take_state(app, provider, cookies::get(req, OIDC_STATE), query.state.as_deref()).await?;
    if query.error.is_some() {
        return Err(Failure::Provider("the provider refused the sign-in".into()));
    }
    let identity = oidc::finish(app, provider, query.code.as_deref().unwrap_or_default(), &pending).await?;
    let (user, outcome) = accounts::resolve(app, provider, &identity).await?;
    let login = refresh::start_family(app, user.id, refresh::Client::of(req)).await?;
    let resp = session_tokens::redirect(app, &pending.return_to, &user, login).await?;
    let detail = json!({ "provider": provider.name, "iss": identity.iss, "sub": identity.sub });
    let resp = audited(resp, AuditEvent::by_user(user.id, outcome.action(), detail));
    Ok(match outcome {
        Outcome::SignedIn => resp,
        // A new link or account is also a sign-in.
        _ => audited(
            resp,
            AuditEvent::by_user(user.id, Outcome::SignedIn.action(), json!({ "provider": provider.name })),
        ),
    })
}

fn parse_query<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, Failure> {
    crate::http::parse_query(req).map_err(|e| Failure::InvalidRequest(e.to_string()))
}

/// The failure's redirect, audited; the reason stays in the logs.
fn failed(provider: &str, failure: Failure) -> Response {
    match &failure {
        Failure::Server(e) => tracing::error!(provider, error = %e, "identity-provider sign-in failed"),
        other => tracing::warn!(provider, failure = ?other, "identity-provider sign-in refused"),
    }
    let event = AuditEvent {
        action: "auth.oidc_failed",
        user_id: failure.user_id(),
        actor_id: None,
        detail: json!({ "provider": provider.chars().take(64).collect::<String>(), "reason": failure.code() }),
    };
    audited(found(&format!("/?auth_error={}", failure.code())), event)
}

fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, value);
    }
    resp
}
