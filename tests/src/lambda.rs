//! The four functions as real Lambda binaries: `cargo lambda watch --only-lambda-apis`
//! serves the Lambda runtime API and the function URLs (`/lambda-url/<name>/…`), and
//! this harness starts each function's debug binary against it, with DynamoDB, S3 and
//! Secrets Manager in moto; and the lease sweep (`confab-sweep`), which only
//! `cargo lambda invoke` reaches, as EventBridge would. One `watch` serves every function this way, while a plain
//! `cargo lambda watch` runs (and builds) one package per process.
//!
//! cargo-lambda comes from `CONFAB_CARGO_LAMBDA` (scripts/test installs it in its
//! virtualenv) or `cargo-lambda` on `PATH`; moto as in `confab_aws::testing`.

use crate::{HIGH_LIMITS, TestApp};
use confab_aws::testing::{self, moto};
use confab_aws::{AwsClients, S3Options, resources};
use confab_core::providers::ProviderKind;
use confab_core::providers::settings::default_secret_name;
use confab_native::{OsRandom, SystemClock};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const FUNCTIONS: [&str; 4] = ["auth", "chat", "session", "admin"];
/// The scheduled Lambda: a binary of the chat package, without a URL.
const SWEEP: &str = "sweep";
/// Instances per function: two, so that one chat instance can serve a resume while the
/// other is still streaming the reply (Lambda runs concurrent requests side by side).
const INSTANCES: usize = 2;
/// The fake credentials every process signs moto requests with.
pub(crate) const MOTO_KEY: (&str, &str) = ("testing", "testing");

/// The AWS resources of one stack: its own table, bucket and secret names in moto.
pub struct AwsStack {
    pub clients: AwsClients,
    pub table: String,
    pub bucket: String,
    pub secrets_prefix: String,
}

impl AwsStack {
    /// Creates the table, the bucket and the signing-key secrets, as a deployment's
    /// first-time setup does.
    pub async fn create() -> AwsStack {
        let clients =
            AwsClients::from_sdk_config(&testing::sdk_config().await, S3Options { force_path_style: true });
        let stack = AwsStack {
            table: testing::unique_name("table"),
            bucket: testing::unique_name("bucket"),
            secrets_prefix: format!("{}/", testing::unique_name("stack")),
            clients,
        };
        let names = (stack.table.as_str(), stack.bucket.as_str(), stack.secrets_prefix.as_str());
        resources::ensure(&stack.clients, names, &OsRandom, &SystemClock)
            .await
            .expect("create the resources");
        stack
    }

    /// The table, through the same adapter the functions use.
    pub fn store(&self) -> confab_aws::DynamoStore {
        confab_aws::DynamoStore::new(self.clients.dynamodb.clone(), &self.table)
    }

    /// Creates or replaces the secret `name` (under this stack's prefix).
    pub async fn put_secret(&self, name: &str, value: &str) {
        let id = format!("{}{name}", self.secrets_prefix);
        let sm = &self.clients.secrets;
        if sm.put_secret_value().secret_id(&id).secret_string(value).send().await.is_err() {
            sm.create_secret().name(&id).secret_string(value).send().await.expect("create secret");
        }
    }

    pub async fn secret(&self, name: &str) -> String {
        let id = format!("{}{name}", self.secrets_prefix);
        let out = self.clients.secrets.get_secret_value().secret_id(&id).send().await.expect("read secret");
        out.secret_string().expect("a string secret").to_string()
    }

    /// The settings that point a function (or a tool) at these resources.
    pub fn settings(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("CONFAB_TABLE".into(), self.table.clone()),
            ("CONFAB_BUCKET".into(), self.bucket.clone()),
            ("CONFAB_SECRETS_PREFIX".into(), self.secrets_prefix.clone()),
        ])
    }
}

/// A provider the chat function reaches, with its key stored in Secrets Manager.
pub struct ProviderSetup {
    pub kind: ProviderKind,
    pub settings_prefix: &'static str,
    pub base_url: String,
    pub models: String,
    pub api_key: String,
}

/// `cargo lambda watch` and the function processes, stopped when dropped.
pub struct LambdaStack {
    pub aws: AwsStack,
    pub url: String,
    pub logs: tempfile::TempDir,
    /// Each process with the function it runs (`sweep` included).
    processes: Vec<(&'static str, Child)>,
}

impl Drop for LambdaStack {
    fn drop(&mut self) {
        for (_, child) in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl LambdaStack {
    /// The function processes' logs, for failure messages.
    pub fn function_logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.logs.path()).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            out.push_str(&format!("--- {}\n{text}\n", entry.path().display()));
        }
        out
    }

    /// `cargo lambda invoke` of the sample event `events/<event>` on `confab-<function>`:
    /// the function's raw answer (for function URLs, `{statusCode, headers, cookies, body}`).
    pub fn invoke(&self, function: &str, event: &str) -> serde_json::Value {
        let port = self.url.rsplit(':').next().expect("port");
        let output = Command::new(cargo_lambda())
            .args(["lambda", "invoke", "-A", "127.0.0.1", "-P", port, "--output-format", "json"])
            .arg("--data-file")
            .arg(workspace_root().join("events").join(event))
            .arg(format!("confab-{function}"))
            .current_dir(workspace_root())
            .output()
            .expect("run cargo lambda invoke");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "invoke {event}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("invoke {event} printed no JSON ({e}): {stdout}"))
    }

    /// Kills every instance of `function` with SIGKILL, as a crash would.
    pub fn kill(&mut self, function: &str) {
        for (_, child) in self.processes.iter_mut().filter(|(name, _)| *name == function) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs the `confab-keys` tool against this stack's secrets.
    pub fn keys_tool(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(binaries().join("confab-keys"));
        aws_env(&mut cmd).env("CONFAB_SECRETS_PREFIX", &self.aws.secrets_prefix).args(args);
        cmd.output().expect("run confab-keys")
    }
}

/// Runs the `confab-data` tool (built with the functions) with `settings` as its whole
/// `CONFAB_*` environment, against moto.
pub fn data_tool(settings: &BTreeMap<String, String>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(binaries().join("confab-data"));
    aws_env(&mut cmd).envs(settings).args(args);
    cmd.output().expect("run confab-data")
}

/// Builds the function binaries (once per test process), starts `cargo lambda watch`
/// and every function against fresh AWS resources, and waits until all four answer.
pub async fn spawn_lambda_app(
    provider: Option<&ProviderSetup>,
    overrides: &[(&str, &str)],
) -> (TestApp, LambdaStack) {
    let binaries = binaries();
    let aws = AwsStack::create().await;
    let settings = function_settings(&aws, provider, overrides).await;

    let logs = tempfile::tempdir().expect("log dir");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut stack = LambdaStack { aws, url: url.clone(), logs, processes: Vec::new() };
    let mut watch = start_watch(port, stack.logs.path());
    wait_for_port(port, &mut watch, stack.logs.path());
    stack.processes.push(("watch", watch));
    let instances = FUNCTIONS.iter().flat_map(|f| (0..INSTANCES).map(move |i| (*f, i))).chain([(SWEEP, 0)]);
    for (function, instance) in instances {
        let log = stack.logs.path().join(format!("{function}-{instance}.log"));
        stack.processes.push((function, start_function(&binaries, function, &url, &settings, &log)));
    }
    let app = TestApp::for_lambda_urls(&url);
    app.wait_healthy(Duration::from_secs(60), || stack.function_logs()).await;
    (app, stack)
}

/// What every function process (or Worker) of a test stack reads: its AWS resources,
/// limits no test trips by accident, the provider (its key stored as a secret), and the
/// test's `overrides`.
pub async fn function_settings(
    aws: &AwsStack,
    provider: Option<&ProviderSetup>,
    overrides: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut settings = aws.settings();
    settings.extend(HIGH_LIMITS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if let Some(p) = provider {
        let secret = default_secret_name(p.kind);
        aws.put_secret(&secret, &p.api_key).await;
        let prefix = p.settings_prefix;
        settings.insert(format!("CONFAB_{prefix}_BASE_URL"), p.base_url.clone());
        settings.insert(format!("CONFAB_{prefix}_MODELS"), p.models.clone());
        settings.insert(format!("CONFAB_{prefix}_API_KEY_SECRET"), secret);
    }
    settings.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    settings
}

/// `target/<profile>`, with `confab-<function>` (`confab-sweep` with chat) and the tools
/// `confab-keys` and `confab-data` built now, in one build, so that the tests never run
/// stale binaries (`cargo test` does not hold the build lock while tests run).
fn binaries() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let tools = ["confab-keys".into(), "confab-data".into()];
            let packages: Vec<String> =
                FUNCTIONS.iter().map(|f| format!("confab-{f}")).chain(tools).collect();
            build(&packages)
        })
        .clone()
}

/// Builds `packages` and returns `target/<profile>`, where their binaries are.
pub(crate) fn build(packages: &[String]) -> PathBuf {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.arg("build").current_dir(workspace_root());
    for package in packages {
        cmd.args(["-p", package]);
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "building {packages:?} failed");
    // The test binary is target/<profile>/deps/<name>; the binaries sit beside deps/.
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn cargo_lambda() -> PathBuf {
    testing::tool(
        "CONFAB_CARGO_LAMBDA",
        "cargo-lambda",
        "cargo-lambda is needed for the Lambda scenario: run scripts/test (it installs it into its \
         virtualenv and sets CONFAB_CARGO_LAMBDA), or `pip install cargo-lambda`",
    )
}

fn start_watch(port: u16, logs: &Path) -> Child {
    let log = std::fs::File::create(logs.join("watch.log")).expect("watch log");
    Command::new(cargo_lambda())
        .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()])
        // It reads the workspace's metadata; logs stay outside the workspace.
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start cargo lambda watch")
}

fn start_function(
    binaries: &Path,
    function: &str,
    url: &str,
    settings: &BTreeMap<String, String>,
    log: &Path,
) -> Child {
    let name = format!("confab-{function}");
    let binary = binaries.join(&name);
    let log = std::fs::File::create(log).expect("function log");
    let mut cmd = Command::new(&binary);
    aws_env(&mut cmd)
        .envs(settings)
        .env("AWS_LAMBDA_RUNTIME_API", format!("{url}/.rt/{name}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()))
}

/// moto's endpoint and fake credentials, and nothing of the developer's own AWS or
/// confab setup.
fn aws_env(cmd: &mut Command) -> &mut Command {
    clean_env(cmd)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", MOTO_KEY.0)
        .env("AWS_SECRET_ACCESS_KEY", MOTO_KEY.1)
        .env("AWS_ENDPOINT_URL", &moto().url)
}

/// Nothing of the developer's own AWS or confab setup.
pub(crate) fn clean_env(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("CONFAB_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

fn wait_for_port(port: u16, watch: &mut Child, logs: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = || std::fs::read_to_string(logs.join("watch.log")).unwrap_or_default();
        if let Ok(Some(status)) = watch.try_wait() {
            panic!("cargo lambda watch exited with {status}:\n{}", log());
        }
        assert!(Instant::now() < deadline, "cargo lambda watch did not listen within 60 s:\n{}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
}
