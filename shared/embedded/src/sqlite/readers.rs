//! Read-only connections to the store file, reused across reads.
//!
//! In WAL mode readers neither block the writer nor each other, so each concurrent read
//! gets its own connection (each with a warm statement cache) instead of queueing for
//! one. Each read is its own implicit transaction, so it sees everything committed
//! before it began, from this process or another.

use super::{configure, unavailable};
use confab_core::ports::store::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

/// Idle connections kept for reuse; more may be open during a burst (each read opens
/// one when none is idle), and the extra ones are closed afterwards.
const MAX_IDLE: usize = 8;

pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Self {
        Readers { path, idle: Mutex::new(Vec::new()) }
    }

    /// Runs `read` on an idle connection, or a new one when all are in use.
    pub(super) fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = match self.lock().pop() {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn);
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // The list is valid whatever a panicking holder was doing.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(&self) -> Result<Connection, StoreError> {
        // Not SQLITE_OPEN_READ_ONLY: a read-only connection can't recover a WAL left by a
        // crashed process. `query_only` guards against writes instead. The file exists
        // (the writer's connection created it), so no CREATE.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|e| unavailable(format!("opening {}: {e}", self.path.display())))?;
        configure(&conn)?;
        conn.pragma_update(None, "query_only", true).map_err(unavailable)?;
        Ok(conn)
    }
}
