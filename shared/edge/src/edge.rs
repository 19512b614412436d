//! The edge router Worker: the one public Worker. Before any function runs it checks
//! the path and method, counts the client's requests, caps the body and gives the
//! request an id; then it hands the request to the function's Worker through a
//! service binding and passes the response (streamed, for chat) back as it comes.
//! Paths outside the API are the web app's, from the router's static assets.

use crate::convert::{client_ip, request, to_worker, vars};
use crate::logging::ConsoleMetrics;
use crate::router::{self, Rejected};
use crate::runtime::{WorkerClock, WorkerRandom};
use confab_core::domain::Id;
use confab_core::error::ApiError;
use confab_core::http::{REQUEST_ID_HEADER, body_limit, error_response, request_id_is_well_formed};
use confab_core::metrics::Metrics;
use confab_core::middleware::outer_headers;
use confab_core::webapp::{self, WebApp};
use confab_core::{Config, Function};
use futures::StreamExt;
use http::{HeaderValue, header};
use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;
use worker::{Env, Headers, Request, RequestInit, Response};

/// The web app's files (`[assets]` in wrangler.toml, written by `scripts/web-dist`).
const ASSETS: &str = "ASSETS";
/// The rate-limit binding (`[[ratelimits]]` in wrangler.toml).
const RATE_LIMITER: &str = "PER_IP";
/// The binding's period: a client over its limit may try again after this many seconds.
const RATE_PERIOD_SECONDS: u64 = 60;

thread_local! {
    static CONFIG: OnceCell<Result<Rc<Config>, String>> = const { OnceCell::new() };
    /// The router's own registry: its refusals, logged as the functions' metrics are.
    static METRICS: Metrics = Metrics::new(Arc::new(WorkerClock), Some(Arc::new(ConsoleMetrics)));
}

/// Routes one request.
pub async fn route(mut req: Request, env: Env) -> worker::Result<Response> {
    crate::logging::init();
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .ok()
        .flatten()
        .filter(|id| request_id_is_well_formed(id))
        .unwrap_or_else(|| Id::new(&WorkerClock, &WorkerRandom).to_string());
    let config = CONFIG.with(|c| {
        c.get_or_init(|| Config::from_settings(&vars(&env)).map(Rc::new).map_err(|e| e.to_string())).clone()
    });
    let forwarded = match &config {
        Ok(config) => forward(&mut req, &env, &id, config).await,
        Err(problem) => Err(misconfigured(problem)),
    };
    match forwarded {
        Ok(resp) => Ok(resp),
        Err(rejected) => {
            METRICS.with(|metrics| router::count_refusal(metrics, &req.path(), &rejected.error));
            let origin = req.headers().get(header::ORIGIN.as_str()).ok().flatten();
            let cors_origins = config.as_ref().map_or(&[][..], |c| &c.cors_origins);
            rejection(rejected, &id, origin.as_deref(), cors_origins)
        }
    }
}

async fn forward(req: &mut Request, env: &Env, id: &str, config: &Config) -> Result<Response, Rejected> {
    let method = http::Method::from_bytes(req.method().as_ref().as_bytes())
        .map_err(|_| rejected(ApiError::method_not_allowed(&[])))?;
    let path = req.path();
    let accept = req.headers().get(header::ACCEPT.as_str()).ok().flatten();
    if Function::for_path(&path).is_none() && WebApp::answers(&path, accept.as_deref()) {
        return serve_app(req, env, &method, &path).await;
    }
    let function = router::admit(&method, &path)?;
    admit_client(req, env).await?;
    let max_body = body_limit(config, &method, &path);
    let body = if router::forwards_body(&method) { read_capped(req, max_body).await? } else { Vec::new() };
    let headers = req.headers().clone();
    headers.set(REQUEST_ID_HEADER, id).map_err(|e| internal(&e))?;
    let url = req.url().map_err(|e| internal(&e))?;
    // A function's redirect (an identity provider's sign-in) is the browser's to follow.
    let forwarded = request(url.as_str(), req.method(), headers, &body, true).map_err(|e| internal(&e))?;
    let service = env.service(router::binding(function)).map_err(|e| misconfigured(&e.to_string()))?;
    service.fetch_request(forwarded).await.map_err(|e| {
        tracing::error!(error = %e, function = function.name(), "the function could not be reached");
        rejected(ApiError::Unavailable("the function could not be reached".into()))
    })
}

/// A file of the web app, answered as the local server answers it (`webapp`): pages
/// get `index.html`, assets their file, each with the app's headers. Static files
/// cost no function call and are not counted against the client's rate.
async fn serve_app(
    req: &Request,
    env: &Env,
    method: &http::Method,
    path: &str,
) -> Result<Response, Rejected> {
    if let Some(refused) = webapp::refuse_method(method) {
        return to_worker(refused, None).map_err(|e| internal(&e));
    }
    let mut url = req.url().map_err(|e| internal(&e))?;
    url.set_path(webapp::static_path(path));
    url.set_query(None);
    let mut init = RequestInit::new();
    init.with_method(req.method());
    let assets = env.assets(ASSETS).map_err(|e| misconfigured(&e.to_string()))?;
    let file = assets.fetch(url.to_string(), Some(init)).await.map_err(|e| internal(&e))?;
    let status = http::StatusCode::from_u16(file.status_code()).map_err(|e| internal(&e))?;
    // A fetched response's headers are immutable: copy them.
    let headers = Headers::new();
    for (name, value) in file.headers().entries() {
        headers.append(&name, &value).map_err(|e| internal(&e))?;
    }
    for (name, value) in webapp::static_headers(path, status) {
        let value = value.to_str().map_err(|e| internal(&e))?;
        headers.set(name.as_str(), value).map_err(|e| internal(&e))?;
    }
    Ok(file.with_headers(headers))
}

/// Counts the request against its client; over the limit, it goes no further. A
/// limiter that fails lets requests through (the functions keep per-user limits).
async fn admit_client(req: &Request, env: &Env) -> Result<(), Rejected> {
    let key = router::rate_key(client_ip(req.headers()));
    let outcome = match env.rate_limiter(RATE_LIMITER) {
        Ok(limiter) => limiter.limit(key).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(outcome) if !outcome.success => {
            Err(rejected(ApiError::RateLimited { retry_after: RATE_PERIOD_SECONDS }))
        }
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "the rate limiter failed; the request goes on uncounted");
            Ok(())
        }
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
    Rejected { error }
}

fn internal(e: &dyn std::fmt::Display) -> Rejected {
    rejected(ApiError::Internal(format!("forwarding the request: {e}")))
}

fn misconfigured(problem: &str) -> Rejected {
    tracing::error!(%problem, "the router's configuration is wrong");
    rejected(ApiError::Unavailable("the service is not configured".into()))
}

/// The router's own answer, with the id, security and CORS headers a function's has.
fn rejection(
    rejected: Rejected,
    id: &str,
    origin: Option<&str>,
    cors_origins: &[String],
) -> worker::Result<Response> {
    tracing::info!(request_id = %id, status = rejected.error.status().as_u16(), code = rejected.error.code(), "refused at the edge");
    let mut resp = error_response(&rejected.error);
    if let Ok(id) = HeaderValue::from_str(id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    outer_headers(&mut resp, origin, cors_origins);
    to_worker(resp, None)
}
