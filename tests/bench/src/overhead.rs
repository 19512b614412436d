//! The overhead table: the same completions sent straight to the mock provider, through
//! confab's `/v1` and through any other OpenAI-compatible gateways, at concurrency 1 and 32
//! (or those asked for), streamed (and whole, when asked). Prints one Markdown table.

use futures::StreamExt;
use std::time::{Duration, Instant};

use crate::chat::{Chat, Results, Target};
use crate::servers::{self, Account, PROVIDER_KEY};

pub struct Options {
    pub requests: usize,
    pub concurrency: Vec<usize>,
    /// A mock provider already running (the peers point at it); else one is started.
    pub mock: Option<String>,
    /// Gateways measured beside confab.
    pub peers: Vec<Target>,
    pub non_streaming: bool,
}

struct Row {
    results: Results,
    rps: f64,
}

/// CPU time per request of each process on a row's path, in µs: where a request's cost
/// goes when client, provider and gateway share the machine.
struct Cpu {
    client: f64,
    /// Unknown when the mock was started by someone else.
    mock: Option<f64>,
    confab: f64,
}

pub async fn run(options: Options) {
    let client = reqwest::Client::new();
    let (_own_mock, mock_url) = match options.mock {
        Some(url) => (None, url.trim_end_matches('/').to_string()),
        None => {
            let (process, url) = servers::start_mock();
            (Some(process), url)
        }
    };
    let data_dir = tempfile::tempdir().expect("temp dir");
    let (confab, confab_url) = servers::start_confab(&client, &mock_url, data_dir.path()).await;
    let account = Account::register(&client, &confab_url).await;
    let direct = Target {
        name: "mock directly".into(),
        base_url: format!("{mock_url}/v1"),
        key: PROVIDER_KEY.into(),
        headers: Default::default(),
    };
    let gateway = Target {
        name: "confab".into(),
        base_url: format!("{confab_url}/v1"),
        key: account.api_key,
        headers: Default::default(),
    };
    let targets: Vec<Target> = [direct, gateway].into_iter().chain(options.peers).collect();
    let modes: &[bool] = if options.non_streaming { &[true, false] } else { &[true] };

    println!(
        "{} completions per row, a ~20-token reply; times in ms (a whole reply's TTFT is its end); \
         \"added\" and \"of direct\" against the mock directly\n",
        options.requests
    );
    println!(
        "| path | streamed | concurrency | TTFT p50 | TTFT p99 | TTFT p99 added | total p50 | total p99 | requests/s | of direct | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut failures = Vec::new();
    let mut cpu_rows = Vec::new();
    for &stream in modes {
        for &c in &options.concurrency {
            let mut direct = None;
            for target in &targets {
                let cpu_now = || {
                    let mock = _own_mock.as_ref().map(servers::Process::cpu_seconds);
                    (servers::cpu_seconds("self"), mock, confab.cpu_seconds())
                };
                let before = cpu_now();
                let row = measure(&Chat::Completion { target, stream }, c, options.requests).await;
                let (after, n) = (cpu_now(), options.requests as f64);
                let per_request = |b: f64, a: f64| (a - b) * 1e6 / n;
                cpu_rows.push((
                    target.name.clone(),
                    stream,
                    c,
                    Cpu {
                        client: per_request(before.0, after.0),
                        mock: before.1.zip(after.1).map(|(b, a)| per_request(b, a)),
                        confab: per_request(before.2, after.2),
                    },
                ));
                let ttft_p99 = row.results.ms(|s| s.ttft, 0.99);
                let (direct_ttft_p99, direct_rps) = *direct.get_or_insert((ttft_p99, row.rps));
                let streamed = if stream { "yes" } else { "no" };
                let times = match row.results.samples.is_empty() {
                    true => "– | – | – | – | –".to_string(),
                    false => format!(
                        "{:.3} | {ttft_p99:.3} | {:+.3} | {:.3} | {:.3}",
                        row.results.ms(|s| s.ttft, 0.50),
                        ttft_p99 - direct_ttft_p99,
                        row.results.ms(|s| s.total, 0.50),
                        row.results.ms(|s| s.total, 0.99),
                    ),
                };
                println!(
                    "| {} | {streamed} | {c} | {times} | {:.0} | {:.2}x | {} |",
                    target.name,
                    row.rps,
                    row.rps / direct_rps,
                    row.results.errors.len()
                );
                if let Some(first) = row.results.errors.first() {
                    failures.push(format!("{} (streamed: {stream}, c={c}): {first}", target.name));
                }
            }
        }
    }
    for failure in failures {
        println!("\nfirst error of {failure}");
    }
    print_cpu(&cpu_rows);
    match confab.peak_rss() {
        Some(bytes) => println!("\nconfab peak RSS: {:.1} MiB", servers::mib(bytes)),
        None => println!("\nconfab peak RSS: unavailable (not Linux)"),
    }
}

/// CPU per request of the client (this process), the mock and confab, per row; a peer's
/// own process is not measured.
fn print_cpu(rows: &[(String, bool, usize, Cpu)]) {
    println!("\nCPU time per request in µs (user + system, all threads), of the processes on the machine:\n");
    println!("| path | streamed | concurrency | client | mock | confab |");
    println!("|---|---|---|---|---|---|");
    for (name, stream, c, cpu) in rows {
        let mock = cpu.mock.map_or("–".to_string(), |us| format!("{us:.0}"));
        let streamed = if *stream { "yes" } else { "no" };
        println!("| {name} | {streamed} | {c} | {:.0} | {mock} | {:.0} |", cpu.client, cpu.confab);
    }
}

/// Warms the path up, then sends `requests` chats, `concurrency` at a time.
async fn measure(chat: &Chat<'_>, concurrency: usize, requests: usize) -> Row {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    for _ in 0..concurrency.max(10) {
        let _ = chat.send(&client).await;
    }
    let started = Instant::now();
    let results: Results = futures::stream::iter(0..requests)
        .map(|_| chat.send(&client))
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect();
    let rps = results.samples.len() as f64 / started.elapsed().as_secs_f64();
    Row { results, rps }
}
