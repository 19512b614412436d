//! Logs on Workers: the core's tracing events as JSON lines on the console.

use std::cell::OnceCell;

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
                .with_writer(|| ConsoleLine(Vec::new()))
                .try_init();
        });
    });
}

/// One log line, written to the console when the subscriber drops it.
struct ConsoleLine(Vec<u8>);

impl std::io::Write for ConsoleLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ConsoleLine {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.0);
        worker::console_log!("{}", line.trim_end());
    }
}
