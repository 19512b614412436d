//! The configuration every adapter shares, and SigV4-signed requests over the core's
//! HTTP client port.

use bytes::Bytes;
use confab_core::ports::{Clock, HttpClient, HttpError};
use confab_core::sigv4::{
    self,
    http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignatureLocation, SigningSettings,
        UriPathNormalizationMode,
    },
};
use futures::StreamExt;
use futures::future::Either;
use http::{HeaderMap, StatusCode};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Static AWS credentials (on Workers, from the environment's secrets).
pub type Credentials = confab_core::sigv4::AwsCredentials;

/// Where and as whom the adapters talk to AWS. Endpoints default to the region's public
/// ones; [`AwsConfig::with_endpoint`] points every service at one URL (moto), and then
/// S3 is addressed path-style.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub region: String,
    pub credentials: Credentials,
    pub dynamodb_endpoint: Option<String>,
    pub s3_endpoint: Option<String>,
    pub secrets_endpoint: Option<String>,
    /// The longest a request may take, answer read: past it, the service is
    /// unavailable (a stalled connection must not hold a request for good).
    pub timeout: Duration,
}

/// [`AwsConfig::timeout`] unless changed: well inside a Worker's wall time.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl AwsConfig {
    pub fn new(region: impl Into<String>, credentials: Credentials) -> Self {
        AwsConfig {
            region: region.into(),
            credentials,
            dynamodb_endpoint: None,
            s3_endpoint: None,
            secrets_endpoint: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends every service's requests to `url` (e.g. `http://127.0.0.1:5000`).
    pub fn with_endpoint(mut self, url: &str) -> Self {
        let url = url.trim_end_matches('/').to_string();
        self.dynamodb_endpoint = Some(url.clone());
        self.s3_endpoint = Some(url.clone());
        self.secrets_endpoint = Some(url);
        self
    }

    /// The region's public endpoint for `host`, a service's host name (`dynamodb`, `s3`,
    /// `secretsmanager`, or `<bucket>.s3` for S3's virtual-hosted style).
    pub(crate) fn public_endpoint(&self, host: &str) -> String {
        format!("https://{host}.{}.amazonaws.com", self.region)
    }
}

/// One AWS service's signed requests: its endpoint, signing name, region and
/// credentials, with the HTTP client and the clock (for signing times) of the runtime.
#[derive(Clone)]
pub(crate) struct Service {
    pub(crate) endpoint: String,
    name: &'static str,
    region: String,
    credentials: Credentials,
    http: Arc<dyn HttpClient>,
    pub(crate) clock: Arc<dyn Clock>,
    timeout: Duration,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service").field("endpoint", &self.endpoint).field("name", &self.name).finish()
    }
}

/// A whole response, body read.
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Service {
    pub(crate) fn new(
        config: &AwsConfig,
        name: &'static str,
        endpoint: String,
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Service {
            endpoint,
            name,
            region: config.region.clone(),
            credentials: config.credentials.clone(),
            http,
            clock,
            timeout: config.timeout,
        }
    }

    /// Signs `request` (headers) and sends it; S3 wants the payload hash as a header
    /// and its paths signed as they are.
    pub(crate) async fn send(&self, request: http::Request<Bytes>) -> Result<Response, String> {
        let what = format!("{} {}", request.method(), request.uri());
        let exchange = std::pin::pin!(self.exchange(request));
        match futures::future::select(exchange, self.clock.sleep(self.timeout)).await {
            Either::Left((answer, _)) => answer,
            Either::Right(_) => Err(format!("{what}: no answer within {} s", self.timeout.as_secs_f32())),
        }
    }

    /// [`send`](Self::send) without its time limit.
    async fn exchange(&self, mut request: http::Request<Bytes>) -> Result<Response, String> {
        let mut settings = SigningSettings::default();
        if self.name == "s3" {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        let body = request.body().clone();
        self.sign(&mut request, settings, SignableBody::Bytes(&body))?;
        let what = format!("{} {}", request.method(), request.uri());
        let response = self.http.send(request).await.map_err(|e| transport(&what, e))?;
        let mut body = Vec::new();
        let mut stream = response.body;
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.map_err(|e| transport(&what, e))?);
        }
        Ok(Response { status: response.status, headers: response.headers, body: body.into() })
    }

    /// A GET of `uri` signed in its query string, valid for `expires_in` from now.
    pub(crate) fn presign_get(&self, uri: &str, expires_in: Duration) -> Result<String, String> {
        let mut request = http::Request::get(uri).body(Bytes::new()).map_err(|e| e.to_string())?;
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        self.sign(&mut request, settings, SignableBody::UnsignedPayload)?;
        Ok(request.uri().to_string())
    }

    fn sign(
        &self,
        request: &mut http::Request<Bytes>,
        settings: SigningSettings,
        body: SignableBody<'_>,
    ) -> Result<(), String> {
        let scope = sigv4::Scope {
            credentials: &self.credentials,
            region: &self.region,
            service: self.name,
            unix_seconds: self.clock.now_unix(),
        };
        sigv4::sign(request, &scope, settings, body)
    }
}

fn transport(what: &str, error: HttpError) -> String {
    format!("{what}: {error}")
}
