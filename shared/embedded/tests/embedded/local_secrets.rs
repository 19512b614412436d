//! LocalSecrets: the key file is generated once, private, and read back.

use confab_core::ports::secrets::{SecretError, Secrets};
use confab_embedded::LocalSecrets;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

fn initial_values() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("jwt-key".to_string(), "c2VjcmV0".to_string()),
        ("pepper".to_string(), "p€pper \"quoted\"".to_string()),
    ])
}

#[tokio::test]
async fn creates_the_file_once_and_reads_it_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested/keys/secrets.json");
    let calls = AtomicUsize::new(0);
    let make = || {
        calls.fetch_add(1, Ordering::SeqCst);
        initial_values()
    };

    let first = LocalSecrets::open(&path, make).expect("create");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(first.get("jwt-key").await.expect("get").as_deref(), Some("c2VjcmV0"));
    assert_eq!(first.get("missing").await.expect("get"), None);

    let second = LocalSecrets::open(&path, || {
        calls.fetch_add(1, Ordering::SeqCst);
        BTreeMap::from([("jwt-key".to_string(), "different".to_string())])
    })
    .expect("reopen");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "asked what an existing file may lack");
    assert_eq!(second.get("pepper").await.expect("get").as_deref(), Some("p€pper \"quoted\""));
    assert_eq!(second.get("jwt-key").await.expect("get").as_deref(), Some("c2VjcmV0"), "never replaced");

    // No temporary files are left next to it.
    let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["secrets.json"]);
}

/// A key file from before a secret existed (the MFA key) gains it at the next start,
/// and keeps what it has.
#[tokio::test]
async fn an_older_file_gains_the_secrets_it_lacks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secrets.json");
    std::fs::write(&path, r#"{"jwt-key": "old"}"#).expect("an older file");
    let opened = LocalSecrets::open(&path, initial_values).expect("open");
    assert_eq!(opened.get("jwt-key").await.expect("get").as_deref(), Some("old"));
    assert_eq!(opened.get("pepper").await.expect("get").as_deref(), Some("p€pper \"quoted\""));
    let again = LocalSecrets::open(&path, || BTreeMap::from([("pepper".to_string(), "new".to_string())]))
        .expect("reopen");
    assert_eq!(again.get("pepper").await.expect("get").as_deref(), Some("p€pper \"quoted\""), "kept");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
}

#[cfg(unix)]
#[test]
fn the_file_is_private() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secrets.json");
    LocalSecrets::open(&path, initial_values).expect("create");
    assert_eq!(mode(&path), 0o600);
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[tokio::test]
async fn an_existing_file_is_used_as_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secrets.json");
    let text = r#"{ "db": "hunter2", "empty": "" }"#;
    std::fs::write(&path, text).expect("write");
    let secrets = LocalSecrets::open(&path, BTreeMap::new).expect("open");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text, "nothing to add: untouched");
    assert_eq!(secrets.get("db").await.expect("get").as_deref(), Some("hunter2"));
    assert_eq!(secrets.get("empty").await.expect("get").as_deref(), Some(""));
}

#[test]
fn malformed_files_are_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secrets.json");
    for content in ["", "not json", "[\"a\"]", r#"{ "n": 1 }"#, r#"{ "a": "b""#] {
        std::fs::write(&path, content).expect("write");
        match LocalSecrets::open(&path, || panic!("initial called for an existing file")) {
            Err(SecretError::Unavailable(msg)) => {
                assert!(msg.contains("secrets.json"), "{msg}");
                assert!(msg.contains("not a JSON object of string values"), "{msg}");
            }
            Ok(_) => panic!("{content:?} accepted"),
        }
    }
    // A folder where the file should be.
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).expect("mkdir");
    assert!(LocalSecrets::open(&folder, initial_values).is_err());
}

#[test]
fn racing_creators_all_use_the_winners_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secrets.json");
    let seen: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let path = &path;
                scope.spawn(move || {
                    let own = BTreeMap::from([("key".to_string(), format!("creator-{i}"))]);
                    let secrets = LocalSecrets::open(path, || own).expect("open");
                    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("rt");
                    runtime.block_on(secrets.get("key")).expect("get").expect("present")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let on_disk = std::fs::read_to_string(&path).expect("read");
    for value in &seen {
        assert_eq!(value, &seen[0], "creators disagree: {seen:?}");
        assert!(on_disk.contains(value.as_str()));
    }
}
