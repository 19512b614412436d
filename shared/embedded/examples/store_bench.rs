//! The store calls of one gateway request (3 reads, 4 `add`s on hot rows), from many
//! tasks at once on a small runtime: a quick check of `SqliteStore` under concurrency.
//!
//!   cargo run --release -p confab-embedded --example store_bench [-- TASKS REQUESTS]

use confab_core::ports::store::{Condition, Item, Store};
use confab_embedded::SqliteStore;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

async fn one_request(store: &SqliteStore, n: usize) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (key, user, quota) =
        tokio::join!(store.get("KEY#1", "KEY"), store.get("USER#1", "USER"), store.get("QUOTA#1", "today"));
    let _ = (key.expect("get"), user.expect("get"), quota.expect("get"));
    store
        .add(&format!("RATE#ip#127.0.0.{}", n % 4), "0", &[("count", 1)], Some(now + 60))
        .await
        .expect("add");
    store.add("RATE#chat#1", "0", &[("count", 1)], Some(now + 60)).await.expect("add");
    let (a, b) = tokio::join!(
        store.add("QUOTA#1", "today", &[("tokens", 30)], Some(now + 86_400)),
        store.add(
            "USAGE#today",
            "1#model",
            &[("requests", 1), ("input_tokens", 10), ("output_tokens", 20)],
            None
        ),
    );
    a.expect("add");
    b.expect("add");
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (tasks, requests) = (args.first().copied().unwrap_or(32), args.get(1).copied().unwrap_or(20_000));
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let store = Arc::new(SqliteStore::open(dir.path().join("bench.db")).expect("open"));
    runtime.block_on(async {
        for (pk, sk) in [("KEY#1", "KEY"), ("USER#1", "USER")] {
            let data =
                json!({ "name": "x", "hash": "y".repeat(64) }).as_object().cloned().unwrap_or_default();
            store.put(Item::new(pk, sk, data), Condition::Always).await.expect("put");
        }
        let started = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for i in (t..requests).step_by(tasks) {
                        one_request(&store, i).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("task");
        }
        let secs = started.elapsed().as_secs_f64();
        println!("{tasks} tasks, {requests} requests: {:.0} requests/s", requests as f64 / secs);
    });
}
