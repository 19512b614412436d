//! `confab-mock-provider`: the mock LLM provider as a standalone server.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use confab_mock_provider::MockProvider;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

/// A mock LLM provider speaking the OpenAI, Anthropic, Gemini and Bedrock wire formats, with
/// injectable latency and faults (control API under /_mock/).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the base URL is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: String,
    /// Default time to first token, in milliseconds.
    #[arg(long, default_value_t = 0)]
    ttft_ms: u64,
    /// Default delay between tokens, in milliseconds.
    #[arg(long, default_value_t = 0)]
    token_delay_ms: u64,
    /// Bedrock access key id whose SigV4 signatures are verified.
    #[arg(long, requires = "bedrock_secret_access_key")]
    bedrock_access_key_id: Option<String>,
    /// Bedrock secret access key to verify signatures with.
    #[arg(long, requires = "bedrock_access_key_id")]
    bedrock_secret_access_key: Option<String>,
    /// A model for GET /v1/models to list (repeatable; models with a scenario are listed too).
    #[arg(long = "model")]
    models: Vec<String>,
    /// How many requests the request log keeps.
    #[arg(long, default_value_t = 10_000)]
    max_recorded: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let args = Args::parse();

    let mut builder = MockProvider::builder()
        .ttft(Duration::from_millis(args.ttft_ms))
        .token_delay(Duration::from_millis(args.token_delay_ms))
        .max_recorded(args.max_recorded);
    if let (Some(id), Some(secret)) = (args.bedrock_access_key_id, args.bedrock_secret_access_key) {
        builder = builder.bedrock_credentials(id, secret);
    }
    if !args.models.is_empty() {
        builder = builder.models(args.models);
    }
    let handle = match builder.spawn(args.listen.as_str()).await {
        Ok(handle) => handle,
        Err(err) => {
            error!(listen = %args.listen, error = %err, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    info!(addr = %handle.addr(), "confab mock provider listening");
    println!("{}", handle.base_url());
    shutdown_signal().await;
    info!("shutting down");
    handle.shutdown().await;
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
