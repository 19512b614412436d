//! Lambda cold start: each function's release binary is started against a tiny local
//! Lambda Runtime API server (the protocol `lambda_runtime` speaks, buffered and
//! streamed responses) and timed from exec to its first `next` request (ready for the
//! first event) and to its first complete response. Its peak RSS is read from
//! /proc once it asks for the second event, then it is killed. Every run gets a fresh
//! process and a fresh data directory. Prints Markdown tables.
//!
//! Two storage modes: `embedded` (SQLite under a fresh `CONFAB_DATA_DIR`) and `aws`
//! (DynamoDB, S3 and Secrets Manager clients configured, their endpoint an address
//! where nothing listens: init must not touch the network).
//!
//! Build and run everything: `tests/coldstart/run.sh` (see the README, "Cold start").
//! By hand: `confab-coldstart [--runs 20] [--lambda-dir target/lambda]
//! [--mode embedded|aws|both] [--aws-endpoint http://127.0.0.1:1]
//! [--embedded-event health|preflight] [--aws-event health|preflight]
//! [--sizes ARCH=DIR]... [--env NAME=VALUE]... [--tmp-dir DIR]`

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// Each function's package (its folder under the lambda directory) and the path of
/// its health route, the first event it gets.
const FUNCTIONS: [(&str, &str); 4] = [
    ("confab-auth", "/auth/health"),
    ("confab-chat", "/chat/health"),
    ("confab-session", "/sessions/health"),
    ("confab-admin", "/admin/health"),
];
const API_PREFIX: &str = "/2018-06-01/runtime";
const REQUEST_ID: &str = "6f1a2c3d-0000-4000-8000-000000000001";
/// The longest wait for any one step of a run.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);
/// The browser origin allowed by `CONFAB_CORS_ORIGINS` (for the preflight event).
const ORIGIN: &str = "https://app.example.com";

/// The first event: `GET /<function>/health` (one point read of the store), or a CORS
/// preflight for it, which touches no storage (the CORS layer answers it).
#[derive(Clone, Copy, PartialEq)]
enum EventKind {
    Health,
    Preflight,
}

impl EventKind {
    fn method(self) -> &'static str {
        match self {
            EventKind::Health => "GET",
            EventKind::Preflight => "OPTIONS",
        }
    }

    fn parse(s: &str) -> Result<EventKind, String> {
        match s {
            "health" => Ok(EventKind::Health),
            "preflight" => Ok(EventKind::Preflight),
            other => Err(format!("unknown event {other} (health or preflight)")),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Embedded,
    Aws,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Embedded => "embedded",
            Mode::Aws => "aws",
        }
    }
}

struct Options {
    runs: usize,
    lambda_dir: PathBuf,
    modes: Vec<Mode>,
    aws_endpoint: String,
    /// The first event in each mode.
    embedded_event: EventKind,
    aws_event: EventKind,
    sizes: Vec<(String, PathBuf)>,
    /// Extra environment for every function process (experiments).
    env: Vec<(String, String)>,
    /// Where the per-run folders (data directory, output) go; the system's by default.
    tmp_dir: Option<PathBuf>,
}

impl Options {
    fn event(&self, mode: Mode) -> EventKind {
        match mode {
            Mode::Embedded => self.embedded_event,
            Mode::Aws => self.aws_event,
        }
    }
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        runs: 20,
        lambda_dir: PathBuf::from("target/lambda"),
        modes: vec![Mode::Embedded, Mode::Aws],
        aws_endpoint: "http://127.0.0.1:1".into(),
        embedded_event: EventKind::Health,
        aws_event: EventKind::Health,
        sizes: Vec::new(),
        env: Vec::new(),
        tmp_dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--runs" => o.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--lambda-dir" => o.lambda_dir = value()?.into(),
            "--aws-endpoint" => o.aws_endpoint = value()?,
            "--embedded-event" => o.embedded_event = EventKind::parse(&value()?)?,
            "--aws-event" => o.aws_event = EventKind::parse(&value()?)?,
            "--mode" => {
                o.modes = match value()?.as_str() {
                    "embedded" => vec![Mode::Embedded],
                    "aws" => vec![Mode::Aws],
                    "both" => vec![Mode::Embedded, Mode::Aws],
                    other => return Err(format!("--mode: unknown mode {other}")),
                }
            }
            "--tmp-dir" => o.tmp_dir = Some(value()?.into()),
            "--env" => {
                let v = value()?;
                let (k, v) = v.split_once('=').ok_or("--env takes NAME=VALUE")?;
                o.env.push((k.to_string(), v.to_string()));
            }
            "--sizes" => {
                let v = value()?;
                let (arch, dir) = v.split_once('=').ok_or("--sizes takes ARCH=DIR")?;
                o.sizes.push((arch.to_string(), dir.into()));
            }
            _ => return Err(format!("unknown argument {flag}; see the top of tests/coldstart/src/main.rs")),
        }
    }
    if o.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------
// The Lambda Runtime API server: one per run, handing out one event.

/// What the runtime API saw, in order.
enum Note {
    /// The first `GET …/invocation/next`: the process is ready and gets the event.
    Ready(Instant),
    /// A later `next`: the first invocation is over. It is never answered.
    Waiting,
    /// The whole response to the event arrived: its HTTP status code.
    Response(Instant, u16),
    /// An init or invocation error, or a response that could not be read.
    Failure(String),
}

struct Invocation {
    function: String,
    event: Mutex<Option<Bytes>>,
    notes: mpsc::UnboundedSender<Note>,
}

struct Server {
    addr: SocketAddr,
    notes: mpsc::UnboundedReceiver<Note>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    /// Stops accepting and drops every connection (the never-answered `next` too).
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_server(function: &str, event: Bytes) -> std::io::Result<Server> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, notes) = mpsc::unbounded_channel();
    let invocation =
        Arc::new(Invocation { function: function.to_string(), event: Mutex::new(Some(event)), notes: tx });
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            // As Lambda's own runtime API server (in Go, where this is the default).
            let _ = stream.set_nodelay(true);
            let invocation = invocation.clone();
            let service = service_fn(move |req| runtime_api(req, invocation.clone()));
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            connections.spawn(async move {
                let _ = connection.await;
            });
        }
    });
    Ok(Server { addr, notes, task })
}

async fn runtime_api(
    req: Request<Incoming>,
    invocation: Arc<Invocation>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let path = req.uri().path().strip_prefix(API_PREFIX).unwrap_or_default().to_string();
    let note = |n: Note| {
        let _ = invocation.notes.send(n);
    };
    if req.method() == Method::GET && path == "/invocation/next" {
        let event = invocation.event.lock().expect("event lock").take();
        let Some(event) = event else {
            note(Note::Waiting);
            // The benchmark kills the process now; this request stays open until then.
            match std::future::pending::<Infallible>().await {}
        };
        note(Note::Ready(at));
        return Ok(next_event(&invocation.function, event));
    }
    let streaming =
        req.headers().get("lambda-runtime-function-response-mode").is_some_and(|v| v == "streaming");
    let is_post = req.method() == Method::POST;
    let body = req.into_body().collect().await;
    let at = Instant::now();
    let invocation_path = format!("/invocation/{REQUEST_ID}");
    let known = match path.strip_prefix(&invocation_path) {
        Some(rest) => rest == "/response" || rest == "/error",
        None => path == "/init/error",
    };
    if !is_post || !known {
        note(Note::Failure(format!("unexpected request to {path}")));
        return Ok(reply(StatusCode::NOT_FOUND, r#"{"errorMessage":"not found"}"#));
    }
    let result = match body {
        Err(e) => Note::Failure(format!("{path}: reading the body: {e}")),
        Ok(body) => {
            let error_trailer =
                body.trailers().and_then(|t| t.get("lambda-runtime-function-error-type")).cloned();
            let bytes = body.to_bytes();
            if let Some(kind) = error_trailer {
                Note::Failure(format!("{path}: streamed error {kind:?}: {}", String::from_utf8_lossy(&bytes)))
            } else if path.ends_with("/response") {
                match response_status(&bytes, streaming) {
                    Some(status) => Note::Response(at, status),
                    None => Note::Failure(format!("{path}: unreadable response {bytes:?}")),
                }
            } else {
                Note::Failure(format!("{path}: {}", String::from_utf8_lossy(&bytes)))
            }
        }
    };
    note(result);
    Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp
}

/// The answer to `next`: the event and the headers `lambda_runtime` reads.
fn next_event(function: &str, event: Bytes) -> Response<Full<Bytes>> {
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
    Response::builder()
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", REQUEST_ID)
        .header("lambda-runtime-deadline-ms", deadline.as_millis().to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"),
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        )
        .body(Full::new(event))
        .expect("static response parts")
}

/// The status code of a function-URL response: the JSON document itself when
/// buffered; when streamed, the JSON prelude before the eight NUL bytes.
fn response_status(body: &[u8], streaming: bool) -> Option<u16> {
    let head = if streaming {
        let end = body.windows(8).position(|w| w == [0u8; 8])?;
        &body[..end]
    } else {
        body
    };
    let head: Value = serde_json::from_slice(head).ok()?;
    head.get("statusCode")?.as_u64()?.try_into().ok()
}

/// A function-URL (payload format 2.0) event for the health path, as in `events/`:
/// `GET`, or a CORS preflight (`OPTIONS` from an allowed origin).
fn event(path: &str, kind: EventKind) -> Bytes {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let mut headers = json!({
        "host": "abcdefgh.lambda-url.us-east-1.on.aws",
        "user-agent": "confab-coldstart",
        "x-forwarded-proto": "https",
        "x-forwarded-for": "203.0.113.7"
    });
    if kind == EventKind::Preflight {
        headers["origin"] = ORIGIN.into();
        headers["access-control-request-method"] = "GET".into();
    }
    let e = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefgh",
            "domainName": "abcdefgh.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefgh",
            "http": {
                "method": kind.method(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "confab-coldstart"
            },
            "requestId": REQUEST_ID,
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": now
        },
        "isBase64Encoded": false
    });
    Bytes::from(e.to_string())
}

// ---------------------------------------------------------------------------------
// One cold start.

struct Sample {
    ready: Duration,
    response: Duration,
    peak_rss_kib: u64,
    status: u16,
}

/// The function's process, killed when dropped.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// The end of what the function printed, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.char_indices().rev().nth(1500).map_or(0, |(i, _)| i);
        text[start..].trim().to_string()
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

/// The environment Lambda gives a `provided.al2023` function, and the storage mode's.
fn environment(
    function: &str,
    api: SocketAddr,
    mode: Mode,
    dir: &Path,
    endpoint: &str,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123456789abcdef".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("LAMBDA_TASK_ROOT", dir.display().to_string()),
        ("_HANDLER", "bootstrap".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("TZ", ":UTC".into()),
        ("CONFAB_CORS_ORIGINS", ORIGIN.into()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
        // No shared AWS config or credentials files, as in Lambda.
        ("AWS_CONFIG_FILE", dir.join("no-aws-config").display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials").display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    match mode {
        Mode::Embedded => env.push(("CONFAB_DATA_DIR".into(), dir.join("data").display().to_string())),
        Mode::Aws => {
            // Dummy credentials made up per run, as Lambda's role credentials would be.
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
            env.extend([
                ("CONFAB_TABLE".into(), "confab".into()),
                ("CONFAB_BUCKET".into(), "confab".into()),
                ("AWS_ENDPOINT_URL".into(), endpoint.into()),
                ("AWS_ACCESS_KEY_ID".into(), format!("ASIA{:016X}", nanos as u64)),
                ("AWS_SECRET_ACCESS_KEY".into(), format!("{nanos:040x}")),
                ("AWS_SESSION_TOKEN".into(), format!("coldstart{nanos:x}")),
            ]);
        }
    }
    env
}

/// Waits for the runtime API's next note, failing if the process exits first.
async fn next_note(server: &mut Server, process: &mut Process) -> Result<Note, String> {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        tokio::select! {
            note = server.notes.recv() => return note.ok_or_else(|| "runtime API server stopped".to_string()),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if let Ok(Some(status)) = process.child.try_wait() {
                    return Err(format!("exited ({status}) early; its output:\n{}", process.log_tail()));
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(format!("no progress in {STEP_TIMEOUT:?}; its output:\n{}", process.log_tail()));
                }
            }
        }
    }
}

async fn cold_start(
    bin: &Path,
    function: &str,
    first_event: Bytes,
    mode: Mode,
    o: &Options,
) -> Result<Sample, String> {
    let dir = match &o.tmp_dir {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .map_err(|e| e.to_string())?;
    let mut server = start_server(function, first_event).await.map_err(|e| e.to_string())?;
    let log = dir.path().join("output.log");
    let out = File::create(&log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(bin);
    command
        .env_clear()
        .envs(environment(function, server.addr, mode, dir.path(), &o.aws_endpoint))
        .envs(o.env.iter().cloned())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);

    let exec = Instant::now();
    let child = command.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut process = Process { child, log };
    let ready = match next_note(&mut server, &mut process).await? {
        Note::Ready(at) => at - exec,
        Note::Failure(e) => return Err(e),
        _ => return Err("a response before any event".into()),
    };
    let (response, status) = match next_note(&mut server, &mut process).await? {
        Note::Response(at, status) => (at - exec, status),
        Note::Failure(e) => return Err(format!("{e}\nits output:\n{}", process.log_tail())),
        _ => return Err("asked for another event before answering".into()),
    };
    match next_note(&mut server, &mut process).await? {
        Note::Waiting => {}
        Note::Failure(e) => return Err(e),
        _ => return Err("unexpected request after the response".into()),
    }
    let peak_rss_kib = process.peak_rss_kib().ok_or("could not read /proc/<pid>/status")?;
    Ok(Sample { ready, response, peak_rss_kib, status })
}

// ---------------------------------------------------------------------------------
// Report.

/// The nearest-rank percentile of sorted values.
fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

fn size_of(path: &Path) -> String {
    std::fs::metadata(path).map_or("–".into(), |m| mib(m.len()))
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).unwrap_or(": unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    // Other work on the machine shows in the timings: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();
    format!("{}, {cores} cores, load average {load} at the end", model.trim_start_matches([':', ' ', '\t']))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("confab-coldstart: {e}");
            std::process::exit(2);
        }
    };
    // Absolute paths: each process starts in a folder of its own.
    let binaries: Vec<PathBuf> = FUNCTIONS
        .iter()
        .map(|(f, _)| {
            let bin = o.lambda_dir.join(f).join("bootstrap");
            bin.canonicalize().unwrap_or_else(|e| {
                eprintln!("confab-coldstart: {}: {e}; build with tests/coldstart/run.sh", bin.display());
                std::process::exit(2);
            })
        })
        .collect();

    // samples[mode][function]; run 0 is a warm-up (page cache) and is not counted.
    let mut samples: Vec<Vec<Vec<Sample>>> =
        o.modes.iter().map(|_| FUNCTIONS.iter().map(|_| Vec::new()).collect()).collect();
    let mut failures: Vec<Vec<Vec<String>>> =
        o.modes.iter().map(|_| FUNCTIONS.iter().map(|_| Vec::new()).collect()).collect();
    for run in 0..=o.runs {
        for (m, &mode) in o.modes.iter().enumerate() {
            for (f, (function, health)) in FUNCTIONS.iter().enumerate() {
                let first_event = event(health, o.event(mode));
                let result = cold_start(&binaries[f], function, first_event, mode, &o).await;
                match result {
                    Ok(s) if run > 0 => samples[m][f].push(s),
                    Ok(_) => {}
                    Err(e) => {
                        if failures[m][f].is_empty() {
                            eprintln!("{function} ({}): {e}", mode.name());
                        }
                        failures[m][f].push(e);
                    }
                }
            }
        }
        eprint!("\rrun {run}/{}", o.runs);
    }
    eprintln!();

    println!("Cold start: {} runs per row after one warm-up; {}.\n", o.runs, machine());
    println!(
        "| function | storage | exec→ready p50 | exec→ready max | exec→first response p50 | \
         exec→first response max | peak RSS p50 (MiB) | peak RSS max (MiB) | first response |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (m, mode) in o.modes.iter().enumerate() {
        for (f, (function, health)) in FUNCTIONS.iter().enumerate() {
            let s = &samples[m][f];
            let failed = failures[m][f].len();
            if s.is_empty() {
                println!("| {function} | {} | failed ({failed}) | | | | | | |", mode.name());
                continue;
            }
            let mut ready: Vec<Duration> = s.iter().map(|s| s.ready).collect();
            let mut response: Vec<Duration> = s.iter().map(|s| s.response).collect();
            let mut rss: Vec<u64> = s.iter().map(|s| s.peak_rss_kib * 1024).collect();
            ready.sort();
            response.sort();
            rss.sort();
            let statuses: BTreeSet<u16> = s.iter().map(|s| s.status).collect();
            let statuses: Vec<String> = statuses.iter().map(u16::to_string).collect();
            let failed = if failed > 0 { format!(", {failed} failed") } else { String::new() };
            println!(
                "| {function} | {} | {} ms | {} ms | {} ms | {} ms | {} | {} | {} {health} → {}{failed} |",
                mode.name(),
                ms(percentile(&ready, 50.0)),
                ms(percentile(&ready, 100.0)),
                ms(percentile(&response, 50.0)),
                ms(percentile(&response, 100.0)),
                mib(percentile(&rss, 50.0)),
                mib(percentile(&rss, 100.0)),
                o.event(*mode).method(),
                statuses.join("/"),
            );
        }
    }

    if !o.sizes.is_empty() {
        println!("\nRelease binary and zip sizes (MiB):\n");
        let mut header = String::from("| function |");
        let mut rule = String::from("|---|");
        for (arch, _) in &o.sizes {
            header += &format!(" {arch} binary | {arch} zip |");
            rule += "---|---|";
        }
        println!("{header}\n{rule}");
        for (function, _) in FUNCTIONS {
            let mut row = format!("| {function} |");
            for (_, dir) in &o.sizes {
                let dir = dir.join(function);
                row += &format!(
                    " {} | {} |",
                    size_of(&dir.join("bootstrap")),
                    size_of(&dir.join("bootstrap.zip"))
                );
            }
            println!("{row}");
        }
    }
    let failed: usize = failures.iter().flatten().map(Vec::len).sum();
    if failed > 0 {
        eprintln!("confab-coldstart: {failed} runs failed (first error of each printed above)");
        std::process::exit(1);
    }
}
