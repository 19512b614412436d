//! [`Store`] on a single SQLite file, with the DynamoDB adapter's semantics.
//!
//! Several processes may share one file: it runs in WAL mode with a busy timeout, and
//! every write (conditional or not) is a `BEGIN IMMEDIATE` transaction, so reading the
//! current item and writing the new one can't interleave with another writer.
//!
//! Keys are stored as BLOBs, so SQLite compares them bytewise (as DynamoDB compares
//! UTF-8 strings), and prefixes become `>= prefix AND < successor` ranges: no LIKE or
//! GLOB, so no wildcard characters to escape.

use async_trait::async_trait;
use confab_core::ports::Clock;
use confab_core::ports::store::{
    Condition, Index, Item, MAX_PAGE, Page, Query, SkRange, Store, StoreError, Write, add_deltas,
    check_deltas, check_item, check_key, check_restore, check_transaction, decode_cursor, decode_scan_cursor,
    encode_cursor, encode_scan_cursor,
};
use confab_native::SystemClock;
use readers::Readers;
use rusqlite::types::Value as Sql;
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior, params, params_from_iter,
};
use serde_json::Map;
use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use writer::{Changes, Writer};

mod readers;
mod writer;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk BLOB NOT NULL,
    sk BLOB NOT NULL,
    gsi1pk BLOB,
    gsi1sk BLOB,
    data TEXT NOT NULL,
    expires_at INTEGER,
    version INTEGER NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk)
    WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at)
    WHERE expires_at IS NOT NULL;
";

const COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, data, expires_at, version";
const LIVE: &str = "(expires_at IS NULL OR expires_at > ?)";
/// How long a write waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Expired rows removed per purge, to keep any one write group's extra work small.
const PURGE_BATCH: i64 = 100;
/// Prepared statements kept per connection: the fixed ones plus the query shapes
/// (index × range × cursor × direction × limit) in use.
const STATEMENT_CACHE: usize = 64;

/// See the module docs. Cloning shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    // All writes go through one connection on its own thread, which commits them in
    // groups (see `writer`); SQLite serialises writers anyway. Reads use a pool of
    // connections that don't wait for writes; other processes use their own.
    writer: Writer,
    // None for an in-memory store, whose database only its one connection can see:
    // reads then queue with the writes.
    readers: Option<Arc<Readers>>,
    clock: Arc<dyn Clock>,
}

/// Creates the store file, if missing, readable by its owner only: it holds password
/// and token hashes. SQLite gives its WAL and shared-memory files the same mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::File::options();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent folders) the store file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| unavailable(format!("creating {}: {e}", parent.display())))?;
        }
        create_private(path).map_err(|e| unavailable(format!("creating {}: {e}", path.display())))?;
        let conn =
            Connection::open(path).map_err(|e| unavailable(format!("opening {}: {e}", path.display())))?;
        configure(&conn)?;
        // WAL: readers don't block the writer and vice versa, across processes too.
        let mode = retry_while_busy(|| {
            conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0))
        })
        .map_err(|e| unavailable(format!("opening {}: {e}", path.display())))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(unavailable(format!("{} can't use WAL mode (got {mode})", path.display())));
        }
        // Safe with WAL (a crash may lose the last commits, never corrupt).
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(unavailable)?;
        Self::with_connection(conn, Some(Readers::new(path.to_path_buf())))
    }

    /// A private store that vanishes when dropped, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(unavailable)?;
        configure(&conn)?;
        Self::with_connection(conn, None)
    }

    /// Uses `clock` instead of the system clock to decide what has expired.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn with_connection(mut conn: Connection, readers: Option<Readers>) -> Result<Self, StoreError> {
        // IMMEDIATE, so that processes creating the schema at once queue on the busy
        // timeout rather than fail to upgrade a read lock. A failed try rolls back.
        retry_while_busy(|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA)?;
            tx.commit()
        })
        .map_err(unavailable)?;
        Ok(SqliteStore {
            writer: Writer::start(conn)?,
            readers: readers.map(Arc::new),
            clock: Arc::new(SystemClock),
        })
    }

    /// Runs `work` in a write transaction (grouped with other queued writes), passing
    /// the current time in unix seconds.
    async fn write<T, F>(&self, changes: Changes, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.run(self.clock.now_unix(), changes, work).await
    }

    /// Runs a short read (one indexed row) right on the calling thread: WAL readers
    /// don't wait for writers, so this takes microseconds, less than a hop to another
    /// thread and back.
    async fn read_now<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let now = self.clock.now_unix();
        match &self.readers {
            Some(readers) => readers.with(|conn| work(conn, now)),
            None => self.writer.run(now, Changes::LastStatementOnly, work).await,
        }
    }

    /// Runs a read that may take longer (a page of up to [`MAX_PAGE`] rows) off the
    /// async threads (inline when there's no tokio runtime).
    async fn read_blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        let now = self.clock.now_unix();
        let Some(readers) = &self.readers else {
            return self.writer.run(now, Changes::LastStatementOnly, work).await;
        };
        let readers = Arc::clone(readers);
        let job = move || readers.with(|conn| work(conn, now));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(job)
                .await
                .map_err(|e| unavailable(format!("store task failed: {e}")))?,
            Err(_) => job(),
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        check_key(pk, sk)?;
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.read_now(move |conn, now| load_live(conn, &pk, &sk, now)).await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        check_item(&item)?;
        self.write(Changes::LastStatementOnly, move |conn, now| put_in(conn, &item, condition, now)).await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError> {
        check_key(pk, sk)?;
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.write(Changes::LastStatementOnly, move |conn, now| delete_in(conn, &pk, &sk, condition, now))
            .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        if query.pk.is_empty() {
            return Err(StoreError::Invalid("empty partition key".into()));
        }
        let after = query.cursor.as_deref().map(|c| decode_cursor(c, query.index)).transpose()?;
        self.read_blocking(move |conn, now| query_page(conn, &query, after, now)).await
    }

    async fn add(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Item, StoreError> {
        check_key(pk, sk)?;
        let deltas = owned_deltas(deltas)?;
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.write(Changes::LastStatementOnly, move |conn, now| {
            add_in(conn, &pk, &sk, &deltas, expires_at, now)
        })
        .await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        check_transaction(&writes)?;
        if writes.is_empty() {
            return Ok(());
        }
        // Any failure returns early and the writer rolls this call's writes back.
        self.write(Changes::Several, move |conn, now| {
            writes.iter().try_for_each(|write| apply_write(conn, write, now))
        })
        .await
    }

    async fn scan(&self, cursor: Option<String>, limit: u32) -> Result<Page, StoreError> {
        let after = cursor.as_deref().map(decode_scan_cursor).transpose()?;
        self.read_blocking(move |conn, now| scan_page(conn, after, limit, now)).await
    }

    async fn restore(&self, item: Item) -> Result<bool, StoreError> {
        check_restore(&item)?;
        self.write(Changes::LastStatementOnly, move |conn, now| restore_in(conn, &item, now)).await
    }
}

/// Per-connection settings, for the writer and every reader.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Sorting temporaries in memory; the store is small and local.
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(unavailable)?;
    Ok(())
}

/// Retries `step` while another process holds a lock SQLite's busy timeout doesn't
/// cover (switching to WAL, WAL recovery), for up to [`BUSY_TIMEOUT`].
fn retry_while_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match step() {
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

// ---------------------------------------------------------------------------------------
// Validation (before touching the database)

/// Deltas as owned data (they go to another thread).
fn owned_deltas(deltas: &[(&str, i64)]) -> Result<Vec<(String, i64)>, StoreError> {
    check_deltas(deltas)?;
    Ok(deltas.iter().map(|(f, d)| (f.to_string(), *d)).collect())
}

// ---------------------------------------------------------------------------------------
// Writes

/// Physically removes a batch of expired rows (reads already ignore them); true when
/// the batch was full, so more may be left.
fn purge_expired(conn: &Connection, now: i64) -> Result<bool, StoreError> {
    let removed = conn
        .prepare_cached(
            "DELETE FROM items WHERE (pk, sk) IN
                (SELECT pk, sk FROM items WHERE expires_at <= ?1 LIMIT ?2)",
        )
        .and_then(|mut stmt| stmt.execute(params![now, PURGE_BATCH]))
        .map_err(unavailable)?;
    Ok(removed as i64 >= PURGE_BATCH)
}

fn put_in(conn: &Connection, item: &Item, condition: Condition, now: i64) -> Result<u64, StoreError> {
    let current = live_version(conn, &item.pk, &item.sk, now)?;
    condition.check(current)?;
    let version = current.map_or(1, |v| v + 1);
    write_row(conn, item, version)?;
    Ok(version)
}

fn delete_in(
    conn: &Connection,
    pk: &str,
    sk: &str,
    condition: Condition,
    now: i64,
) -> Result<(), StoreError> {
    condition.check(live_version(conn, pk, sk, now)?)?;
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| stmt.execute(params![pk.as_bytes(), sk.as_bytes()]))
        .map_err(unavailable)?;
    Ok(())
}

fn add_in(
    conn: &Connection,
    pk: &str,
    sk: &str,
    deltas: &[(String, i64)],
    expires_at: Option<i64>,
    now: i64,
) -> Result<Item, StoreError> {
    // An expired item counts as absent: the counter starts afresh.
    let current = load_live(conn, pk, sk, now)?;
    let version = current.as_ref().map_or(1, |item| item.version + 1);
    let mut item = current.unwrap_or_else(|| Item::new(pk, sk, Map::new()));
    add_deltas(&mut item.data, deltas)?;
    if expires_at.is_some() {
        item.expires_at = expires_at;
    }
    item.version = version;
    write_row(conn, &item, version)?;
    Ok(item)
}

fn restore_in(conn: &Connection, item: &Item, now: i64) -> Result<bool, StoreError> {
    if live_version(conn, &item.pk, &item.sk, now)?.is_some() {
        return Ok(false);
    }
    write_row(conn, item, item.version)?;
    Ok(true)
}

fn apply_write(conn: &Connection, write: &Write, now: i64) -> Result<(), StoreError> {
    match write {
        Write::Put { item, condition } => put_in(conn, item, *condition, now).map(drop),
        Write::Delete { pk, sk, condition } => delete_in(conn, pk, sk, *condition, now),
        Write::Check { pk, sk, condition } => condition.check(live_version(conn, pk, sk, now)?),
    }
}

/// Inserts or wholly replaces the row for `item`'s key.
fn write_row(conn: &Connection, item: &Item, version: u64) -> Result<(), StoreError> {
    let data = serde_json::to_string(&item.data).map_err(unavailable)?;
    let version = i64::try_from(version).map_err(unavailable)?;
    let (gsi1pk, gsi1sk) = match &item.gsi1 {
        Some((pk, sk)) => (Some(pk.as_bytes()), Some(sk.as_bytes())),
        None => (None, None),
    };
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO items ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            item.pk.as_bytes(),
            item.sk.as_bytes(),
            gsi1pk,
            gsi1sk,
            data,
            item.expires_at,
            version
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reads

/// The raw columns of a row, converted to an [`Item`] outside rusqlite's callbacks so
/// that bad stored data becomes a [`StoreError`].
struct Row7 {
    pk: Vec<u8>,
    sk: Vec<u8>,
    gsi1pk: Option<Vec<u8>>,
    gsi1sk: Option<Vec<u8>>,
    data: String,
    expires_at: Option<i64>,
    version: i64,
}

impl Row7 {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Row7 {
            pk: row.get(0)?,
            sk: row.get(1)?,
            gsi1pk: row.get(2)?,
            gsi1sk: row.get(3)?,
            data: row.get(4)?,
            expires_at: row.get(5)?,
            version: row.get(6)?,
        })
    }

    fn into_item(self) -> Result<Item, StoreError> {
        let text =
            |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|_| unavailable("stored key is not UTF-8"));
        let gsi1 = match (self.gsi1pk, self.gsi1sk) {
            (Some(pk), Some(sk)) => Some((text(pk)?, text(sk)?)),
            _ => None,
        };
        Ok(Item {
            pk: text(self.pk)?,
            sk: text(self.sk)?,
            gsi1,
            data: serde_json::from_str(&self.data)
                .map_err(|e| unavailable(format!("stored data is not a JSON object: {e}")))?,
            expires_at: self.expires_at,
            version: u64::try_from(self.version).map_err(unavailable)?,
        })
    }
}

fn load_live(conn: &Connection, pk: &str, sk: &str, now: i64) -> Result<Option<Item>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM items WHERE pk = ? AND sk = ? AND {LIVE}"))
        .and_then(|mut stmt| {
            stmt.query_row(params![pk.as_bytes(), sk.as_bytes(), now], Row7::read).optional()
        })
        .map_err(unavailable)?
        .map(Row7::into_item)
        .transpose()
}

fn live_version(conn: &Connection, pk: &str, sk: &str, now: i64) -> Result<Option<u64>, StoreError> {
    let version: Option<i64> = conn
        .prepare_cached(&format!("SELECT version FROM items WHERE pk = ? AND sk = ? AND {LIVE}"))
        .and_then(|mut stmt| {
            stmt.query_row(params![pk.as_bytes(), sk.as_bytes(), now], |row| row.get(0)).optional()
        })
        .map_err(unavailable)?;
    version.map(|v| u64::try_from(v).map_err(unavailable)).transpose()
}

/// The sort-key columns of an index, most significant first. GSI1 ties are broken by
/// the primary key so that every item has a distinct position for cursors.
fn index_columns(index: Index) -> (&'static str, &'static [&'static str]) {
    match index {
        Index::Primary => ("pk", &["sk"]),
        Index::Gsi1 => ("gsi1pk", &["gsi1sk", "pk", "sk"]),
    }
}

fn query_page(
    conn: &Connection,
    query: &Query,
    after: Option<Vec<String>>,
    now: i64,
) -> Result<Page, StoreError> {
    let (pk_column, order) = index_columns(query.index);
    let sk_column = order[0];
    let mut sql = format!("SELECT {COLUMNS} FROM items WHERE {pk_column} = ? AND {LIVE}");
    let mut args = vec![blob(&query.pk), Sql::Integer(now)];

    match &query.range {
        SkRange::All => {}
        SkRange::Prefix(prefix) => {
            sql += &format!(" AND {sk_column} >= ?");
            args.push(blob(prefix));
            if let Some(end) = prefix_end(prefix.as_bytes()) {
                sql += &format!(" AND {sk_column} < ?");
                args.push(Sql::Blob(end));
            }
        }
        SkRange::Between(low, high) => {
            sql += &format!(" AND {sk_column} >= ? AND {sk_column} <= ?");
            args.extend([blob(low), blob(high)]);
        }
    }
    if let Some(position) = after {
        // Row-value comparison: strictly past the last returned key, in query order.
        let op = if query.forward { ">" } else { "<" };
        let marks = vec!["?"; order.len()].join(", ");
        sql += &format!(" AND ({}) {op} ({marks})", order.join(", "));
        args.extend(position.iter().map(|k| blob(k)));
    }
    let direction = if query.forward { "ASC" } else { "DESC" };
    let order_by: Vec<String> = order.iter().map(|c| format!("{c} {direction}")).collect();
    let limit = query.limit.clamp(1, MAX_PAGE) as usize;
    // One extra row tells whether more follow, so the last page carries no cursor.
    sql += &format!(" ORDER BY {} LIMIT {}", order_by.join(", "), limit + 1);

    let mut rows = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(params_from_iter(args), Row7::read)?.collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(unavailable)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let items = rows.into_iter().map(Row7::into_item).collect::<Result<Vec<_>, _>>()?;
    let cursor = match items.last() {
        Some(last) if more => Some(encode_cursor(last, query.index)),
        _ => None,
    };
    Ok(Page { items, cursor })
}

/// One page of a scan: live rows in key order, strictly after `after`.
fn scan_page(
    conn: &Connection,
    after: Option<(String, String)>,
    limit: u32,
    now: i64,
) -> Result<Page, StoreError> {
    let (pk, sk) = after.unwrap_or_default();
    let limit = limit.clamp(1, MAX_PAGE) as usize;
    // No cursor is the empty key, before every stored one (keys are never empty).
    let sql =
        format!("SELECT {COLUMNS} FROM items WHERE (pk, sk) > (?, ?) AND {LIVE} ORDER BY pk, sk LIMIT ?");
    let mut rows = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            let args = params![pk.as_bytes(), sk.as_bytes(), now, limit as i64 + 1];
            stmt.query_map(args, Row7::read)?.collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(unavailable)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let items = rows.into_iter().map(Row7::into_item).collect::<Result<Vec<_>, _>>()?;
    let cursor = items.last().filter(|_| more).map(encode_scan_cursor);
    Ok(Page { items, cursor })
}

fn blob(s: &str) -> Sql {
    Sql::Blob(s.as_bytes().to_vec())
}

/// The smallest byte string greater than every string starting with `prefix`, or
/// `None` when there is none (empty or all-0xFF prefix: no upper bound needed).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn unavailable(e: impl Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_byte_string() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn without_a_runtime_calls_block_until_done() {
        let dir = tempfile::tempdir().expect("temp dir");
        for store in [SqliteStore::open_in_memory(), SqliteStore::open(dir.path().join("s.db"))] {
            let store = store.expect("open");
            let put = store.put(Item::new("p", "s", Map::new()), Condition::NotExists);
            assert_eq!(futures_lite_block_on(put).expect("put"), 1);
            let got = futures_lite_block_on(store.get("p", "s")).expect("get");
            assert_eq!(got.map(|item| item.version), Some(1));
        }
    }

    /// A minimal executor for a future that never waits (calls block here).
    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }
}
