//! Logs on Workers: the core's tracing events, and its metrics, as JSON lines on the
//! console.

use confab_core::metrics::{Event, lines};
use confab_core::ports::MetricsSink;
use std::cell::OnceCell;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Installs the subscriber, once per isolate; Workers Logs collects the console.
pub fn init() {
    thread_local! {
        static DONE: OnceCell<()> = const { OnceCell::new() };
    }
    DONE.with(|done| {
        done.get_or_init(|| {
            let _ = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .without_time()
                .with_ansi(false)
                .with_writer(Console)
                .try_init();
        });
    });
}

/// Warnings and errors to `console.error`, the rest to `console.log`, so that Workers
/// Logs can filter by level.
struct Console;

impl<'a> MakeWriter<'a> for Console {
    type Writer = ConsoleLine;

    fn make_writer(&'a self) -> ConsoleLine {
        ConsoleLine { text: Vec::new(), error: false }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> ConsoleLine {
        ConsoleLine { text: Vec::new(), error: *meta.level() <= Level::WARN }
    }
}

/// One log line, written to the console when the subscriber drops it.
struct ConsoleLine {
    text: Vec<u8>,
    error: bool,
}

impl std::io::Write for ConsoleLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ConsoleLine {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.text);
        if self.error {
            worker::console_error!("{}", line.trim_end());
        } else {
            worker::console_log!("{}", line.trim_end());
        }
    }
}

/// Metrics as JSON lines (`"kind":"metrics"`) for Workers Logs and Logpush: an isolate
/// sees only its own requests, so these lines, not `/admin/metrics`, are the truth.
pub struct ConsoleMetrics;

impl MetricsSink for ConsoleMetrics {
    fn emit(&self, event: &Event<'_>) {
        worker::console_log!("{}", lines::json_line(event));
    }
}
