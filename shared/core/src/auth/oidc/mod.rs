//! Sign-in from an OpenID provider: the authorization code flow with `state`, `nonce`
//! and PKCE (S256). `start` sends the browser to the provider and remembers the attempt
//! in the store (the callback may reach another instance); the callback takes that
//! record once, exchanges the code with our client secret and the PKCE verifier, and
//! checks the ID token (`id_token`). `accounts` decides whose account it opens.

pub mod accounts;
pub mod discovery;
pub mod id_token;
pub mod settings;

use crate::app::App;
use crate::error::ApiError;
use crate::repo::oidc_states::{self, PendingSignIn};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use discovery::{Discovery, fetch_json};
use http::header;
use id_token::{Expected, Identity};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use settings::{ClientSecret, OidcProvider};
use sha2::{Digest, Sha256};

/// How long a started sign-in may take to come back.
pub const STATE_SECONDS: i64 = 600;
/// Longest `state` and `code` accepted from a callback (ours are 43 characters).
const MAX_STATE: usize = 128;
const MAX_CODE: usize = 4096;

/// Why a sign-in failed; [`Failure::code`] is what the browser is told.
#[derive(Debug)]
pub enum Failure {
    UnknownProvider,
    InvalidRequest(String),
    InvalidReturnTo,
    InvalidState,
    /// The provider refused, was unreachable, or answered something unusable.
    Provider(String),
    InvalidToken(String),
    EmailNotVerified,
    DomainNotAllowed,
    /// An account has this email, and linking by email is off (or not safe).
    AccountExists(crate::domain::Id),
    AccountDisabled(crate::domain::Id),
    /// The account has MFA on: signing in through a provider would skip its second factor.
    MfaRequired(crate::domain::Id),
    RateLimited,
    Server(ApiError),
}

impl Failure {
    pub fn code(&self) -> &'static str {
        match self {
            Failure::UnknownProvider => "unknown_provider",
            Failure::InvalidRequest(_) => "invalid_request",
            Failure::InvalidReturnTo => "invalid_return_to",
            Failure::InvalidState => "invalid_state",
            Failure::Provider(_) => "provider_error",
            Failure::InvalidToken(_) => "invalid_token",
            Failure::EmailNotVerified => "email_not_verified",
            Failure::DomainNotAllowed => "domain_not_allowed",
            Failure::AccountExists(_) => "account_exists",
            Failure::AccountDisabled(_) => "account_disabled",
            Failure::MfaRequired(_) => "mfa_required",
            Failure::RateLimited => "rate_limited",
            Failure::Server(_) => "server_error",
        }
    }

    /// The account the failure concerns, when there is one.
    pub fn user_id(&self) -> Option<crate::domain::Id> {
        match self {
            Failure::AccountExists(id) | Failure::AccountDisabled(id) | Failure::MfaRequired(id) => Some(*id),
            _ => None,
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::RateLimited { .. } => Failure::RateLimited,
            other => Failure::Server(other),
        }
    }
}

/// Constant-time equality, for values an attacker may probe.
pub fn same(a: &str, b: &str) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()))
}

pub fn provider<'a>(app: &'a App, name: &str) -> Result<&'a OidcProvider, Failure> {
    app.config.oidc_providers.iter().find(|p| p.name == name).ok_or(Failure::UnknownProvider)
}

/// A started sign-in: where to send the browser, and the `state` to bind to it.
pub struct Started {
    pub location: String,
    pub state: String,
}

/// Remembers a new sign-in attempt and answers the provider's authorization URL.
pub async fn start(app: &App, provider: &OidcProvider, return_to: String) -> Result<Started, Failure> {
    let discovery = discovery::discovery(app, provider).await?;
    let redirect_uri = redirect_uri(app, provider)?;
    let state = app.random_token();
    let pending = PendingSignIn {
        provider: provider.name.clone(),
        nonce: app.random_token(),
        verifier: app.random_token(),
        return_to,
    };
    oidc_states::save(app, &state, &pending, app.clock.now_unix() + STATE_SECONDS).await?;
    let params = [
        ("response_type", "code"),
        ("client_id", &provider.client_id),
        ("redirect_uri", &redirect_uri),
        ("scope", &provider.scopes),
        ("state", &state),
        ("nonce", &pending.nonce),
        ("code_challenge", &challenge(&pending.verifier)),
        ("code_challenge_method", "S256"),
    ];
    let query = serde_urlencoded::to_string(params)
        .map_err(|e| Failure::Server(ApiError::Internal(e.to_string())))?;
    let endpoint = &discovery.authorization_endpoint;
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    Ok(Started { location: format!("{endpoint}{separator}{query}"), state })
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn redirect_uri(app: &App, provider: &OidcProvider) -> Result<String, Failure> {
    let base = app.config.public_url.as_deref().ok_or_else(|| {
        Failure::Server(ApiError::Unavailable("CONFAB_PUBLIC_URL must be set for identity providers".into()))
    })?;
    Ok(format!("{base}/auth/oidc/{}/callback", provider.name))
}

/// The attempt the callback's `state` names, taken once: the browser's state cookie
/// must carry the same value, and the attempt must be for this provider.
pub async fn take_state(
    app: &App,
    provider: &OidcProvider,
    cookie: Option<&str>,
    query: Option<&str>,
) -> Result<PendingSignIn, Failure> {
    let (Some(cookie), Some(query)) = (cookie, query) else { return Err(Failure::InvalidState) };
    if query.len() > MAX_STATE || !same(cookie, query) {
        return Err(Failure::InvalidState);
    }
    match oidc_states::take(app, query).await? {
        Some(pending) if pending.provider == provider.name => Ok(pending),
        _ => Err(Failure::InvalidState),
    }
}

/// Exchanges `code` and checks the ID token it brings: who signed in.
pub async fn finish(
    app: &App,
    provider: &OidcProvider,
    code: &str,
    pending: &PendingSignIn,
) -> Result<Identity, Failure> {
    if code.is_empty() || code.len() > MAX_CODE {
        return Err(Failure::InvalidRequest("missing or oversized code".into()));
    }
    let discovery = discovery::discovery(app, provider).await?;
    let token = exchange(app, provider, &discovery, code, &pending.verifier).await?;
    let expected = Expected {
        issuer: &provider.issuer,
        client_id: &provider.client_id,
        nonce: &pending.nonce,
        now: app.clock.now_unix(),
        algorithms: &discovery.algorithms,
    };
    let header = id_token::header(&token, &expected)?;
    let keys = discovery::keys(app, provider, &discovery, header.kid.as_deref()).await?;
    id_token::verify(&token, &header, &keys, &expected)
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

/// The token request (RFC 6749 §4.1.3 with RFC 7636's verifier); its ID token.
async fn exchange(
    app: &App,
    provider: &OidcProvider,
    discovery: &Discovery,
    code: &str,
    verifier: &str,
) -> Result<String, Failure> {
    let secret = client_secret(app, provider).await?;
    let redirect_uri = redirect_uri(app, provider)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &redirect_uri),
        ("code_verifier", verifier),
    ];
    let mut req = http::Request::post(&discovery.token_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    if discovery.basic_auth {
        req = req.header(header::AUTHORIZATION, basic_auth(&provider.client_id, &secret));
    } else {
        form.extend([("client_id", provider.client_id.as_str()), ("client_secret", &secret)]);
    }
    let body =
        serde_urlencoded::to_string(form).map_err(|e| Failure::Server(ApiError::Internal(e.to_string())))?;
    let req = req.body(Bytes::from(body)).map_err(|_| Failure::Provider("bad token endpoint".into()))?;
    let resp: TokenResponse = fetch_json(app, req).await?;
    resp.id_token.ok_or_else(|| Failure::Provider("the token response has no id_token".into()))
}

/// What RFC 6749 §2.3.1 form-encodes in client credentials: all but the unreserved.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn basic_auth(client_id: &str, secret: &str) -> String {
    let pair = format!("{}:{}", utf8_percent_encode(client_id, FORM), utf8_percent_encode(secret, FORM));
    format!("Basic {}", STANDARD.encode(pair))
}

async fn client_secret(app: &App, provider: &OidcProvider) -> Result<String, Failure> {
    match &provider.client_secret {
        ClientSecret::Value(value) => Ok(value.clone()),
        ClientSecret::Secret(name) => app
            .secrets
            .get(name)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| Failure::Server(ApiError::Unavailable(format!("secret {name} is missing")))),
    }
}

/// A `return_to` that stays on our origin: a path (and query) starting with one `/`,
/// never `//host` or `/\host` (which browsers read as another host), of visible ASCII.
pub fn safe_return_to(raw: Option<&str>) -> Result<String, Failure> {
    let Some(path) = raw else { return Ok("/".into()) };
    let visible = path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let ok = path.len() <= 512
        && visible
        && path.starts_with('/')
        && !path.starts_with("//")
        && path.parse::<http::uri::PathAndQuery>().is_ok();
    if ok { Ok(path.to_string()) } else { Err(Failure::InvalidReturnTo) }
}

#[cfg(test)]
mod tests;
