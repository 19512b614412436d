//! The edge: the router and the four function Workers under `wrangler dev --local`
//! (workerd), as scripts/worker-build builds them, on DynamoDB, S3 and Secrets Manager
//! in moto.
//!
//! The repository's wrangler configs are read, not changed: each test writes them to a
//! folder of its own with the test's settings as vars, the router's rate limit as the
//! test asks, the built script's absolute path, and no build command (the Workers are
//! built once per test process, or by scripts/test before the tests run).
//!
//! The tools (Node 22, wrangler) come from scripts/edge-tools, which installs what is
//! missing and is quick when everything is there.

use crate::TestApp;
use crate::lambda::{AwsStack, MOTO_KEY, ProviderSetup, free_port, function_settings, workspace_root};
use confab_aws::testing::moto;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The Workers' crates under functions/, the router first: wrangler serves the first
/// config's Worker and reaches the others through its service bindings.
const WORKERS: [&str; 5] = ["router", "auth", "chat", "session", "admin"];

/// The router's per-address limit in tests that don't test it.
pub const HIGH_RATE_LIMIT: i64 = 100_000;

/// `wrangler dev` with the five Workers, stopped (with workerd) when dropped.
pub struct WorkerStack {
    pub url: String,
    dir: tempfile::TempDir,
    wrangler: Child,
}

impl Drop for WorkerStack {
    fn drop(&mut self) {
        // wrangler runs workerd as a child: stop the whole process group.
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.wrangler.id())]).status();
        let _ = self.wrangler.wait();
    }
}

impl WorkerStack {
    /// wrangler's output (the Workers' console included), for failure messages.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("wrangler.log")).unwrap_or_default()
    }
}

/// Starts the five Workers against `aws` and waits until every function answers
/// through the router. `rate_limit` is the router's per-address limit per minute.
pub async fn spawn_worker_app(
    aws: &AwsStack,
    provider: Option<&ProviderSetup>,
    overrides: &[(&str, &str)],
    rate_limit: i64,
) -> (TestApp, WorkerStack) {
    let stack = start_wrangler(&WORKERS, aws, provider, overrides, rate_limit, &[]).await;
    let app = TestApp::at(&stack.url);
    app.wait_healthy(Duration::from_secs(90), || stack.logs()).await;
    (app, stack)
}

/// The chat Worker alone, with its Cron Trigger at `/__scheduled` ([`WorkerStack::run_cron`]):
/// `wrangler dev` serves the first config's Worker only.
pub async fn spawn_scheduled_chat_worker(
    aws: &AwsStack,
    provider: Option<&ProviderSetup>,
    overrides: &[(&str, &str)],
) -> WorkerStack {
    let stack =
        start_wrangler(&["chat"], aws, provider, overrides, HIGH_RATE_LIMIT, &["--test-scheduled"]).await;
    TestApp::at(&stack.url)
        .wait_healthy_at(&["/chat/health"], Duration::from_secs(90), || stack.logs())
        .await;
    stack
}

impl WorkerStack {
    /// Runs the Worker's scheduled handler once, as its Cron Trigger would, and waits for it.
    pub async fn run_cron(&self) {
        let url = format!("{}/__scheduled?cron=*+*+*+*+*", self.url);
        let resp = reqwest::get(&url).await.expect("wrangler answers /__scheduled");
        assert!(resp.status().is_success(), "the scheduled handler failed:\n{}", self.logs());
    }
}

async fn start_wrangler(
    workers: &[&str],
    aws: &AwsStack,
    provider: Option<&ProviderSetup>,
    overrides: &[(&str, &str)],
    rate_limit: i64,
    args: &[&str],
) -> WorkerStack {
    let tools = edge_tools();
    built();
    let mut vars = function_settings(aws, provider, overrides).await;
    vars.extend([
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL".to_string(), moto().url.clone()),
        ("AWS_ACCESS_KEY_ID".to_string(), MOTO_KEY.0.to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), MOTO_KEY.1.to_string()),
    ]);
    let dir = tempfile::tempdir().expect("wrangler dir");
    let configs: Vec<PathBuf> =
        workers.iter().map(|name| write_config(dir.path(), name, &vars, rate_limit)).collect();

    let port = free_port();
    let log = std::fs::File::create(dir.path().join("wrangler.log")).expect("wrangler log");
    let mut cmd = Command::new(tools.get("CONFAB_WRANGLER").expect("edge-tools names wrangler"));
    cmd.arg("dev");
    for config in &configs {
        cmd.arg("-c").arg(config);
    }
    let wrangler = cmd
        .args(args)
        .args(["--local", "--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--inspector-port", &free_port().to_string(), "--show-interactive-dev-session=false"])
        .arg("--persist-to")
        .arg(dir.path().join("state"))
        .envs(&tools)
        .env("WRANGLER_LOG_PATH", dir.path().join("wrangler-debug.log"))
        .current_dir(dir.path())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start wrangler dev");
    WorkerStack { url: format!("http://127.0.0.1:{port}"), dir, wrangler }
}

/// `functions/<name>/wrangler.toml` (the router's is the top-level one) made runnable
/// here: the built script by absolute path, the test's vars, no environments.
fn write_config(dir: &Path, name: &str, vars: &BTreeMap<String, String>, rate_limit: i64) -> PathBuf {
    let root = workspace_root();
    let crate_dir = root.join("functions").join(name);
    let source = if name == "router" { root.join("wrangler.toml") } else { crate_dir.join("wrangler.toml") };
    let text = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let mut config: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    config.remove("build");
    config.remove("env");
    let main = crate_dir.join("build/index.js");
    config.insert("main".into(), main.display().to_string().into());
    if name == "router" {
        let limits = config.get_mut("ratelimits").and_then(|v| v.as_array_mut()).expect("router ratelimits");
        for limit in limits {
            limit["simple"]["limit"] = rate_limit.into();
        }
        let assets = config.get_mut("assets").and_then(|v| v.as_table_mut()).expect("router assets");
        assets.insert("directory".into(), root.join("web/dist").display().to_string().into());
        let router_vars = config.get_mut("vars").and_then(|v| v.as_table_mut()).expect("router vars");
        for name in ["CONFAB_MAX_BODY_BYTES", "CONFAB_CORS_ORIGINS"] {
            if let Some(value) = vars.get(name) {
                router_vars.insert(name.into(), value.clone().into());
            }
        }
    } else {
        let table: toml::Table = vars.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
        config.insert("vars".into(), table.into());
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml::to_string(&config).expect("config as TOML")).expect("write config");
    path
}

/// scripts/edge-tools' environment (it installs what is missing first).
fn edge_tools() -> BTreeMap<String, String> {
    static TOOLS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let out = Command::new(workspace_root().join("scripts/edge-tools"))
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/edge-tools");
            assert!(out.status.success(), "scripts/edge-tools failed");
            parse_exports(&String::from_utf8_lossy(&out.stdout))
        })
        .clone()
}

/// `export NAME='value'` lines, as scripts/edge-tools prints them.
fn parse_exports(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let (name, quoted) = line.strip_prefix("export ")?.split_once('=')?;
            let value = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
            Some((name.to_string(), value.replace("'\\''", "'")))
        })
        .collect()
}

/// Builds the five Workers once per test process, unless scripts/test just did
/// (`CONFAB_WORKERS_BUILT=1`).
fn built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if std::env::var("CONFAB_WORKERS_BUILT").is_ok_and(|v| v == "1") {
            return;
        }
        let status = Command::new(workspace_root().join("scripts/worker-build"))
            .arg("--all")
            .status()
            .expect("run scripts/worker-build");
        assert!(status.success(), "building the Workers failed");
    });
}

#[cfg(test)]
mod tests {
    use super::parse_exports;

    #[test]
    fn exports_are_read_as_the_shell_would() {
        let vars = parse_exports("export A='x y'\nexport B='it'\\''s'\nexport C='ends with '\\'''\nnoise\n");
        assert_eq!(vars["A"], "x y");
        assert_eq!(vars["B"], "it's");
        assert_eq!(vars["C"], "ends with '");
    }
}
