//! A function Worker: the core on DynamoDB, S3 and Secrets Manager over `fetch`, built
//! once per isolate from the Worker's vars and secrets.

use crate::convert::{to_core, to_worker, vars};
use crate::runtime::{FetchClient, WorkerClock, WorkerRandom, WorkerSpawner, in_flight};
use crate::settings::Settings;
use bytes::Bytes;
use confab_aws_http::{DynamoHttpStore, S3HttpBlobs, SecretsManagerHttpSecrets};
use confab_core::error::ApiError;
use confab_core::http::error_response;
use confab_core::ports::secrets::Cached;
use confab_core::ports::{Clock, HttpClient};
use confab_core::routes::Routes;
use confab_core::{App, Ports};
use std::cell::OnceCell;
use std::sync::Arc;
use std::time::Duration;
use worker::{Context, Env, Request, Response};

thread_local! {
    /// The isolate's app, or why its settings are wrong (logged on every request).
    static APP: OnceCell<Result<Arc<App>, String>> = const { OnceCell::new() };
}

/// Serves one request to a function's `routes` (only its own, so the Worker carries no
/// other function's code). Work that outlives the response (a chat reply the client
/// left, usage records) is handed to `waitUntil`.
pub async fn serve(
    routes: &dyn Routes,
    mut req: Request,
    env: Env,
    ctx: Context,
) -> worker::Result<Response> {
    crate::logging::init();
    let guard = in_flight().enter();
    let resp = match app(&env) {
        Ok(app) => match core_request(&mut req).await {
            Ok(core) => confab_core::serve_only(&app, routes, core).await,
            Err(e) => error_response(&e),
        },
        Err(problem) => {
            tracing::error!(%problem, "the Worker's settings are wrong");
            error_response(&ApiError::Unavailable("the service is not configured".into()))
        }
    };
    ctx.wait_until(in_flight().idle());
    to_worker(resp, Some(guard))
}

/// Ends the replies whose producer died and nobody reads (the chat Worker's Cron
/// Trigger): a Worker's `waitUntil` can end mid-reply, and its lease then runs out.
pub async fn sweep(env: Env) {
    crate::logging::init();
    match app(&env) {
        Ok(app) => match confab_core::sweep::run(&app).await {
            Ok(swept) => tracing::info!(swept.expired, swept.accounts_deleted, "sweep"),
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        },
        Err(problem) => tracing::error!(%problem, "the Worker's settings are wrong"),
    }
}

/// The isolate's app, built on first use.
fn app(env: &Env) -> Result<Arc<App>, String> {
    APP.with(|app| app.get_or_init(|| build(env)).clone())
}

async fn core_request(req: &mut Request) -> Result<confab_core::http::Request, ApiError> {
    let body = req
        .bytes()
        .await
        .map_err(|e| ApiError::InvalidRequest(format!("the body could not be read: {e}")))?;
    to_core(req, Bytes::from(body)).map_err(|e| ApiError::InvalidRequest(e.to_string()))
}

#[allow(
    clippy::arc_with_non_send_sync,
    reason = "the core's ports are Arcs on every target; a Worker's isolate has one thread"
)]
fn build(env: &Env) -> Result<Arc<App>, String> {
    let settings = Settings::parse(&vars(env)).map_err(|e| e.to_string())?;
    let http: Arc<dyn HttpClient> = Arc::new(FetchClient);
    let clock: Arc<dyn Clock> = Arc::new(WorkerClock);
    let aws = &settings.aws;
    let secrets = SecretsManagerHttpSecrets::new(aws, http.clone(), clock.clone())
        .with_prefix(&settings.secrets_prefix);
    let secrets =
        Cached::new(secrets, clock.clone(), Duration::from_secs(settings.config.secrets_cache_seconds));
    let ports = Ports {
        store: Arc::new(DynamoHttpStore::new(aws, http.clone(), clock.clone(), settings.table)),
        blobs: Arc::new(S3HttpBlobs::new(aws, http.clone(), clock.clone(), settings.bucket)),
        secrets: Arc::new(secrets),
        clock,
        random: Arc::new(WorkerRandom),
        http,
        spawner: Arc::new(WorkerSpawner),
    };
    Ok(Arc::new(App::new(ports, settings.config).with_metrics_sink(Arc::new(crate::logging::ConsoleMetrics))))
}
