//! Gateway overhead of a streamed completion: the same requests sent through confab's
//! `/v1/chat/completions` (API key, quota, routing, usage accounting) and straight to
//! the mock provider, at several concurrencies. Prints a Markdown table.
//!
//! Build and run (see the README):
//!   cargo build --release -p confab-local -p confab-mock-provider -p confab-bench
//!   target/release/confab-bench [--requests 2000]

use futures::StreamExt;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MODEL: &str = "bench-model";
const CONCURRENCY: [usize; 2] = [1, 32];

struct Sample {
    ttft: Duration,
    total: Duration,
}

struct Stats {
    ttft_p50: f64,
    ttft_p99: f64,
    total_p50: f64,
    total_p99: f64,
    rps: f64,
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Peak resident memory so far, in MiB (Linux).
    fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}

/// CPU time (user + system, all threads) a process has used so far, in seconds (Linux:
/// `/proc/<pid>/stat`, in clock ticks of 1/100 s).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time per request of each process on the path, in µs: where a request's cost goes.
struct CpuPerRequest {
    client: f64,
    mock: f64,
    confab: f64,
}

/// Measures the CPU the client (this process), the mock and confab use while `work` runs.
async fn cpu_per_request<T>(
    pids: (u32, u32),
    requests: usize,
    work: impl Future<Output = T>,
) -> (T, CpuPerRequest) {
    let now = || [cpu_seconds("self"), cpu_seconds(&pids.0.to_string()), cpu_seconds(&pids.1.to_string())];
    let before = now();
    let out = work.await;
    let after = now();
    let per = |i: usize| (after[i] - before[i]) * 1e6 / requests as f64;
    (out, CpuPerRequest { client: per(0), mock: per(1), confab: per(2) })
}

fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let path = exe.with_file_name(name);
    assert!(path.exists(), "{} not found: build it first (see the README)", path.display());
    path
}

fn start_mock() -> (Process, String) {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn start_confab(mock: &str, data_dir: &Path) -> (Process, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(sibling("confab"))
        .env_clear()
        .envs([
            ("CONFAB_LISTEN", listen.as_str()),
            ("CONFAB_DATA_DIR", &data_dir.display().to_string()),
            ("CONFAB_OPENAI_BASE_URL", &format!("{mock}/v1")),
            ("CONFAB_OPENAI_API_KEY", "bench-key"),
            ("CONFAB_OPENAI_MODELS", MODEL),
            ("CONFAB_RATE_LIMIT_PER_MINUTE", "100000000"),
            ("CONFAB_REQUESTS_PER_MINUTE", "100000000"),
            ("CONFAB_TOKENS_PER_DAY", "100000000000"),
            ("RUST_LOG", "warn"),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("start confab");
    (Process(child), format!("http://{listen}"))
}

async fn wait_until_up(client: &reqwest::Client, url: &str) {
    for _ in 0..200 {
        if client.get(format!("{url}/auth/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("confab did not start");
}

async fn api_key(client: &reqwest::Client, url: &str) -> String {
    let creds = json!({"email": "bench@example.com", "password": "benchmark password"});
    let registered: Value =
        client.post(format!("{url}/auth/register")).json(&creds).send().await.unwrap().json().await.unwrap();
    let token = registered["access_token"].as_str().expect("registered").to_string();
    let key: Value = client
        .post(format!("{url}/auth/api-keys"))
        .bearer_auth(token)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    key["key"].as_str().expect("a key").to_string()
}

/// One streamed completion: time to the first content chunk, and to the end.
async fn one(client: &reqwest::Client, url: &str, key: &str) -> Sample {
    let body = json!({"model": MODEL, "stream": true,
        "messages": [{"role": "user", "content": "Benchmark prompt: say something of twenty or so words."}]});
    let started = Instant::now();
    let resp =
        client.post(format!("{url}/v1/chat/completions")).bearer_auth(key).json(&body).send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let mut stream = resp.bytes_stream();
    let mut ttft = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("a complete stream");
        if ttft.is_none()
            && chunk.windows(10).any(|w| w == b"\"content\":")
            && !chunk.windows(12).any(|w| w == b"\"content\":\"\"")
        {
            ttft = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    Sample { ttft: ttft.unwrap_or(total), total }
}

async fn run(url: &str, key: &str, concurrency: usize, requests: usize) -> Stats {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap();
    for _ in 0..concurrency.max(10) {
        one(&client, url, key).await;
    }
    let started = Instant::now();
    let samples: Vec<Sample> = futures::stream::iter(0..requests)
        .map(|_| one(&client, url, key))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let pick = |f: fn(&Sample) -> Duration, q: f64| {
        let mut v: Vec<f64> = samples.iter().map(|s| f(s).as_secs_f64() * 1000.0).collect();
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
    };
    Stats {
        ttft_p50: pick(|s| s.ttft, 0.50),
        ttft_p99: pick(|s| s.ttft, 0.99),
        total_p50: pick(|s| s.total, 0.50),
        total_p99: pick(|s| s.total, 0.99),
        rps: requests as f64 / elapsed,
    }
}

fn row(path: &str, c: usize, s: &Stats) -> String {
    format!(
        "| {path} | {c} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} |",
        s.ttft_p50, s.ttft_p99, s.total_p50, s.total_p99, s.rps
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let requests = args
        .iter()
        .position(|a| a == "--requests")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let data_dir = tempfile::tempdir().expect("temp dir");
    let (mock, mock_url) = start_mock();
    let (confab, confab_url) = start_confab(&mock_url, data_dir.path());
    let client = reqwest::Client::new();
    wait_until_up(&client, &confab_url).await;
    let key = api_key(&client, &confab_url).await;

    let pids = (mock.pid(), confab.pid());
    let mut cpu_rows = Vec::new();
    println!("{requests} streamed completions per row; times in ms\n");
    println!("| path | concurrency | TTFT p50 | TTFT p99 | total p50 | total p99 | requests/s |");
    println!("|---|---|---|---|---|---|---|");
    for c in CONCURRENCY {
        let (direct, direct_cpu) =
            cpu_per_request(pids, requests, run(&mock_url, "bench-key", c, requests)).await;
        let (gateway, gateway_cpu) =
            cpu_per_request(pids, requests, run(&confab_url, &key, c, requests)).await;
        cpu_rows.push((c, direct_cpu, gateway_cpu));
        println!("{}", row("mock directly", c, &direct));
        println!("{}", row("through confab", c, &gateway));
        println!(
            "| added by confab | {c} | {:+.3} | {:+.3} | {:+.3} | {:+.3} | {:.2}x |",
            gateway.ttft_p50 - direct.ttft_p50,
            gateway.ttft_p99 - direct.ttft_p99,
            gateway.total_p50 - direct.total_p50,
            gateway.total_p99 - direct.total_p99,
            direct.rps / gateway.rps
        );
    }
    println!("\nCPU time per request, in µs (user + system, all threads; 2 cores shared by all three):\n");
    println!("| path | concurrency | client | mock | confab | all |");
    println!("|---|---|---|---|---|---|");
    for (c, direct, gateway) in cpu_rows {
        for (path, cpu) in [("mock directly", direct), ("through confab", gateway)] {
            let all = cpu.client + cpu.mock + cpu.confab;
            println!("| {path} | {c} | {:.0} | {:.0} | {:.0} | {all:.0} |", cpu.client, cpu.mock, cpu.confab);
        }
    }
    match confab.peak_rss_mib() {
        Some(mib) => println!("\nconfab peak RSS: {mib:.1} MiB"),
        None => println!("\nconfab peak RSS: unavailable (not Linux)"),
    }
}
