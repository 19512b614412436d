//! The core's store conformance suite against `SqliteStore`.

use confab_embedded::SqliteStore;
use std::ops::Deref;
use tempfile::TempDir;

/// A store in its own temporary folder, deleted when the test ends.
struct TempStore {
    store: SqliteStore,
    _dir: TempDir,
}

impl Deref for TempStore {
    type Target = SqliteStore;

    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

fn temp_store() -> TempStore {
    let dir = tempfile::tempdir().expect("temp dir");
    // A nested path: open creates the folders.
    let store = SqliteStore::open(dir.path().join("data/local/confab.db")).expect("open store");
    TempStore { store, _dir: dir }
}

confab_core::store_conformance_tests!(async { temp_store() });

#[tokio::test]
async fn in_memory_store_conforms() {
    let store = SqliteStore::open_in_memory().expect("open in memory");
    confab_core::conformance::run_all(&store).await;
}

/// Two handles on one file stand for two processes; the suite's unique prefixes let
/// both run it at once, so every case also runs under cross-connection contention.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_conform_side_by_side() {
    let first = temp_store();
    let second = SqliteStore::open(first._dir.path().join("data/local/confab.db")).expect("open");
    tokio::join!(confab_core::conformance::run_all(&*first), confab_core::conformance::run_all(&second),);
}
