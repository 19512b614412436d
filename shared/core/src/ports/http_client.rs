use super::{BoxStream, MaybeSend, MaybeSync};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// No connection could be made (refused, DNS, TLS): nothing reached the server.
    #[error("connect: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    /// The connection failed after the request was sent, or while reading the body.
    #[error("transport: {0}")]
    Transport(String),
}

/// A response whose body arrives as it is read, for streaming provider replies.
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BoxStream<'static, Result<Bytes, HttpError>>,
}

/// Marks a request of the guarded fetcher ([`crate::fetch`]), in its extensions. The
/// adapter must not follow redirects (the fetcher checks every hop itself) and, with
/// `public_only`, must connect only to public addresses ([`crate::fetch::is_public`]),
/// checked on the addresses it resolves and connects to, so DNS cannot be rebound
/// between a check and the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guarded {
    pub public_only: bool,
}

/// Outbound HTTP (reqwest natively, `fetch` on Workers).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait HttpClient: MaybeSend + MaybeSync {
    /// Sends `req` and returns once the response head has arrived.
    async fn send(&self, req: http::Request<Bytes>) -> Result<HttpResponse, HttpError>;
}
