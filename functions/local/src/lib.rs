//! The local server: every function mounted by path on one port, on the embedded
//! adapters. `cargo run` starts it; tests start it in-process with [`start`].

mod bodies;
mod malformed;
mod webapp;

use axum::body::{Body, HttpBody as _, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::serve::IncomingStream;
use bodies::Bodies;
use bytes::Bytes;
use confab_core::auth::keys::initial_secrets;
use confab_core::chat::models::echo_only;
use confab_core::http::{Body as CoreBody, BodyNotRead, ClientIp, client_key};
use confab_core::ports::{SecretError, Secrets, Spawner};
use confab_core::repo::persist;
use confab_core::repo::tally::flush_counts;
use confab_core::routes::admin::metrics;
use confab_core::{App, Config, Function, Ports};
use confab_embedded::{LocalBlobs, LocalSecrets, SqliteStore};
use confab_native::{OsRandom, ReqwestClient, SystemClock, TokioSpawner};
use futures::StreamExt;
use futures::future::BoxFuture;
use malformed::GuardedListener;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = ".confab";
/// How long an outbound connection (to a model provider) may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stop waits for open requests and replies being finished: under the 10 s
/// `docker stop` gives before it kills.
const STOP_GRACE: Duration = Duration::from_secs(8);
/// How often the day's token counts and usage counted in memory are written.
const WRITE_COUNTS_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] confab_core::config::ConfigError),
    #[error("{0} {1:?} is not an address like 127.0.0.1:8080")]
    Listen(&'static str, String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] confab_core::ports::HttpError),
    #[error("{0}: {1}")]
    Setting(&'static str, String),
    #[error("cannot open the embedded storage in {dir}: {message}")]
    Storage { dir: PathBuf, message: String },
}

/// A running server. [`Server::stop`] ends it cleanly; otherwise it stops when the
/// runtime it was started on shuts down.
pub struct Server {
    app: Arc<App>,
    /// Every task a request spawned (a reply outliving its client, its accounting).
    tasks: TaskTracker,
    /// Cancelled to stop taking connections; `serving` ends once the open ones have.
    stopping: CancellationToken,
    serving: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Where `GET /metrics` is served, with `CONFAB_METRICS_LISTEN`.
    pub metrics_addr: Option<SocketAddr>,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking connections, lets the open requests and the replies being finished
    /// end (for up to [`STOP_GRACE`]), then writes the day's token counts and usage kept
    /// in memory. A reply still running after that is ended by the next start's sweep.
    pub async fn stop(self) -> Result<(), confab_core::error::ApiError> {
        self.stopping.cancel();
        self.tasks.close();
        let drained = async {
            let _ = self.serving.await;
            self.tasks.wait().await;
        };
        if tokio::time::timeout(STOP_GRACE, drained).await.is_err() {
            tracing::warn!("replies still running at the stop are left to be ended as interrupted");
        }
        persist(&self.app, || flush_counts(&self.app)).await
    }
}

/// Binds `setting`'s address (default `default`), or says which setting is wrong.
async fn bind(
    settings: &BTreeMap<String, String>,
    setting: &'static str,
    default: &str,
) -> Result<TcpListener, StartError> {
    let listen = settings.get(setting).map_or(default, String::as_str);
    let addr: SocketAddr = listen.parse().map_err(|_| StartError::Listen(setting, listen.to_string()))?;
    TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr: listen.to_string(), source })
}

/// Starts the server from `CONFAB_*` settings; the process environment is not read here.
pub async fn start(settings: impl IntoIterator<Item = (String, String)>) -> Result<Server, StartError> {
    let settings: BTreeMap<String, String> = settings.into_iter().collect();
    let mut config = Config::from_settings(&settings)?;
    let data_dir = PathBuf::from(settings.get("CONFAB_DATA_DIR").map_or(DEFAULT_DATA_DIR, String::as_str));
    log_model_setup(&config);
    let listener = bind(&settings, "CONFAB_LISTEN", DEFAULT_LISTEN).await?;
    let addr = local_addr(&listener)?;
    config.public_url.get_or_insert_with(|| own_url(addr));
    // One server counts its own limits, tokens and usage: none of those writes on the path.
    let tasks = TaskTracker::new();
    let ports = embedded_ports(&data_dir, provider_keys(&settings), tasks.clone())?;
    let app = App::new(ports, config).counting_alone();
    let app = Arc::new(app);
    tokio::spawn(sweep(app.clone()));
    tokio::spawn(write_counts(app.clone()));
    let metrics_addr = if settings.contains_key(METRICS_LISTEN) {
        Some(serve_metrics(bind(&settings, METRICS_LISTEN, "").await?, app.clone())?)
    } else {
        None
    };
    let bodies = Bodies::new(body_room(&settings)?);
    let shared = Arc::new(Shared { app: app.clone(), bodies });
    let router = axum::Router::new().fallback(handle).with_state(shared);
    let listener = GuardedListener(listener);
    let stopping = CancellationToken::new();
    let stopped = stopping.clone().cancelled_owned();
    let serving = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<Peer>();
        if let Err(e) = axum::serve(listener, service).with_graceful_shutdown(stopped).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Server { app, tasks, stopping, serving, addr, data_dir, metrics_addr })
}

const METRICS_LISTEN: &str = "CONFAB_METRICS_LISTEN";

/// [`BODIES_SETTING`], in bytes.
fn body_room(settings: &BTreeMap<String, String>) -> Result<usize, StartError> {
    let bytes = match settings.get(BODIES_SETTING) {
        None => DEFAULT_BODIES_BYTES,
        Some(value) => value.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
            StartError::Setting(BODIES_SETTING, format!("{value:?} is not a positive number of bytes"))
        })?,
    };
    Ok(bytes)
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Bind { addr: "the listener".into(), source })
}

/// `GET /metrics` for a Prometheus scraper, without credentials: only on the address
/// `CONFAB_METRICS_LISTEN` names, which should not be public (`/admin/metrics` is the
/// authenticated way).
fn serve_metrics(listener: TcpListener, app: Arc<App>) -> Result<SocketAddr, StartError> {
    let addr = local_addr(&listener)?;
    let scrape = |State(app): State<Arc<App>>| async move {
        into_axum(metrics::text(confab_core::metrics::exposition(&app)))
    };
    let router = axum::Router::new().route("/metrics", axum::routing::get(scrape)).with_state(app);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(addr)
}

/// The server's own address, for links when `CONFAB_PUBLIC_URL` is unset; an
/// unspecified listen address (`0.0.0.0`) is reached through loopback.
fn own_url(mut addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

/// Ends replies whose producer died (their lease ran out) even when nobody reads them,
/// and finishes account deletions a request left, every `CONFAB_STREAM_SWEEP_SECONDS`.
async fn sweep(app: Arc<App>) {
    let every = Duration::from_secs(app.config.stream_sweep_seconds);
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = confab_core::sweep::run(&app).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

/// Writes the counts kept in memory every [`WRITE_COUNTS_EVERY`]; what fails is kept
/// for the next time.
async fn write_counts(app: Arc<App>) {
    loop {
        tokio::time::sleep(WRITE_COUNTS_EVERY).await;
        if let Err(e) = flush_counts(&app).await {
            tracing::warn!(error = %e, "token counts and usage could not be written yet");
        }
    }
}

/// Provider keys given as settings (`CONFAB_OPENAI_API_KEY`…), served as the secrets
/// the seeded model routing names.
fn provider_keys(settings: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    confab_core::providers::settings::read(settings)
        .into_iter()
        .filter_map(|provider| Some((provider.secret_name()?, provider.api_key?)))
        .collect()
}

fn log_model_setup(config: &Config) {
    let models = &config.seed_models;
    if echo_only(models) {
        tracing::warn!(
            "no model provider is configured, so the built-in `echo` model answers. To use a real one, set \
             CONFAB_OPENAI_BASE_URL, CONFAB_OPENAI_API_KEY and CONFAB_OPENAI_MODELS (comma-separated) for any \
             OpenAI-compatible server (OpenAI, OpenRouter, Ollama, vLLM…), or likewise CONFAB_ANTHROPIC_*, \
             CONFAB_GEMINI_* or CONFAB_BEDROCK_* (with CONFAB_BEDROCK_REGION); admins can then edit routing \
             and fallbacks with PUT /admin/models"
        );
    } else {
        let names: Vec<_> = models.models.iter().map(|m| m.name.as_str()).collect();
        tracing::info!(models = ?names, default = %models.default_model, "model routing from settings");
    }
}

fn embedded_ports(
    dir: &std::path::Path,
    provider_keys: BTreeMap<String, String>,
    tasks: TaskTracker,
) -> Result<Ports, StartError> {
    let storage =
        |e: &dyn std::fmt::Display| StartError::Storage { dir: dir.to_path_buf(), message: e.to_string() };
    let store = SqliteStore::open(dir.join("confab.db")).map_err(|e| storage(&e))?;
    let blobs = LocalBlobs::open(dir.join("blobs")).map_err(|e| storage(&e))?;
    let secrets = LocalSecrets::open(&dir.join("secrets.json"), || initial_secrets(&OsRandom, &SystemClock))
        .map_err(|e| storage(&e))?;
    let secrets = WithOverrides { overrides: provider_keys, inner: secrets };
    Ok(Ports {
        store: Arc::new(store),
        blobs: Arc::new(blobs),
        secrets: Arc::new(secrets),
        clock: Arc::new(SystemClock),
        random: Arc::new(OsRandom),
        http: Arc::new(ReqwestClient::new(CONNECT_TIMEOUT)?),
        spawner: Arc::new(TrackedSpawner(tasks)),
    })
}

/// Spawns on tokio, tracked so that a stop can wait for the tasks.
struct TrackedSpawner(TaskTracker);

impl Spawner for TrackedSpawner {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.0.spawn(task);
    }

    fn run_blocking(&self, work: Box<dyn FnOnce() + Send>) -> BoxFuture<'static, ()> {
        TokioSpawner.run_blocking(work)
    }
}

/// Secrets from the key file, except those given as settings (never written to disk).
struct WithOverrides {
    overrides: BTreeMap<String, String>,
    inner: LocalSecrets,
}

#[async_trait::async_trait]
impl Secrets for WithOverrides {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        match self.overrides.get(name) {
            Some(value) => Ok(Some(value.clone())),
            None => self.inner.get(name).await,
        }
    }
}

/// The client's address, as the listener accepted it.
#[derive(Clone, Copy)]
struct Peer(SocketAddr);

impl axum::extract::connect_info::Connected<IncomingStream<'_, GuardedListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, GuardedListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// What every request's handling shares: the app, and the room for request bodies.
struct Shared {
    app: Arc<App>,
    bodies: Bodies,
}

/// The bytes of request bodies the server holds in memory at once (256 MiB unless
/// set; see `bodies`).
const BODIES_SETTING: &str = "CONFAB_MAX_BODIES_IN_MEMORY_BYTES";
const DEFAULT_BODIES_BYTES: usize = 256 * 1024 * 1024;

/// Adapts one axum request to the core and back. Paths outside every function's prefix
/// are the web app's when it answers them; the rest go to auth, whose router answers
/// them 404 through the full middleware chain.
async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    req: http::Request<Body>,
) -> http::Response<Body> {
    let path = req.uri().path();
    let function = match Function::for_path(path) {
        Some(function) => function,
        None if webapp::answers(path, req.headers()) => {
            return into_axum(webapp::respond(req.method(), path));
        }
        None => Function::Auth,
    };
    let app = &shared.app;
    let (mut parts, body) = req.into_parts();
    let limit = confab_core::http::body_limit(&app.config, &parts.method, parts.uri.path());
    // Room for the most this body may be (its length when it says, else the limit).
    let room = if body.is_end_stream() {
        0
    } else {
        body.size_hint().upper().map_or(limit, |n| n as usize).min(limit)
    };
    let held = shared.bodies.take(client_key(peer.ip()), room);
    let read = match held {
        None => Err(BodyNotRead::NoRoom),
        Some(_) => read_body(body, limit, room).await,
    };
    let body = read.unwrap_or_else(|reason| {
        parts.extensions.insert(reason);
        Bytes::new()
    });
    parts.extensions.insert(ClientIp(peer.ip()));
    let response = confab_core::serve(app, function, http::Request::from_parts(parts, body)).await;
    drop(held);
    into_axum(response)
}

/// The whole body, unless it is over `limit` or does not arrive in the time a body of
/// `room` bytes may take.
async fn read_body(body: Body, limit: usize, room: usize) -> Result<Bytes, BodyNotRead> {
    match tokio::time::timeout(bodies::deadline(room), to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(BodyNotRead::TooLarge),
        Err(_) => Err(BodyNotRead::TimedOut),
    }
}

fn into_axum(resp: confab_core::http::Response) -> http::Response<Body> {
    resp.map(|body| match body {
        CoreBody::Full(bytes) => Body::from(bytes),
        CoreBody::Stream(chunks) => Body::from_stream(chunks.map(Ok::<_, Infallible>)),
    })
}
