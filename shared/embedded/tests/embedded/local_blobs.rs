//! LocalBlobs: objects as files, key validation, prefix deletes.

use bytes::Bytes;
use confab_core::ports::blob::{BlobError, BlobStore};
use confab_embedded::LocalBlobs;
use std::path::Path;

fn blobs() -> (tempfile::TempDir, LocalBlobs) {
    let dir = tempfile::tempdir().expect("temp dir");
    let blobs = LocalBlobs::open(dir.path().join("blobs")).expect("open");
    (dir, blobs)
}

async fn put(blobs: &LocalBlobs, key: &str, body: &'static str) {
    blobs
        .put(key, "text/plain", Bytes::from_static(body.as_bytes()))
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

async fn get(blobs: &LocalBlobs, key: &str) -> Option<String> {
    let body = blobs.get(key).await.unwrap_or_else(|e| panic!("get {key}: {e:?}"));
    body.map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Every file under `dir`, as `/`-joined relative paths.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn put_get_and_overwrite() {
    let (_dir, blobs) = blobs();
    assert_eq!(get(&blobs, "users/1/avatar.png").await, None);
    put(&blobs, "users/1/avatar.png", "v1").await;
    assert_eq!(get(&blobs, "users/1/avatar.png").await.as_deref(), Some("v1"));
    put(&blobs, "users/1/avatar.png", "v2").await;
    assert_eq!(get(&blobs, "users/1/avatar.png").await.as_deref(), Some("v2"));
    put(&blobs, "top-level_key=1.txt", "").await;
    assert_eq!(get(&blobs, "top-level_key=1.txt").await.as_deref(), Some(""));
    // A "folder" is not an object.
    assert_eq!(get(&blobs, "users/1").await, None);
    assert_eq!(get(&blobs, "users/1/avatar.png/x").await, None);
    // The folder mirrors the keys, with no temporary files left behind.
    assert_eq!(files(blobs.root()), ["top-level_key=1.txt", "users/1/avatar.png"]);
}

#[tokio::test]
async fn bad_keys_are_rejected_and_nothing_escapes_the_root() {
    let (dir, blobs) = blobs();
    let long = "a".repeat(1025);
    let bad = [
        "",
        "/",
        "..",
        "../x",
        "a/../../x",
        "a/./b",
        ".",
        "/abs",
        "a//b",
        "a b",
        "a\\b",
        "é",
        "a/*",
        "a?",
        "~",
        "a~1",
        &long,
    ];
    for key in bad {
        let body = Bytes::from_static(b"x");
        assert!(matches!(blobs.put(key, "t", body).await, Err(BlobError::InvalidKey(_))), "put {key:?}");
        assert!(matches!(blobs.get(key).await, Err(BlobError::InvalidKey(_))), "get {key:?}");
        let deleted = blobs.delete_prefix(key).await;
        assert!(matches!(deleted, Err(BlobError::InvalidKey(_))), "delete_prefix {key:?}");
    }
    // An object key can't end in '/' (a prefix can).
    let slash = blobs.put("a/", "t", Bytes::from_static(b"x")).await;
    assert!(matches!(slash, Err(BlobError::InvalidKey(_))));
    assert!(files(dir.path()).is_empty(), "a rejected key wrote {:?}", files(dir.path()));
}

#[tokio::test]
async fn delete_prefix_at_a_segment_boundary_or_mid_name() {
    let (_dir, blobs) = blobs();
    for key in ["u/1/a", "u/1/b/c", "u/10/a", "u/1x", "u/2/a", "u/1"] {
        if key != "u/1" {
            put(&blobs, key, "x").await;
        }
    }
    // Ends with '/': only what is under u/1/.
    blobs.delete_prefix("u/1/").await.expect("delete u/1/");
    assert_eq!(files(blobs.root()), ["u/10/a", "u/1x", "u/2/a"]);

    put(&blobs, "u/1/a", "x").await;
    // Mid-name: every key starting with "u/1", files and folders alike.
    blobs.delete_prefix("u/1").await.expect("delete u/1");
    assert_eq!(files(blobs.root()), ["u/2/a"]);

    // Absent prefixes, and prefixes under a file, are fine.
    blobs.delete_prefix("nothing/here/").await.expect("absent prefix");
    blobs.delete_prefix("u/2/a/b").await.expect("prefix under a file");
    blobs.delete_prefix("u/").await.expect("delete u/");
    assert!(files(blobs.root()).is_empty());
    // Emptied folders are pruned, so the name is free for an object.
    put(&blobs, "u", "now a file").await;
    assert_eq!(get(&blobs, "u").await.as_deref(), Some("now a file"));
}

#[tokio::test]
async fn an_object_and_a_folder_cannot_share_a_name() {
    let (_dir, blobs) = blobs();
    put(&blobs, "a", "file").await;
    let under = blobs.put("a/b", "t", Bytes::from_static(b"x")).await;
    assert!(matches!(under, Err(BlobError::InvalidKey(_))), "{under:?}");
    put(&blobs, "c/d", "x").await;
    let over = blobs.put("c", "t", Bytes::from_static(b"x")).await;
    assert!(matches!(over, Err(BlobError::InvalidKey(_))), "{over:?}");
    assert_eq!(get(&blobs, "a").await.as_deref(), Some("file"));
    assert_eq!(get(&blobs, "c/d").await.as_deref(), Some("x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_leave_one_whole_object() {
    let (_dir, blobs) = blobs();
    let bodies: Vec<Bytes> = (0..16u8).map(|i| Bytes::from(vec![i; 64 * 1024])).collect();
    let writes = bodies.iter().cloned().map(|body| {
        let blobs = blobs.clone();
        tokio::spawn(async move { blobs.put("shared/key", "application/octet-stream", body).await })
    });
    for write in writes {
        write.await.expect("task").expect("put");
    }
    let stored = blobs.get("shared/key").await.expect("get").expect("exists");
    assert!(bodies.contains(&stored), "a torn or mixed write");
    assert_eq!(files(blobs.root()), ["shared/key"], "temporary files left behind");
}

#[tokio::test]
async fn listing_conforms_and_skips_temporary_files() {
    let (_dir, blobs) = blobs();
    confab_core::conformance::blob_listing(&blobs).await;
    put(&blobs, "t/a", "a").await;
    std::fs::write(blobs.root().join("t/a~1~2.tmp"), "partial").expect("a temporary file");
    let page = blobs.list("t/", None, 10).await.expect("list");
    assert_eq!(page.keys, ["t/a"]);
}
