//! Test support (feature `testing`): one moto server per test binary, SDK clients
//! pointed at it, and the adapter checks both this crate's and confab-aws-http's tests
//! run (`dynamo`, `s3`, `secrets`: functions over the ports, so each crate passes its own
//! adapters). Also used by the Lambda end-to-end scenario.
//!
//! moto comes from `CONFAB_MOTO_SERVER` (scripts/test installs `moto[server]` in its
//! virtualenv and exports the path) or `moto_server` on `PATH`. A missing moto fails the
//! tests with instructions; they are never skipped.
//!
//! The server is a plain process shared by every test of the binary. The SDK clients
//! are not shared: each `#[tokio::test]` has its own runtime, and a client's connection
//! pool belongs to the runtime it was first used on.

pub mod chaos;
pub mod dynamo;
pub mod s3;
pub mod secrets;

use crate::sdk::aws_config::retry::RetryConfig;
use crate::sdk::aws_config::timeout::TimeoutConfig;
use crate::sdk::aws_config::{self, BehaviorVersion, SdkConfig};
use crate::sdk::dynamodb::config::{Credentials, Region};
use crate::{AwsClients, S3Options};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running `moto_server`, stopped when this is dropped, or when the test process
/// exits (statics are never dropped): it runs under a small shell that waits for its
/// standard input to close and then stops it.
pub struct Moto {
    pub url: String,
    guard: Child,
    stdin: Option<ChildStdin>,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    /// A moto of its own with extra environment, e.g. `INITIAL_NO_AUTH_ACTION_COUNT` (set
    /// on the child, never on this process, whose other tests share [`moto`]).
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let executable = moto_executable();
        let mut last_error = String::new();
        // A free port can be taken between finding and binding it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("confab-moto-{port}.log"));
            match start_on(&executable, port, &log, env) {
                Ok(moto) => return moto,
                Err(e) => last_error = e,
            }
        }
        panic!("moto server did not start: {last_error}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the shell's input makes it stop moto and exit.
        drop(self.stdin.take());
        if self.guard.wait_timeout(Duration::from_secs(5)).is_none() {
            let _ = self.guard.kill();
            let _ = self.guard.wait();
        }
    }
}

trait WaitTimeout {
    fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus>;
}

impl WaitTimeout for Child {
    fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// moto's `moto_server` script: `CONFAB_MOTO_SERVER`, else the first on `PATH`.
fn moto_executable() -> PathBuf {
    tool(
        "CONFAB_MOTO_SERVER",
        "moto_server",
        "moto is needed for the AWS adapter tests: run scripts/test (it installs `moto[server]` into \
         its virtualenv and sets CONFAB_MOTO_SERVER), or `pip install \"moto[server]\"`",
    )
}

/// A test tool: the path in `env_var` (scripts/test sets it), else `name` on `PATH`. A
/// missing tool fails the test with `help`; tests are never skipped.
pub fn tool(env_var: &str, name: &str, help: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{env_var}={} is not a file. {help}", path.display());
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH and {env_var} is not set. {help}"))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

fn start_on(executable: &Path, port: u16, log: &Path, env: &[(&str, &str)]) -> Result<Moto, String> {
    let log_file = std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    // `sh` starts moto in the background, then blocks reading its own stdin (a pipe from
    // this process); EOF (a drop, or this process ending) stops moto.
    // SIGKILL: moto keeps nothing worth flushing, and after SIGTERM it can take seconds
    // to tear down a big in-memory state.
    let script = r#""$0" -H 127.0.0.1 -p "$1" </dev/null & moto=$!
trap 'kill -KILL $moto 2>/dev/null; exit 0' TERM INT
cat >/dev/null
kill -KILL $moto 2>/dev/null
wait $moto"#;
    // tests/moto/sitecustomize.py makes moto serve one request at a time (see there).
    let patches = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/moto");
    let python_path = match std::env::var_os("PYTHONPATH") {
        Some(existing) => {
            std::env::join_paths(std::iter::once(patches).chain(std::env::split_paths(&existing)))
                .map_err(|e| e.to_string())?
        }
        None => patches.into_os_string(),
    };
    let mut guard = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(executable)
        .arg(port.to_string())
        .env("PYTHONPATH", python_path)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("spawning sh for {}: {e}", executable.display()))?;
    let stdin = guard.stdin.take();
    let mut moto = Moto { url: format!("http://127.0.0.1:{port}"), guard, stdin };
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = moto.guard.try_wait() {
            let output = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("{} exited with {status}:\n{output}", executable.display()));
        }
        if ready(address) {
            let output = std::fs::read_to_string(log).unwrap_or_default();
            if !output.contains(SERIALIZED) {
                panic!("moto started without tests/moto/sitecustomize.py taking effect:\n{output}");
            }
            return Ok(moto);
        }
        if Instant::now() > deadline {
            return Err(format!("no answer on port {port} after 60 s (log: {})", log.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What tests/moto/sitecustomize.py logs when it has made moto serve one request at a time.
const SERIALIZED: &str = "confab sitecustomize: moto requests serialized";

/// moto answers HTTP (not just accepts connections: it binds before it is ready).
fn ready(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut first = [0u8; 12];
    std::io::Read::read_exact(&mut stream, &mut first).is_ok() && first.starts_with(b"HTTP/1.")
}

/// The moto server of this test binary, started on first use.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(Moto::start)
}

/// SDK configuration for moto: fixed fake credentials and region, endpoint moto's URL;
/// nothing read from the process environment that matters.
pub async fn sdk_config() -> SdkConfig {
    sdk_config_for(&moto().url).await
}

pub async fn sdk_config_for(url: &str) -> SdkConfig {
    config_loader(url).load().await
}

/// Like [`sdk_config_for`] with the retries of [`crate::clients::retries`] and a short
/// time limit instead of [`crate::clients::timeouts`]'s, for tests of a stalled service.
pub async fn sdk_config_with_timeout(url: &str, timeout: Duration) -> SdkConfig {
    let timeouts = TimeoutConfig::builder().operation_timeout(timeout).build();
    config_loader(url).retry_config(crate::clients::retries()).timeout_config(timeouts).load().await
}

/// Like [`sdk_config_for`] but without retries, for tests of unreachable endpoints.
pub async fn sdk_config_without_retries(url: &str) -> SdkConfig {
    config_loader(url).retry_config(RetryConfig::standard().with_max_attempts(1)).load().await
}

fn config_loader(url: &str) -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(crate::clients::retries())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "confab-tests"))
        .endpoint_url(url)
}

/// A URL where nothing listens (a port just found free).
pub fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

pub async fn clients() -> AwsClients {
    AwsClients::from_sdk_config(&sdk_config().await, S3Options { force_path_style: true })
}

/// A name no other test (of any binary sharing this moto, or of an earlier run) uses:
/// lower-case letters, digits and dashes, valid for tables, buckets and secrets.
pub fn unique_name(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("confab-{what}-{}-{n}-{nanos:x}", std::process::id())
}
