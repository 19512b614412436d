//! Many streaming chats at once against confab's local server: half through `/v1` with an
//! API key, half through the native `/chat` API (a session each), all started together while
//! the mock provider paces its tokens so that they stay open side by side. Reports errors,
//! latency and confab's memory: idle, with the streams open, and per stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::chat::{Chat, Results, Target};
use crate::servers::{self, Account, mib};

/// How many chats, and how the mock paces each reply.
pub struct Crowd {
    pub chats: usize,
    pub tokens: usize,
    pub token_delay_ms: u64,
}

/// What every chat task shares.
struct Shared {
    client: reqwest::Client,
    confab: String,
    account: Account,
    v1: Target,
    sessions: Vec<String>,
    in_flight: AtomicUsize,
}

/// Runs the crowd; true when every chat completed.
pub async fn run(crowd: Crowd) -> bool {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(crowd.chats)
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let (_mock, mock_url) = servers::start_mock();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let (confab, confab_url) = servers::start_confab(&client, &mock_url, data_dir.path()).await;
    let account = Account::register(&client, &confab_url).await;
    let sessions = futures::stream::iter(0..crowd.chats / 2)
        .map(|_| account.session(&client, &confab_url))
        .buffer_unordered(8)
        .collect()
        .await;
    let v1 = Target {
        name: "confab".into(),
        base_url: format!("{confab_url}/v1"),
        key: account.api_key.clone(),
        headers: Default::default(),
    };
    let shared = Arc::new(Shared {
        client,
        confab: confab_url,
        account,
        v1,
        sessions,
        in_flight: AtomicUsize::new(0),
    });
    // Warm up both paths with quick replies, then measure idle memory and pace the mock.
    for i in 0..2 {
        chat(&shared, i).await.expect("a warm-up chat");
    }
    let idle = confab.rss().unwrap_or(0);
    servers::pace_mock(&shared.client, &mock_url, crowd.tokens, crowd.token_delay_ms).await;

    println!(
        "{} streaming chats at once against confab (half /v1 with an API key, half native /chat), \
         the mock at {} tokens a reply, one every {} ms",
        crowd.chats, crowd.tokens, crowd.token_delay_ms
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..crowd.chats {
        let shared = shared.clone();
        tasks.spawn(async move { chat(&shared, i).await });
    }
    let mut results = Vec::with_capacity(crowd.chats);
    let (mut most_open, mut most_rss) = (0, idle);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !tasks.is_empty() {
        tokio::select! {
            Some(done) = tasks.join_next() => results.push(done.unwrap_or_else(|e| Err(format!("task: {e}")))),
            _ = tick.tick() => {
                most_open = most_open.max(shared.in_flight.load(Ordering::Relaxed));
                most_rss = most_rss.max(confab.rss().unwrap_or(0));
            }
        }
    }
    let wall = started.elapsed();
    let results: Results = results.into_iter().collect();
    report(&results, wall, most_open);
    let per_stream = most_rss.saturating_sub(idle) / most_open.max(1) as u64;
    println!(
        "confab RSS: idle {:.1} MiB, with {most_open} streams open {:.1} MiB ({:.1} KiB a stream), peak {:.1} MiB",
        mib(idle),
        mib(most_rss),
        per_stream as f64 / 1024.0,
        mib(confab.peak_rss().unwrap_or(0))
    );
    results.errors.is_empty()
}

/// Chat `i`: the even ones through `/v1`, the odd ones through `/chat` in a session of their own.
async fn chat(shared: &Shared, i: usize) -> Result<crate::chat::Sample, String> {
    let chat = match i % 2 {
        0 => Chat::Completion { target: &shared.v1, stream: true },
        _ => Chat::Native {
            url: &shared.confab,
            token: &shared.account.token,
            session: &shared.sessions[i / 2],
        },
    };
    shared.in_flight.fetch_add(1, Ordering::Relaxed);
    let result = chat.send(&shared.client).await;
    shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    result
}

fn report(results: &Results, wall: Duration, most_open: usize) {
    println!(
        "completed: {}, errors: {}, most open at once: {most_open}, in {:.1} s",
        results.samples.len(),
        results.errors.len(),
        wall.as_secs_f64()
    );
    println!(
        "time to first token p50 {:.1} ms, p99 {:.1} ms; whole reply p50 {:.1} ms, p99 {:.1} ms",
        results.ms(|s| s.ttft, 0.50),
        results.ms(|s| s.ttft, 0.99),
        results.ms(|s| s.total, 0.50),
        results.ms(|s| s.total, 0.99)
    );
    for error in results.errors.iter().take(5) {
        println!("error: {error}");
    }
}
