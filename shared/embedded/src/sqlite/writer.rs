//! The store's one write connection, owned by a dedicated thread that commits queued
//! writes in groups.
//!
//! SQLite allows one writer at a time per file anyway, and a commit (appending to the
//! WAL, taking and dropping the file lock) costs more than a small write. So rather than
//! one `BEGIN IMMEDIATE … COMMIT` per write, the thread takes every write queued while it
//! was busy and runs them, in arrival order, in one transaction (group commit). A failed
//! write (a condition, an overflow) leaves no trace while the others in the group still
//! commit: a write of several statements runs in its own savepoint; one whose only
//! change is its last statement needs none, since SQLite applies a statement whole or
//! not at all (the savepoint's journal was a fifth of the store's instructions under
//! load). Each caller gets its own
//! result, and only once the group has committed, so an `Ok` is always durable and
//! visible to later reads.

use super::{purge_expired, unavailable};
use confab_core::ports::store::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::panic::{AssertUnwindSafe, catch_unwind};
use tokio::sync::{mpsc, oneshot};

/// Most writes committed together: bounds how long one transaction holds the file's
/// write lock (other processes wait for it) to a few milliseconds.
const MAX_GROUP: usize = 64;

/// Sends writes to the writer thread. Cloning shares the thread; it stops once every
/// clone has been dropped, closing the connection.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub(super) fn start(conn: Connection) -> Result<Self, StoreError> {
        let (queue, jobs) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("confab-sqlite-writer".into())
            .spawn(move || serve(conn, jobs))
            .map_err(|e| unavailable(format!("starting the store writer: {e}")))?;
        Ok(Writer { queue })
    }

    /// Runs `work` in a write transaction at time `now` (unix seconds) and returns its
    /// result once committed. Blocks the calling thread when there is no tokio runtime
    /// to wait in. `changes` says whether a failed `work` may have changed anything.
    pub(super) async fn run<T, F>(&self, now: i64, changes: Changes, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let job = Queued { now, changes, work: Some(work), result: None, reply };
        self.queue.send(Box::new(job)).map_err(|_| stopped())?;
        let result =
            if tokio::runtime::Handle::try_current().is_ok() { result.await } else { result.blocking_recv() };
        result.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    unavailable("the store writer stopped")
}

/// What a write changes before it can fail.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Changes {
    /// Nothing: its one change is its last statement, which SQLite applies whole or not at all.
    LastStatementOnly,
    /// Possibly some of its changes, which a savepoint undoes.
    Several,
}

/// A queued write, its result type erased so that one queue carries them all.
trait Job: Send {
    /// The caller's time, for expiry decisions.
    fn now(&self) -> i64;
    fn changes(&self) -> Changes;
    /// Runs the write inside the group's transaction and keeps its result; `false` when
    /// it failed, so its changes must be rolled back.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Replies to the caller: its own result, unless it succeeded and the group then
    /// failed to commit (`commit` is that failure).
    fn reply(self: Box<Self>, commit: Option<&str>);
}

struct Queued<T, F> {
    now: i64,
    changes: Changes,
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Queued<T, F>
where
    T: Send,
    F: FnOnce(&Connection, i64) -> Result<T, StoreError> + Send,
{
    fn now(&self) -> i64 {
        self.now
    }

    fn changes(&self) -> Changes {
        self.changes
    }

    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else { return false };
        // A panicking write fails alone rather than taking the thread (and so every
        // later write) with it; its savepoint is rolled back like any failure's.
        let result = catch_unwind(AssertUnwindSafe(|| work(conn, self.now)))
            .unwrap_or_else(|_| Err(unavailable("a store write panicked")));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn reply(self: Box<Self>, commit: Option<&str>) {
        let result = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (_, Some(failure)) => Err(unavailable(failure)),
            (Some(ok), None) => ok,
            (None, None) => Err(unavailable("a store write never ran")),
        };
        // The caller may have stopped waiting (its future dropped): nothing to do.
        let _ = self.reply.send(result);
    }
}

/// The writer thread: waits for a write, takes whatever else is queued behind it, and
/// commits the group.
fn serve(mut conn: Connection, mut jobs: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    let mut purge = PurgeSchedule::default();
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = jobs.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let commit = commit_group(&mut conn, &mut group, &mut purge).err().map(|e| match e {
            StoreError::Unavailable(reason) => reason,
            other => other.to_string(),
        });
        for job in group.drain(..) {
            job.reply(commit.as_deref());
        }
    }
}

/// Runs `group` in one `BEGIN IMMEDIATE` transaction (the write lock taken up front, so
/// conditions checked inside hold until commit), after purging expired rows when due.
fn commit_group(
    conn: &mut Connection,
    group: &mut [Box<dyn Job>],
    purge: &mut PurgeSchedule,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
    // The earliest caller's time: purging by a later one could remove a row that an
    // earlier caller in the group must still see as live.
    if let Some(now) = group.iter().map(|job| job.now()).min() {
        purge.run_if_due(&tx, now)?;
    }
    for job in group.iter_mut() {
        run_in_savepoint(&tx, job.as_mut())?;
    }
    // A failed commit rolls back as the transaction drops.
    tx.commit().map_err(unavailable)
}

/// Runs one job so that, if it fails, whatever it wrote is undone.
fn run_in_savepoint(conn: &Connection, job: &mut dyn Job) -> Result<(), StoreError> {
    if job.changes() == Changes::LastStatementOnly {
        job.run(conn);
        return Ok(());
    }
    let exec =
        |sql: &str| conn.prepare_cached(sql).and_then(|mut stmt| stmt.execute([])).map_err(unavailable);
    exec("SAVEPOINT job")?;
    if !job.run(conn) {
        exec("ROLLBACK TO job")?;
    }
    exec("RELEASE job").map(drop)
}

/// When to physically remove expired rows (reads ignore them anyway, so this only
/// bounds the file's growth): at most once per second of the store's clock, unless the
/// last purge hit its batch limit and more may be waiting.
#[derive(Default)]
struct PurgeSchedule {
    last: Option<i64>,
    more: bool,
}

impl PurgeSchedule {
    fn run_if_due(&mut self, conn: &Connection, now: i64) -> Result<(), StoreError> {
        if self.more || self.last.is_none_or(|last| now > last) {
            self.more = purge_expired(conn, now)?;
            self.last = Some(now);
        }
        Ok(())
    }
}
