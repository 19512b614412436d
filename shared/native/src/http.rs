use async_trait::async_trait;
use bytes::Bytes;
use confab_core::ports::{HttpClient, HttpError, HttpResponse};
use futures::TryStreamExt;
use std::time::Duration;

/// Outbound HTTP on reqwest (rustls). One client per process keeps connections
/// pooled across requests and warm across Lambda invocations.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    pub fn new(connect_timeout: Duration) -> Result<ReqwestClient, HttpError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| HttpError::Connect(e.to_string()))?;
        Ok(ReqwestClient { client })
    }
}

fn classify(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else if e.is_connect() {
        HttpError::Connect(e.to_string())
    } else {
        HttpError::Transport(e.to_string())
    }
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, req: http::Request<Bytes>) -> Result<HttpResponse, HttpError> {
        let req = reqwest::Request::try_from(req).map_err(|e| HttpError::Connect(e.to_string()))?;
        let resp = self.client.execute(req).await.map_err(classify)?;
        Ok(HttpResponse {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: Box::pin(resp.bytes_stream().map_err(classify)),
        })
    }
}
