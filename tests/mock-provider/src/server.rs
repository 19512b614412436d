//! The HTTP server: hyper on a plain tokio listener (so faults can close connections at will),
//! routing to the wire formats, and the builder and handle tests use.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::anthropic::Anthropic;
use crate::bedrock::Bedrock;
use crate::control;
use crate::delivery::{self, Refused};
use crate::dialect::{Body, Checks, Dialect, PathTarget, RawRequest, json_response, next_seq};
use crate::embeddings::{self, Api};
use crate::gemini::Gemini;
use crate::openai::{self, OpenAi};
use crate::plan::{Plan, Timing};
use crate::record::{Provider, RecordedRequest, RequestLog};
use crate::scenario::{ANY_MODEL, Scenario, ScenarioStore};
use crate::sigv4::AwsKeys;

/// Request bodies above this size are refused with 413.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Entry point of the library: `MockProvider::builder()`.
#[derive(Debug)]
pub struct MockProvider;

impl MockProvider {
    /// A builder with no latency, no Bedrock credentials and the model list `["mock-model"]`.
    pub fn builder() -> MockProviderBuilder {
        MockProviderBuilder::default()
    }
}

/// Server defaults; [`spawn`](Self::spawn) starts the server.
#[derive(Clone, Debug)]
pub struct MockProviderBuilder {
    timing: Timing,
    bedrock_keys: Option<AwsKeys>,
    models: Vec<String>,
    max_recorded: usize,
}

impl Default for MockProviderBuilder {
    fn default() -> Self {
        Self {
            timing: Timing::default(),
            bedrock_keys: None,
            models: vec!["mock-model".to_owned()],
            max_recorded: 10_000,
        }
    }
}

impl MockProviderBuilder {
    /// Default time to first token.
    pub fn ttft(mut self, ttft: Duration) -> Self {
        self.timing.ttft = ttft;
        self
    }

    /// Default delay between tokens.
    pub fn token_delay(mut self, delay: Duration) -> Self {
        self.timing.token_delay = delay;
        self
    }

    /// Verifies Bedrock SigV4 signatures against these credentials. Without them, any
    /// well-formed `AWS4-HMAC-SHA256` authorization for service `bedrock` is accepted.
    pub fn bedrock_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        let keys = AwsKeys { access_key_id: access_key_id.into(), secret_access_key: secret.into() };
        self.bedrock_keys = Some(keys);
        self
    }

    /// The models `GET /v1/models` lists (besides those that have a scenario).
    pub fn models<S: Into<String>>(mut self, models: impl IntoIterator<Item = S>) -> Self {
        self.models = models.into_iter().map(Into::into).collect();
        self
    }

    /// How many requests the log keeps (the oldest go first); 0 records nothing.
    pub fn max_recorded(mut self, count: usize) -> Self {
        self.max_recorded = count;
        self
    }

    /// Binds `addr` (port 0 picks a free port) and serves until the handle is dropped or shut
    /// down.
    pub async fn spawn(self, addr: impl ToSocketAddrs) -> io::Result<MockHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            timing: self.timing,
            bedrock_keys: self.bedrock_keys,
            models: self.models,
            scenarios: ScenarioStore::default(),
            log: RequestLog::new(self.max_recorded),
        });
        let (shutdown, stopped) = watch::channel(());
        let task = tokio::spawn(accept_loop(listener, state.clone(), stopped));
        Ok(MockHandle { addr, state, shutdown, task })
    }
}

/// A running mock provider. Dropping it stops the server and closes every connection.
pub struct MockHandle {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<()>,
    task: JoinHandle<()>,
}

impl MockHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, the base URL of every provider's API.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the scenario of `model` ([`ANY_MODEL`] for models without their own), replacing
    /// its previous one and its fault queue.
    pub fn set_scenario(&self, model: &str, scenario: Scenario) {
        self.state.scenarios.set(model, scenario);
    }

    /// The scenario of `model` with what is left of its fault queue.
    pub fn scenario(&self, model: &str) -> Option<Scenario> {
        self.state.scenarios.get(model)
    }

    /// Removes the scenario of `model`, back to the defaults.
    pub fn clear_scenario(&self, model: &str) {
        self.state.scenarios.remove(model);
    }

    /// The recorded requests to `model`, oldest first.
    pub fn requests(&self, model: &str) -> Vec<RecordedRequest> {
        self.state.log.list(Some(model))
    }

    /// All recorded requests, oldest first.
    pub fn all_requests(&self) -> Vec<RecordedRequest> {
        self.state.log.list(None)
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.state.log.clear(None);
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn shutdown(self) {
        let MockHandle { shutdown, task, .. } = self;
        drop(shutdown);
        let _ = task.await;
    }
}

impl std::fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHandle").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// What every connection shares.
pub(crate) struct State {
    timing: Timing,
    bedrock_keys: Option<AwsKeys>,
    models: Vec<String>,
    pub(crate) scenarios: ScenarioStore,
    pub(crate) log: RequestLog,
}

impl State {
    pub(crate) fn checks(&self) -> Checks<'_> {
        Checks { bedrock_keys: self.bedrock_keys.as_ref() }
    }

    /// The configured models and those with a scenario.
    fn model_list(&self) -> Vec<String> {
        let mut models = self.models.clone();
        models.extend(self.scenarios.all().into_keys().filter(|model| model != ANY_MODEL));
        models.sort();
        models.dedup();
        models
    }
}

/// Accepts connections until the handle goes away (the watch sender is dropped).
async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stopped: watch::Receiver<()>) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    debug!(%peer, "connection accepted");
                    tokio::spawn(serve_connection(stream, state.clone(), stopped.clone()));
                }
                Err(error) => {
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<State>, mut stopped: watch::Receiver<()>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| handle(state.clone(), request));
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => if let Err(error) = result {
            debug!(%error, "connection ended with an error");
        },
        _ = stopped.changed() => {}
    }
}

/// Where a request goes.
enum Route {
    Control,
    Models,
    Chat(Provider, PathTarget),
    Embed(Api, PathTarget),
    NotFound,
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Body>, Refused> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            let message = format!("could not read the request body: {error}");
            return Ok(plain_error(StatusCode::PAYLOAD_TOO_LARGE, &message));
        }
    };
    let request = RawRequest { method: parts.method, uri: parts.uri, headers: parts.headers, body };
    match route(&request.method, request.uri.path()) {
        Route::Control => Ok(control::handle(&state, &request)),
        Route::Models => Ok(list_models(&state, &request)),
        Route::Chat(Provider::OpenAi, target) => serve_chat::<OpenAi>(&state, request, target).await,
        Route::Chat(Provider::Anthropic, target) => serve_chat::<Anthropic>(&state, request, target).await,
        Route::Chat(Provider::Gemini, target) => serve_chat::<Gemini>(&state, request, target).await,
        Route::Chat(Provider::Bedrock, target) => serve_chat::<Bedrock>(&state, request, target).await,
        Route::Embed(api, target) => embeddings::serve(&state, request, api, target).await,
        Route::NotFound => {
            let message = format!("Unknown request URL: {} {}", request.method, request.uri.path());
            Ok(plain_error(StatusCode::NOT_FOUND, &message))
        }
    }
}

fn route(method: &Method, path: &str) -> Route {
    if path == "/_mock" || path.starts_with("/_mock/") {
        return Route::Control;
    }
    match (method, path) {
        (&Method::POST, "/v1/chat/completions") => Route::Chat(Provider::OpenAi, PathTarget::default()),
        (&Method::GET, "/v1/models") => Route::Models,
        (&Method::POST, "/v1/embeddings") => Route::Embed(Api::OpenAi, PathTarget::default()),
        (&Method::POST, "/v1/messages") => Route::Chat(Provider::Anthropic, PathTarget::default()),
        (&Method::POST, _) => gemini_route(path).or_else(|| bedrock_route(path)).unwrap_or(Route::NotFound),
        _ => Route::NotFound,
    }
}

/// `/v1beta/models/{model}:generateContent` or `:streamGenerateContent` (chat), or
/// `:batchEmbedContents` (embeddings); or the same under `/v1`.
fn gemini_route(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v1beta/models/").or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, method) = rest.rsplit_once(':')?;
    let model = Some(decode_segment(model));
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        "batchEmbedContents" => return Some(Route::Embed(Api::Gemini, PathTarget { model, stream: false })),
        _ => return None,
    };
    Some(Route::Chat(Provider::Gemini, PathTarget { model, stream }))
}

/// `/model/{modelId}/converse` or `/converse-stream` (chat), or `/invoke` (embeddings), the
/// model id percent-encoded.
fn bedrock_route(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/model/")?;
    if let Some(model) = rest.strip_suffix("/invoke") {
        return Some(Route::Embed(
            Api::Bedrock,
            PathTarget { model: Some(decode_segment(model)), stream: false },
        ));
    }
    let (model, stream) = match rest.strip_suffix("/converse-stream") {
        Some(model) => (model, true),
        None => (rest.strip_suffix("/converse")?, false),
    };
    Some(Route::Chat(Provider::Bedrock, PathTarget { model: Some(decode_segment(model)), stream }))
}

/// Percent-decodes a path segment.
pub(crate) fn decode_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Records, authenticates and parses a chat request, then answers as its model's scenario says.
async fn serve_chat<D: Dialect>(
    state: &State,
    request: RawRequest,
    target: PathTarget,
) -> Result<Response<Body>, Refused> {
    let model = target.model.clone().or_else(|| body_model(&request.body));
    let parsed = D::parse(&request, &target);
    let seen = parsed.as_ref().ok().map(|(chat, _)| chat.seen.clone());
    state.log.record(D::PROVIDER, &request, model, D::presented_key(&request), seen);
    if let Err(error) = D::authenticate(&request, &state.checks()) {
        debug!(provider = ?D::PROVIDER, status = %error.status, "request refused: credentials");
        return Ok(D::error_response(&error));
    }
    let (chat, dialect) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return Ok(D::error_response(&error)),
    };
    let turn = state.scenarios.next_turn(&chat.model);
    debug!(provider = ?D::PROVIDER, model = %chat.model, stream = chat.stream, fault = ?turn.fault, "chat request");
    let plan = Plan::new(next_seq(), &chat, &turn.scenario, state.timing);
    delivery::respond(dialect, plan, chat.stream, turn.fault).await
}

fn list_models(state: &State, request: &RawRequest) -> Response<Body> {
    state.log.record(Provider::OpenAi, request, None, OpenAi::presented_key(request), None);
    match OpenAi::authenticate(request, &state.checks()) {
        Ok(()) => openai::models_response(&state.model_list()),
        Err(error) => OpenAi::error_response(&error),
    }
}

pub(crate) fn body_model(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("model")?.as_str().map(str::to_owned)
}

/// An error of the mock itself (not of a provider): `{"error": {"message": ...}}`.
pub(crate) fn plain_error(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, &json!({"error": {"message": message}}), Vec::new(), None)
}
