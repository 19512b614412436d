//! The overhead table: the same completions sent straight to the mock provider, through
//! confab's `/v1` and through any other OpenAI-compatible gateways, at concurrency 1 and 32,
//! streamed (and whole, when asked). Prints one Markdown table.

use futures::StreamExt;
use std::time::{Duration, Instant};

use crate::chat::{Chat, Results, Target};
use crate::servers::{self, Account, PROVIDER_KEY};

const CONCURRENCY: [usize; 2] = [1, 32];

pub struct Options {
    pub requests: usize,
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
    for &stream in modes {
        for c in CONCURRENCY {
            let mut direct = None;
            for target in &targets {
                let row = measure(&Chat::Completion { target, stream }, c, options.requests).await;
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
    match confab.peak_rss() {
        Some(bytes) => println!("\nconfab peak RSS: {:.1} MiB", servers::mib(bytes)),
        None => println!("\nconfab peak RSS: unavailable (not Linux)"),
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
