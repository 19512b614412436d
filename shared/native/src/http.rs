use async_trait::async_trait;
use bytes::Bytes;
use confab_core::fetch;
use confab_core::ports::{Guarded, HttpClient, HttpError, HttpResponse};
use futures::TryStreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Outbound HTTP on reqwest (rustls). One client per process keeps connections
/// pooled across requests and warm across Lambda invocations. Requests of the guarded
/// fetcher ([`Guarded`]) go through clients that follow no redirect; public-only ones
/// through a client that connects only to the public addresses its resolver returns.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    public_only: reqwest::Client,
    exempt: reqwest::Client,
}

impl ReqwestClient {
    pub fn new(connect_timeout: Duration) -> Result<ReqwestClient, HttpError> {
        let builder = || reqwest::Client::builder().connect_timeout(connect_timeout).tcp_nodelay(true);
        let guarded = || builder().redirect(reqwest::redirect::Policy::none());
        let built = |b: reqwest::ClientBuilder| b.build().map_err(|e| HttpError::Connect(e.to_string()));
        Ok(ReqwestClient {
            client: built(builder())?,
            // No proxy: the resolver must see the fetched host itself.
            public_only: built(guarded().no_proxy().dns_resolver(Arc::new(PublicOnly)))?,
            exempt: built(guarded())?,
        })
    }
}

/// Resolves with the system resolver and keeps only public addresses, so the
/// connection goes to an address that was checked (no DNS rebinding in between).
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| fetch::is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
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
        let client = match req.extensions().get::<Guarded>() {
            Some(Guarded { public_only: true }) => &self.public_only,
            Some(Guarded { public_only: false }) => &self.exempt,
            None => &self.client,
        };
        let req = reqwest::Request::try_from(req).map_err(|e| HttpError::Connect(e.to_string()))?;
        let resp = client.execute(req).await.map_err(classify)?;
        Ok(HttpResponse {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: Box::pin(resp.bytes_stream().map_err(classify)),
        })
    }
}
