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

/// Outbound HTTP (reqwest natively, `fetch` on Workers).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait HttpClient: MaybeSend + MaybeSync {
    /// Sends `req` and returns once the response head has arrived.
    async fn send(&self, req: http::Request<Bytes>) -> Result<HttpResponse, HttpError>;
}
