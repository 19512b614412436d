//! The provider's discovery document and signing keys, fetched through the HTTP port
//! and kept per instance: discovery for an hour, keys for an hour or until a token names
//! a key we do not have (then fetched again, at most once a minute, so forged key ids
//! cannot make us hammer the provider).

use super::Failure;
use super::settings::{self, OidcProvider};
use crate::app::App;
use crate::cache::TtlCache;
use crate::chat::router::timeout;
use bytes::Bytes;
use futures::StreamExt;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const DISCOVERY_SECONDS: i64 = 3600;
const KEYS_SECONDS: i64 = 3600;
const UNKNOWN_KID_REFETCH_SECONDS: i64 = 60;
/// The most a discovery, key or token response may hold; real ones are a few KB.
const MAX_RESPONSE: usize = 256 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What sign-in needs from a provider's discovery document.
#[derive(Debug)]
pub struct Discovery {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    jwks_uri: String,
    /// The asymmetric algorithms the provider signs ID tokens with: never `none`,
    /// never HMAC (whose key would be our client secret, or a public key misused).
    pub algorithms: Vec<Algorithm>,
    /// `client_secret_basic`, when the provider takes it, else `client_secret_post`.
    pub basic_auth: bool,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// A provider's signing keys. Entries we cannot read are left out, not fatal: a
/// provider may publish key types we have no use for.
#[derive(Debug)]
pub struct Keys(Vec<Jwk>);

impl Keys {
    pub(crate) fn parse(raw: &serde_json::Value) -> Keys {
        let entries = raw.get("keys").and_then(serde_json::Value::as_array);
        Keys(entries.into_iter().flatten().filter_map(|k| serde_json::from_value(k.clone()).ok()).collect())
    }

    /// The key named `kid`; without a kid, the only key there is.
    pub fn find(&self, kid: Option<&str>) -> Option<&Jwk> {
        match kid {
            Some(kid) => self.0.iter().find(|k| k.common.key_id.as_deref() == Some(kid)),
            None if self.0.len() == 1 => self.0.first(),
            None => None,
        }
    }
}

/// Discovery and keys per provider name.
#[derive(Default)]
pub struct OidcCache {
    discovery: TtlCache<Discovery>,
    keys: TtlCache<Keys>,
}

pub async fn discovery(app: &App, provider: &OidcProvider) -> Result<Arc<Discovery>, Failure> {
    let now = app.clock.now_unix();
    if let Some(found) = app.oidc.discovery.get(&provider.name, now, DISCOVERY_SECONDS) {
        return Ok(found);
    }
    let url = format!("{}/.well-known/openid-configuration", provider.issuer.trim_end_matches('/'));
    let doc: Document = fetch_json(app, get(&url)?).await?;
    let found = check(provider, doc)?;
    Ok(app.oidc.discovery.put(&provider.name, found, now))
}

fn check(provider: &OidcProvider, doc: Document) -> Result<Discovery, Failure> {
    if doc.issuer != provider.issuer {
        return Err(Failure::Provider(format!("discovery names issuer {:?}", doc.issuer)));
    }
    // A loopback issuer (tests, a local provider) may name plain http endpoints, but
    // only on this machine too: never a plain http hop to anywhere else.
    let https = provider.issuer.starts_with("https:");
    for url in [&doc.authorization_endpoint, &doc.token_endpoint, &doc.jwks_uri] {
        let ok = url
            .parse::<http::Uri>()
            .is_ok_and(|u| settings::https_or_loopback(&u) && (!https || u.scheme_str() == Some("https")));
        if !ok {
            return Err(Failure::Provider(format!("discovery endpoint {url:?} is not an https URL")));
        }
    }
    let algorithms = doc
        .id_token_signing_alg_values_supported
        .iter()
        .filter_map(|name| Algorithm::from_str(name).ok())
        .filter(|alg| alg.family() != jsonwebtoken::AlgorithmFamily::Hmac)
        .collect();
    let methods = doc.token_endpoint_auth_methods_supported;
    // RFC 8414 §2: without the list, client_secret_basic is what the provider takes.
    let takes = |m: &str| methods.as_ref().is_none_or(|all| all.iter().any(|x| x == m));
    let basic_auth = takes("client_secret_basic");
    if !basic_auth && !takes("client_secret_post") {
        return Err(Failure::Provider("the token endpoint takes no client secret".into()));
    }
    Ok(Discovery {
        authorization_endpoint: doc.authorization_endpoint,
        token_endpoint: doc.token_endpoint,
        jwks_uri: doc.jwks_uri,
        algorithms,
        basic_auth,
    })
}

/// The provider's keys, holding `kid` if it has it.
pub async fn keys(
    app: &App,
    provider: &OidcProvider,
    discovery: &Discovery,
    kid: Option<&str>,
) -> Result<Arc<Keys>, Failure> {
    let now = app.clock.now_unix();
    if let Some(keys) = app.oidc.keys.get(&provider.name, now, KEYS_SECONDS) {
        let recent = app.oidc.keys.get(&provider.name, now, UNKNOWN_KID_REFETCH_SECONDS).is_some();
        if keys.find(kid).is_some() || recent {
            return Ok(keys);
        }
    }
    let raw: serde_json::Value = fetch_json(app, get(&discovery.jwks_uri)?).await?;
    Ok(app.oidc.keys.put(&provider.name, Keys::parse(&raw), now))
}

fn get(url: &str) -> Result<http::Request<Bytes>, Failure> {
    http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::new())
        .map_err(|_| Failure::Provider(format!("{url:?} is not a URL")))
}

/// Sends `req` and reads a JSON answer of bounded size and time. Errors describe the
/// failure, never the response's content (a token endpoint's answer may hold tokens).
pub async fn fetch_json<T: DeserializeOwned>(app: &App, req: http::Request<Bytes>) -> Result<T, Failure> {
    let what = format!("{} {}", req.method(), req.uri().path());
    let body = timeout(&*app.clock, FETCH_TIMEOUT, async {
        let resp = app.http.send(req).await.map_err(|e| format!("{what}: {e}"))?;
        if !resp.status.is_success() {
            return Err(format!("{what}: status {}", resp.status));
        }
        let mut body = resp.body;
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk.map_err(|e| format!("{what}: {e}"))?);
            if out.len() > MAX_RESPONSE {
                return Err(format!("{what}: the response is larger than {MAX_RESPONSE} bytes"));
            }
        }
        Ok(out)
    })
    .await
    .unwrap_or_else(|| Err(format!("{what}: timed out")))
    .map_err(Failure::Provider)?;
    serde_json::from_slice(&body).map_err(|_| Failure::Provider(format!("{what}: not the JSON expected")))
}
