//! SigV4 signing of outbound AWS requests: Bedrock's, and the AWS HTTP adapters' on
//! Workers. The signing time comes from the caller (the clock port), because
//! `SystemTime::now()` panics on wasm32.

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sign_request};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use serde::Deserialize;
use std::fmt;
use std::time::{Duration, SystemTime};

pub use aws_sigv4::http_request;

/// Static AWS credentials (a secret's value, or a Worker's environment). `Debug` shows
/// only the access key id.
#[derive(Clone, Deserialize)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Who signs, for which service and region, and when.
pub struct Scope<'a> {
    pub credentials: &'a AwsCredentials,
    pub region: &'a str,
    pub service: &'a str,
    pub unix_seconds: i64,
}

/// Signs `request` in place (headers, or the query string when `settings` say so); the
/// signature-bearing headers are marked sensitive so they never reach logs.
pub fn sign(
    request: &mut http::Request<Bytes>,
    scope: &Scope<'_>,
    settings: SigningSettings,
    body: SignableBody<'_>,
) -> Result<(), String> {
    let failed = |e: &dyn fmt::Display| format!("cannot sign the request: {e}");
    let c = scope.credentials;
    let identity = aws_credential_types::Credentials::new(
        &c.access_key_id,
        &c.secret_access_key,
        c.session_token.clone(),
        None,
        "confab",
    )
    .into();
    let since_epoch = u64::try_from(scope.unix_seconds).map_err(|e| failed(&e))?;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(SystemTime::UNIX_EPOCH + Duration::from_secs(since_epoch))
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let uri = request.uri().to_string();
    let headers =
        request.headers().iter().map(|(name, value)| (name.as_str(), value.to_str().unwrap_or_default()));
    let signable =
        SignableRequest::new(request.method().as_str(), uri, headers, body).map_err(|e| failed(&e))?;
    let (instructions, _signature) = sign_request(signable, &params).map_err(|e| failed(&e))?.into_parts();
    instructions.apply_to_request_http1x(request);
    for secret in [http::header::AUTHORIZATION.as_str(), "x-amz-security-token"] {
        if let Some(value) = request.headers_mut().get_mut(secret) {
            value.set_sensitive(true);
        }
    }
    Ok(())
}
