//! `cargo run`: the whole API on 127.0.0.1:8080 (CONFAB_LISTEN), data in ./.confab
//! (CONFAB_DATA_DIR). Settings come from `CONFAB_*` environment variables, over
//! `confab.toml` in the working directory when present.

use confab_native::LogWriter;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const CONFIG_FILE: &str = "confab.toml";
/// Password hashing (Argon2id, 19 MiB each) runs on blocking threads: bounded, a flood
/// of logins queues instead of taking the machine's memory.
const MAX_BLOCKING_THREADS: usize = 16;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    init_tracing();
    let settings = match settings() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match confab_local::start(settings).await {
        Ok(server) => {
            tracing::info!(address = %server.addr(), data_dir = %server.data_dir.display(),
                "confab is serving /auth, /chat, /v1, /sessions, /shared and /admin; API description at /openapi.json");
            stop_signal().await;
            tracing::info!("shutting down (a second Ctrl-C or SIGTERM stops at once)");
            tokio::spawn(async {
                stop_signal().await;
                tracing::warn!("stopped at once: counts not yet written are lost");
                std::process::exit(1);
            });
            match server.stop().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "the last token counts and usage could not be written");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM (what `docker stop` and service managers send).
async fn stop_signal() {
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

/// JSON lines when the output is not a terminal (containers, log shippers), readable
/// text otherwise; written so that a full disk or a stuck pipe loses log lines, never
/// requests (`LogWriter`).
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(LogWriter::stdout());
    if std::io::stdout().is_terminal() {
        builder.init();
    } else {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init();
    }
}

/// `confab.toml` (flat `CONFAB_NAME = value` pairs), overridden by the environment.
fn settings() -> Result<BTreeMap<String, String>, String> {
    let mut settings = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(CONFIG_FILE) {
        let table: toml::Table = text.parse().map_err(|e| format!("{CONFIG_FILE}: {e}"))?;
        for (key, value) in table {
            let value = match value {
                toml::Value::String(s) => s,
                other => other.to_string(),
            };
            settings.insert(key, value);
        }
    }
    settings.extend(confab_native::env_settings());
    Ok(settings)
}
