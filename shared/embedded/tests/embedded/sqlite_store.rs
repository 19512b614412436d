//! SqliteStore beyond the conformance suite: sharing one file between handles (as
//! between processes), expiry by the store's clock, and damaged data.

use confab_core::ports::store::{Condition, Item, Query, SkRange, Store, StoreError};
use confab_core::testing::ManualClock;
use confab_embedded::SqliteStore;
use serde_json::{Map, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn data(value: serde_json::Value) -> Map<String, serde_json::Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn store_file(dir: &Path) -> PathBuf {
    dir.join("confab.db")
}

#[tokio::test]
async fn handles_on_one_file_see_each_others_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = SqliteStore::open(store_file(dir.path())).expect("open a");
    let b = SqliteStore::open(store_file(dir.path())).expect("open b");

    a.put(Item::new("p", "1", data(json!({ "by": "a" }))), Condition::NotExists).await.expect("a writes");
    let seen = b.get("p", "1").await.expect("b reads");
    assert_eq!(seen.and_then(|i| i.str("by").map(String::from)), Some("a".into()));

    let again = b.put(Item::new("p", "1", Map::new()), Condition::NotExists).await;
    assert!(matches!(again, Err(StoreError::ConditionFailed)), "{again:?}");
    b.put(Item::new("p", "1", data(json!({ "by": "b" }))), Condition::Version(1)).await.expect("b updates");
    let page = a.query(Query::new("p", SkRange::All)).await.expect("a queries");
    assert_eq!(page.items[0].str("by"), Some("b"));
    assert_eq!(page.items[0].version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conditional_writes_stay_exclusive_across_handles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stores: Vec<SqliteStore> =
        (0..4).map(|_| SqliteStore::open(store_file(dir.path())).expect("open")).collect();

    let creates = (0..20).map(|i| {
        let store = stores[i % stores.len()].clone();
        tokio::spawn(async move {
            let item = Item::new("race", "once", data(json!({ "writer": i })));
            store.put(item, Condition::NotExists).await
        })
    });
    let mut winners = 0;
    for handle in creates {
        match handle.await.expect("task") {
            Ok(_) => winners += 1,
            Err(StoreError::ConditionFailed) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(winners, 1);

    let adds = (0..40).map(|i| {
        let store = stores[i % stores.len()].clone();
        tokio::spawn(async move { store.add("race", "counter", &[("n", 1)], None).await })
    });
    for handle in adds {
        handle.await.expect("task").expect("add");
    }
    let counter = stores[0].get("race", "counter").await.expect("get").expect("exists");
    assert_eq!((counter.int("n"), counter.version), (Some(40), 40));
}

/// Writes queued together commit in one transaction: each failed one (a transaction
/// whose second write fails, an add that overflows, a conditional put) must leave no
/// trace while the others in its group commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_write_leaves_no_trace_in_its_group() {
    use confab_core::ports::store::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(store_file(dir.path())).expect("open");
    store.put(Item::new("g", "taken", Map::new()), Condition::Always).await.expect("seed");
    store.add("g", "full", &[("n", i64::MAX)], None).await.expect("seed");

    let writes = (0..60).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            match i % 4 {
                0 => store.add("g", "counter", &[("n", 1)], None).await.map(drop),
                1 => store.add("g", "full", &[("n", 1)], None).await.map(drop),
                2 => store.put(Item::new("g", "taken", Map::new()), Condition::NotExists).await.map(drop),
                _ => {
                    let half = Write::Put {
                        item: Item::new("g", format!("half-{i}"), Map::new()),
                        condition: Condition::NotExists,
                    };
                    let fails = Write::Put {
                        item: Item::new("g", "taken", Map::new()),
                        condition: Condition::NotExists,
                    };
                    store.transact(vec![half, fails]).await
                }
            }
        })
    });
    let mut failed = 0;
    for handle in writes {
        failed += usize::from(handle.await.expect("task").is_err());
    }
    assert_eq!(failed, 45, "every write but the counter's fails");
    let items = store.query(Query::new("g", SkRange::All)).await.expect("query").items;
    let keys: Vec<&str> = items.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(keys, ["counter", "full", "taken"], "no half-written transaction");
    let counter = &items[0];
    assert_eq!((counter.int("n"), counter.version), (Some(15), 15));
    assert_eq!((items[1].int("n"), items[1].version), (Some(i64::MAX), 1), "the overflow changed nothing");
    assert_eq!(items[2].version, 1, "the refused puts changed nothing");
}

#[tokio::test]
async fn expiry_follows_the_stores_clock_and_expired_rows_are_purged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::at(1_000));
    let store = SqliteStore::open(store_file(dir.path())).expect("open").with_clock(clock.clone());
    let item = Item::new("p", "s", Map::new()).with_gsi1("g", "s").expiring_at(1_010);
    store.put(item, Condition::Always).await.expect("put");
    assert!(store.get("p", "s").await.expect("get").is_some(), "not expired yet");

    clock.set(1_010); // expires_at <= now: gone
    assert!(store.get("p", "s").await.expect("get").is_none());
    let gsi = store.query(Query::new("g", SkRange::All).on_gsi1()).await.expect("query");
    assert!(gsi.items.is_empty());

    // Another handle whose clock is still before the expiry sees the row until a write
    // through the first handle purges it.
    let early =
        SqliteStore::open(store_file(dir.path())).expect("open").with_clock(Arc::new(ManualClock::at(1_000)));
    assert!(early.get("p", "s").await.expect("get").is_some());
    store.put(Item::new("p", "other", Map::new()), Condition::Always).await.expect("put");
    assert!(early.get("p", "s").await.expect("get").is_none(), "expired row not purged");
}

#[tokio::test]
async fn damaged_rows_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(store_file(dir.path())).expect("open");
    store.put(Item::new("p", "ok", Map::new()), Condition::Always).await.expect("put");

    let raw = rusqlite::Connection::open(store_file(dir.path())).expect("raw connection");
    raw.execute(
        "INSERT INTO items (pk, sk, data, version) VALUES (?1, ?2, 'not json', 1)",
        (b"p".as_slice(), b"bad".as_slice()),
    )
    .expect("insert damaged row");
    raw.execute(
        "INSERT INTO items (pk, sk, data, version) VALUES (?1, ?2, '{}', 1)",
        (b"p".as_slice(), b"\xff\xfe".as_slice()),
    )
    .expect("insert non-UTF-8 key");

    let got = store.get("p", "bad").await;
    assert!(matches!(got, Err(StoreError::Unavailable(_))), "{got:?}");
    let page = store.query(Query::new("p", SkRange::All)).await;
    assert!(matches!(page, Err(StoreError::Unavailable(_))), "{page:?}");
    assert!(store.get("p", "ok").await.expect("an intact row still reads").is_some());
}

#[test]
fn opening_an_unusable_path_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a database. ".repeat(256)).expect("write");
    // A parent that is a file, and a file that isn't a database.
    let under_file = SqliteStore::open(file.join("confab.db"));
    assert!(matches!(under_file, Err(StoreError::Unavailable(_))));
    let not_a_db = SqliteStore::open(&file);
    assert!(matches!(not_a_db, Err(StoreError::Unavailable(_))));
}

const CHILD_DB: &str = "CONFAB_TEST_CHILD_DB";

/// Real processes (this test binary run again as `child_process_worker`) hammering one
/// file: SQLite's file locks between processes, not just between connections.
#[test]
fn separate_processes_share_one_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = store_file(dir.path());
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "sqlite_store::child_process_worker", "--ignored", "--quiet"])
                .env(CHILD_DB, &db)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for child in children {
        // Their output stays out of this run's own (it has test result lines too).
        let out = child.wait_with_output().expect("child");
        let log = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a child process failed:\n{log}");
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = SqliteStore::open(&db).expect("open");
    let counter = runtime.block_on(store.get("procs", "counter")).expect("get");
    let counter = counter.expect("children wrote the counter");
    assert_eq!(counter.int("n"), Some(3 * 30), "lost updates between processes");
    assert_eq!(counter.int("wins"), Some(1), "NotExists must succeed in exactly one process");
}

/// The child half of `separate_processes_share_one_file`; does nothing when run alone.
#[tokio::test]
#[ignore = "run by separate_processes_share_one_file"]
async fn child_process_worker() {
    let Some(db) = std::env::var_os(CHILD_DB) else {
        return;
    };
    let store = SqliteStore::open(PathBuf::from(db)).expect("open");
    let claim = store.put(Item::new("procs", "once", Map::new()), Condition::NotExists).await;
    let won = match claim {
        Ok(_) => 1,
        Err(StoreError::ConditionFailed) => 0,
        Err(e) => panic!("claim failed: {e:?}"),
    };
    store.add("procs", "counter", &[("wins", won)], None).await.expect("add");
    for _ in 0..30 {
        store.add("procs", "counter", &[("n", 1)], None).await.expect("add");
    }
}
