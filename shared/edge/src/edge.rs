//! The edge router Worker: the one public Worker. Before any function runs it checks
//! the path and method, counts the client's requests, caps the body and gives the
//! request an id; then it hands the request to the function's Worker through a
//! service binding and passes the response (streamed, for chat) back as it comes.

use crate::convert::{client_ip, to_worker, vars};
use crate::router::{self, Rejected};
use crate::runtime::{WorkerClock, WorkerRandom};
use confab_core::Config;
use confab_core::domain::Id;
use confab_core::error::ApiError;
use confab_core::http::{REQUEST_ID_HEADER, error_response, request_id_is_well_formed};
use futures::StreamExt;
use http::{HeaderValue, header};
use std::cell::OnceCell;
use worker::{Env, Request, RequestInit, Response};

/// The rate-limit binding (`[[ratelimits]]` in wrangler.toml).
const RATE_LIMITER: &str = "PER_IP";
/// The binding's period: a client over its limit may try again after this many seconds.
const RATE_PERIOD_SECONDS: u64 = 60;

thread_local! {
    static CONFIG: OnceCell<Result<Config, String>> = const { OnceCell::new() };
}

/// Routes one request.
pub async fn route(mut req: Request, env: Env) -> worker::Result<Response> {
    crate::logging::init();
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)?
        .filter(|id| request_id_is_well_formed(id))
        .unwrap_or_else(|| Id::new(&WorkerClock, &WorkerRandom).to_string());
    match forward(&mut req, &env, &id).await {
        Ok(resp) => Ok(resp),
        Err(rejected) => rejection(rejected, &id),
    }
}

async fn forward(req: &mut Request, env: &Env, id: &str) -> Result<Response, Rejected> {
    let function = router::admit(&method(req), &req.path())?;
    let config = CONFIG
        .with(|c| c.get_or_init(|| Config::from_settings(&vars(env)).map_err(|e| e.to_string())).clone());
    let max_body = config.map_err(|problem| misconfigured(&problem))?.max_body_bytes;
    admit_client(req, env).await?;
    let body = read_capped(req, max_body).await?;
    let headers = req.headers().clone();
    headers.set(REQUEST_ID_HEADER, id).map_err(|e| unavailable(&e))?;
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers);
    if !body.is_empty() {
        init.with_body(Some(worker::js_sys::Uint8Array::from(&body[..]).into()));
    }
    let url = req.url().map_err(|e| unavailable(&e))?;
    let forwarded = Request::new_with_init(url.as_str(), &init).map_err(|e| unavailable(&e))?;
    let service = env.service(router::binding(function)).map_err(|e| misconfigured(&e.to_string()))?;
    service.fetch_request(forwarded).await.map_err(|e| unavailable(&e))
}

fn method(req: &Request) -> http::Method {
    http::Method::from_bytes(req.method().as_ref().as_bytes()).unwrap_or(http::Method::TRACE)
}

/// Counts the request against its client address; over the limit, it goes no further.
async fn admit_client(req: &Request, env: &Env) -> Result<(), Rejected> {
    let limiter = env.rate_limiter(RATE_LIMITER).map_err(|e| misconfigured(&e.to_string()))?;
    let key = client_ip(req.headers()).map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    let outcome = limiter.limit(key).await.map_err(|e| unavailable(&e))?;
    if outcome.success {
        Ok(())
    } else {
        Err(rejected(ApiError::RateLimited { retry_after: RATE_PERIOD_SECONDS }))
    }
}

/// The whole body, or 413 as soon as it passes `max` (declared or not).
async fn read_capped(req: &mut Request, max: usize) -> Result<Vec<u8>, Rejected> {
    let declared = req.headers().get(header::CONTENT_LENGTH.as_str()).ok().flatten();
    router::check_declared_length(declared.as_deref(), max).map_err(rejected)?;
    // A request without a body has no stream to read.
    let Ok(mut chunks) = req.stream() else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|e| rejected(ApiError::InvalidRequest(format!("the body could not be read: {e}"))))?;
        if body.len() + chunk.len() > max {
            return Err(rejected(ApiError::PayloadTooLarge(max)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn rejected(error: ApiError) -> Rejected {
    Rejected { error, allow: None }
}

fn unavailable(e: &dyn std::fmt::Display) -> Rejected {
    tracing::error!(error = %e, "the function could not be reached");
    rejected(ApiError::Unavailable("the function could not be reached".into()))
}

fn misconfigured(problem: &str) -> Rejected {
    tracing::error!(%problem, "the router's configuration is wrong");
    rejected(ApiError::Unavailable("the service is not configured".into()))
}

fn rejection(rejected: Rejected, id: &str) -> worker::Result<Response> {
    let mut resp = error_response(&rejected.error);
    if let Ok(id) = HeaderValue::from_str(id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    if let Some(allow) = rejected.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
        resp.headers_mut().insert(header::ALLOW, allow);
    }
    to_worker(resp, None)
}
