//! Runs one confab function on AWS Lambda (function-URL and HTTP API v2 events). The
//! adapters (AWS, or embedded without AWS settings) are built once per cold start,
//! without network calls; chat streams its replies through Lambda response
//! streaming, the other functions answer whole.

use bytes::Bytes;
use confab_aws::{AwsClients, DynamoStore, S3Blobs, S3Options, SecretsManagerSecrets};
use confab_core::auth::keys::initial_secrets;
use confab_core::http::{Body as CoreBody, ClientIp};
use confab_core::metrics::{Event, lines};
use confab_core::ports::secrets::Cached;
use confab_core::ports::{BlobStore, MetricsSink, Secrets, Store};
use confab_core::trace::AmznTraceId;
use confab_core::{App, Config, Function, Ports};
use confab_embedded::{LocalBlobs, LocalSecrets, SqliteStore};
use confab_native::{LogWriter, OsRandom, ReqwestClient, SystemClock, TokioSpawner};
use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use lambda_http::request::RequestContext;
use lambda_http::{Error, LambdaEvent, Request, RequestExt, service_fn};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// Where the embedded store lives when no AWS resources are configured: Lambda's only
/// writable folder, so `cargo lambda watch` works on a bare laptop.
const DEFAULT_DATA_DIR: &str = "/tmp/confab";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The CloudWatch namespace of the metrics, unless `CONFAB_METRICS_NAMESPACE` names one.
const DEFAULT_NAMESPACE: &str = "confab";

type StreamedBody = UnsyncBoxBody<Bytes, Infallible>;

/// Serves `function` until the Lambda runtime stops.
pub async fn run(function: Function) -> Result<(), Error> {
    let app = app().await?;
    if function == Function::Chat {
        let handler = service_fn(move |req| streamed(app.clone(), function, req));
        lambda_http::run_with_streaming_response(handler).await
    } else {
        let handler = service_fn(move |req| {
            let app = app.clone();
            async move { respond(&app, function, req).await }
        });
        lambda_http::run(handler).await
    }
}

/// Ends the replies whose producer died, once per invocation (an EventBridge schedule),
/// until the Lambda runtime stops. A failed sweep fails the invocation, so it counts
/// in the function's `Errors`.
pub async fn run_sweep() -> Result<(), Error> {
    let app = app().await?;
    lambda_http::lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move {
            let swept = confab_core::sweep::run(&app).await?;
            tracing::info!(swept.expired, swept.accounts_deleted, "sweep");
            Ok::<_, Error>(serde_json::to_value(swept)?)
        }
    }))
    .await
}

/// The app from the `CONFAB_` environment, with logging set up first; its metrics go
/// to the same output as EMF lines.
async fn app() -> Result<Arc<App>, Error> {
    let out = LogWriter::stdout();
    init_tracing(out.clone());
    let settings = confab_native::env_settings();
    let config = Config::from_settings(&settings)?;
    let namespace = settings.get("CONFAB_METRICS_NAMESPACE").map_or(DEFAULT_NAMESPACE, String::as_str).into();
    let app = App::new(ports(&settings, &config).await?, config);
    Ok(Arc::new(app.with_metrics_sink(Arc::new(EmfSink { namespace, out }))))
}

/// Metrics as CloudWatch embedded-metric-format lines: CloudWatch makes them metrics
/// with no API call. Each instance counts only its own requests, so these lines, not
/// `/admin/metrics`, are the truth on Lambda.
struct EmfSink {
    namespace: String,
    out: LogWriter,
}

impl MetricsSink for EmfSink {
    fn emit(&self, event: &Event<'_>) {
        let _ = writeln!(self.out.make_writer(), "{}", lines::emf_line(&self.namespace, event));
    }
}

/// JSON lines, as CloudWatch Logs Insights reads them, through a writer that never
/// blocks or panics (`LogWriter`).
fn init_tracing(out: LogWriter) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .without_time()
        .with_writer(out)
        .init();
}

type Storage = (Arc<dyn Store>, Arc<dyn BlobStore>, Arc<dyn Secrets>);

/// DynamoDB, S3 and Secrets Manager when `CONFAB_TABLE` names a table (secret names
/// behind `CONFAB_SECRETS_PREFIX`, values cached as `config` says); otherwise the
/// embedded adapters, so `cargo lambda watch` works on a bare laptop.
pub async fn ports(settings: &BTreeMap<String, String>, config: &Config) -> Result<Ports, Error> {
    let (store, blobs, secrets) = match settings.get("CONFAB_TABLE") {
        Some(table) => aws(settings, table, config).await?,
        None => embedded(settings)?,
    };
    Ok(Ports {
        store,
        blobs,
        secrets,
        clock: Arc::new(SystemClock),
        random: Arc::new(OsRandom),
        http: Arc::new(ReqwestClient::new(CONNECT_TIMEOUT)?),
        spawner: Arc::new(TokioSpawner),
    })
}

async fn aws(settings: &BTreeMap<String, String>, table: &str, config: &Config) -> Result<Storage, Error> {
    let bucket = settings.get("CONFAB_BUCKET").ok_or("CONFAB_TABLE is set, so CONFAB_BUCKET must be too")?;
    let prefix = settings.get("CONFAB_SECRETS_PREFIX").map_or("", String::as_str);
    let secrets_ttl = Duration::from_secs(config.secrets_cache_seconds);
    let clients = AwsClients::from_env(S3Options::from_env()).await;
    let secrets = SecretsManagerSecrets::new(clients.secrets).with_prefix(prefix);
    Ok((
        Arc::new(DynamoStore::new(clients.dynamodb, table)),
        Arc::new(S3Blobs::new(clients.s3, bucket)),
        Arc::new(Cached::new(secrets, Arc::new(SystemClock), secrets_ttl)),
    ))
}

fn embedded(settings: &BTreeMap<String, String>) -> Result<Storage, Error> {
    let dir = PathBuf::from(settings.get("CONFAB_DATA_DIR").map_or(DEFAULT_DATA_DIR, String::as_str));
    let secrets = LocalSecrets::open(&dir.join("secrets.json"), || initial_secrets(&OsRandom, &SystemClock))?;
    Ok((
        Arc::new(SqliteStore::open(dir.join("confab.db"))?),
        Arc::new(LocalBlobs::open(dir.join("blobs"))?),
        Arc::new(secrets),
    ))
}

/// The event as the core's request: body bytes, the caller's address, and the path
/// without an API Gateway stage prefix, which `lambda_http` adds but routes never use.
fn to_core(req: Request) -> confab_core::http::Request {
    let (source_ip, stage) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            (ctx.http.source_ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()), ctx.stage.clone())
        }
        _ => (None, None),
    };
    let ip = viewer_address(&req).or(source_ip);
    let xray = req.lambda_context_ref().and_then(|c| c.xray_trace_id.clone());
    let (mut parts, body) = req.into_parts();
    if let Some(ip) = ip {
        parts.extensions.insert(ClientIp(ip));
    }
    // The invocation's X-Ray trace, continued when the caller sent no `traceparent`.
    if let Some(trace) = xray.or_else(|| std::env::var("_X_AMZN_TRACE_ID").ok()) {
        parts.extensions.insert(AmznTraceId(trace));
    }
    if let Some(uri) = stage.and_then(|stage| without_stage(&parts.uri, &stage)) {
        parts.uri = uri;
    }
    http::Request::from_parts(parts, Bytes::from(body.to_vec()))
}

/// Behind CloudFront the request context holds CloudFront's address, so the viewer's
/// comes from `CloudFront-Viewer-Address` (`<ip>:<port>`), which CloudFront sets and
/// viewers cannot. The function URLs accept only CloudFront (IAM auth with origin access
/// control, see infra/), so nobody else can send the header.
fn viewer_address(req: &Request) -> Option<IpAddr> {
    let value = req.headers().get("cloudfront-viewer-address")?.to_str().ok()?;
    let (ip, _port) = value.rsplit_once(':')?;
    ip.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

fn without_stage(uri: &http::Uri, stage: &str) -> Option<http::Uri> {
    let rest = uri.path().strip_prefix(&format!("/{stage}/"))?;
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("/{rest}{query}").parse().ok()
}

/// One event's whole (not streamed) response.
pub async fn respond(
    app: &Arc<App>,
    function: Function,
    req: Request,
) -> Result<http::Response<lambda_http::Body>, Error> {
    let resp = confab_core::serve(app, function, to_core(req)).await;
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        CoreBody::Full(bytes) => bytes,
        CoreBody::Stream(chunks) => chunks.collect::<Vec<_>>().await.concat().into(),
    };
    Ok(http::Response::from_parts(parts, lambda_http::Body::Binary(bytes.to_vec())))
}

async fn streamed(
    app: Arc<App>,
    function: Function,
    req: Request,
) -> Result<http::Response<StreamedBody>, Error> {
    let resp = confab_core::serve(&app, function, to_core(req)).await;
    Ok(resp.map(|body| match body {
        CoreBody::Full(bytes) => Full::new(bytes).boxed_unsync(),
        CoreBody::Stream(chunks) => {
            StreamBody::new(chunks.map(|b| Ok(http_body::Frame::data(b)))).boxed_unsync()
        }
    }))
}
