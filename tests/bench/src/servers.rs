//! The processes a benchmark runs against: the mock provider and confab's local server
//! (release builds beside this executable), and the account that calls confab.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The one model every benchmark asks for; confab routes it to the mock provider.
pub const MODEL: &str = "bench-model";
/// The provider key confab sends to the mock (the mock accepts any).
pub const PROVIDER_KEY: &str = "bench-key";

/// A child process killed when dropped.
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Resident memory now (`VmRSS`), in bytes (Linux).
    pub fn rss(&self) -> Option<u64> {
        self.status_kib("VmRSS:").map(|kib| kib * 1024)
    }

    /// Peak resident memory so far (`VmHWM`), in bytes (Linux).
    pub fn peak_rss(&self) -> Option<u64> {
        self.status_kib("VmHWM:").map(|kib| kib * 1024)
    }

    /// CPU time (user + system, all threads) used so far, in seconds (Linux).
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&self.0.id().to_string())
    }

    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

/// CPU time (user + system, all threads) process `pid` ("self" for this one) has used
/// so far, in seconds: `/proc/<pid>/stat`, in clock ticks of 1/100 s.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Bytes as MiB, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let path = exe.with_file_name(name);
    assert!(path.exists(), "{} not found: build it first (see the README)", path.display());
    path
}

/// Starts the mock provider; returns it with its base URL (no trailing slash).
pub fn start_mock() -> (Process, String) {
    let mut child = Command::new(sibling("confab-mock-provider"))
        .args(["--listen", "127.0.0.1:0", "--model", MODEL])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the mock provider");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the mock prints its URL");
    (Process(child), line.trim().trim_end_matches('/').to_string())
}

/// Makes every reply of the mock `tokens` tokens long, one every `delay_ms`.
pub async fn pace_mock(client: &reqwest::Client, mock: &str, tokens: usize, delay_ms: u64) {
    let scenario = json!({"tokens": tokens, "token_delay_ms": delay_ms});
    let resp = client.put(format!("{mock}/_mock/scenarios/{MODEL}")).json(&scenario).send().await.unwrap();
    assert!(resp.status().is_success(), "the mock refused the scenario: {}", resp.status());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// Starts confab on a fresh data directory, routing [`MODEL`] to the mock, with limits
/// high enough that no benchmark request is throttled; waits until it answers.
pub async fn start_confab(client: &reqwest::Client, mock: &str, data_dir: &Path) -> (Process, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let process = Process(
        Command::new(sibling("confab"))
            .env_clear()
            .envs([
                ("CONFAB_LISTEN", listen.as_str()),
                ("CONFAB_DATA_DIR", &data_dir.display().to_string()),
                ("CONFAB_OPENAI_BASE_URL", &format!("{mock}/v1")),
                ("CONFAB_OPENAI_API_KEY", PROVIDER_KEY),
                ("CONFAB_OPENAI_MODELS", MODEL),
                ("CONFAB_RATE_LIMIT_PER_MINUTE", "100000000"),
                ("CONFAB_REQUESTS_PER_MINUTE", "100000000"),
                ("CONFAB_TOKENS_PER_DAY", "100000000000"),
                ("RUST_LOG", "warn"),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("start confab"),
    );
    let url = format!("http://{listen}");
    for _ in 0..400 {
        if client.get(format!("{url}/auth/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            return (process, url);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("confab did not start");
}

/// A registered user of confab: an access token for the native API and an API key for `/v1`.
pub struct Account {
    pub token: String,
    pub api_key: String,
}

impl Account {
    pub async fn register(client: &reqwest::Client, url: &str) -> Self {
        let creds = json!({"email": "bench@example.com", "password": "benchmark password"});
        let registered = post_json(client, &format!("{url}/auth/register"), None, &creds).await;
        let token = registered["access_token"].as_str().expect("registered").to_string();
        let key =
            post_json(client, &format!("{url}/auth/api-keys"), Some(&token), &json!({"name": "bench"})).await;
        Self { token, api_key: key["key"].as_str().expect("a key").to_string() }
    }

    /// A new chat session with a title of its own (so no title request follows its first reply).
    pub async fn session(&self, client: &reqwest::Client, url: &str) -> String {
        let body = json!({"title": "bench", "model": MODEL});
        let session = post_json(client, &format!("{url}/sessions"), Some(&self.token), &body).await;
        session["id"].as_str().expect("a session").to_string()
    }
}

async fn post_json(client: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Value {
    let mut request = client.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let resp = request.send().await.unwrap();
    assert!(resp.status().is_success(), "POST {url}: {}", resp.status());
    resp.json().await.unwrap()
}
