//! Log output that can neither block a request nor crash the process: each line goes
//! through a bounded queue to a thread of its own that writes it out. A full queue
//! (output slower than logging) drops the line; a failed write (a full disk, a closed
//! pipe) is ignored. The subscriber writes to the queue only, so it never sees an error
//! either, and never reports one on stderr (which panics when stderr fails too).

use std::io::Write;
use std::sync::mpsc::{SyncSender, sync_channel};
use tracing_subscriber::fmt::MakeWriter;

/// Lines that may wait for the output before new ones are dropped.
const QUEUE_LINES: usize = 4096;

/// A `MakeWriter` for `tracing_subscriber::fmt` that hands lines to a writer thread.
#[derive(Clone)]
pub struct LogWriter {
    queue: SyncSender<Vec<u8>>,
}

impl LogWriter {
    /// Lines to stdout.
    pub fn stdout() -> LogWriter {
        LogWriter::to(std::io::stdout())
    }

    /// Lines to `out`, written by a new thread.
    pub fn to(mut out: impl Write + Send + 'static) -> LogWriter {
        let (queue, lines) = sync_channel::<Vec<u8>>(QUEUE_LINES);
        std::thread::spawn(move || {
            for line in lines {
                let _ = out.write_all(&line).and_then(|()| out.flush());
            }
        });
        LogWriter { queue }
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line { queue: &self.queue, buf: Vec::new() }
    }
}

/// One event's output, queued whole when the subscriber is done with it.
pub struct Line<'a> {
    queue: &'a SyncSender<Vec<u8>>,
    buf: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.queue.try_send(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LogWriter;
    use std::io::{self, Write};
    use std::sync::mpsc::{Receiver, channel};
    use std::time::{Duration, Instant};

    /// Output that fails every write, like a file on a full disk.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(28)) // ENOSPC
        }

        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(28))
        }
    }

    /// Output that never accepts a byte, like a pipe nobody reads.
    struct Stuck(Receiver<()>);

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            let _ = self.0.recv();
            Ok(0)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log_many(writer: LogWriter) -> Duration {
        let subscriber = tracing_subscriber::fmt().json().with_writer(writer).finish();
        let started = Instant::now();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..20_000 {
                tracing::info!(i, "a line");
            }
        });
        started.elapsed()
    }

    #[test]
    fn a_failing_output_neither_panics_nor_reports() {
        assert!(log_many(LogWriter::to(Full)) < Duration::from_secs(10));
    }

    #[test]
    fn a_stuck_output_does_not_block_logging() {
        let (_keep, never) = channel();
        assert!(log_many(LogWriter::to(Stuck(never))) < Duration::from_secs(10));
    }
}
