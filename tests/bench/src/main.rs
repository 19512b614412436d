//! confab's benchmarks and load tests, against release builds of confab's local server and
//! the mock provider (started beside this executable). Without a mode flag: the gateway
//! overhead table (see the README). Build and run:
//!
//!   cargo build --profile load -p confab-local -p confab-mock-provider -p confab-bench
//!   target/load/confab-bench [--requests 2000] [--non-streaming] [--mock URL --peers FILE]
//!   target/load/confab-bench --load 500
//!   target/load/confab-bench --slow-streams 2000

mod chat;
mod crowd;
mod overhead;
mod servers;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

use chat::Target;
use crowd::Crowd;

#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Load test: this many streaming chats at once (the mock at 40 tokens, one per 50 ms);
    /// fails on any error.
    #[arg(long, conflicts_with = "slow_streams")]
    load: Option<usize>,
    /// Many slow streams: this many chats at once with the mock at one token per 100 ms
    /// (100 tokens), reporting confab's memory per open stream; fails on any error.
    #[arg(long)]
    slow_streams: Option<usize>,
    /// Overhead table: completions per row.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Overhead table: the concurrencies measured (comma-separated); one alone makes a
    /// steady load to profile.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 32])]
    concurrency: Vec<usize>,
    /// Overhead table: also measure non-streamed completions.
    #[arg(long)]
    non_streaming: bool,
    /// Overhead table: use this running mock provider (base URL) instead of starting one.
    #[arg(long)]
    mock: Option<String>,
    /// Overhead table: a JSON file of other OpenAI-compatible gateways to measure beside
    /// confab: `[{"name", "base_url" (up to /v1), "key", "headers": {..}}]`.
    #[arg(long)]
    peers: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let crowd = match (args.load, args.slow_streams) {
        (Some(chats), _) => Some(Crowd { chats, tokens: 40, token_delay_ms: 50 }),
        (_, Some(chats)) => Some(Crowd { chats, tokens: 100, token_delay_ms: 100 }),
        _ => None,
    };
    if let Some(crowd) = crowd {
        return match crowd::run(crowd).await {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        };
    }
    let peers: Vec<Target> = match &args.peers {
        Some(path) => {
            let text = std::fs::read_to_string(path).expect("read the peers file");
            serde_json::from_str(&text).expect("a JSON list of peers")
        }
        None => Vec::new(),
    };
    overhead::run(overhead::Options {
        requests: args.requests,
        concurrency: args.concurrency,
        mock: args.mock,
        peers,
        non_streaming: args.non_streaming,
    })
    .await;
    ExitCode::SUCCESS
}
