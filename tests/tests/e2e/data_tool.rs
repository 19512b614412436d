//! The data tool (`confab-data`): a laptop's data (the local server's SQLite and files,
//! filled through the API) exported, imported into DynamoDB and S3 on moto, exported
//! again and compared; interrupted imports resumed; damaged files refused.

use confab_aws::S3Blobs;
use confab_core::ports::Item;
use confab_data::format::{Reader, Record};
use confab_data::{DataError, Imported, Storage, export, import};
use confab_tests::files::png;
use confab_tests::lambda::{AwsStack, data_tool};
use confab_tests::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an export holds: its items by key and its blobs.
#[derive(Debug, PartialEq)]
struct Contents {
    items: BTreeMap<(String, String), Item>,
    blobs: BTreeMap<String, Vec<u8>>,
}

fn contents(path: &Path) -> Contents {
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("open the export"));
    let mut reader = Reader::open(file).expect("a header");
    let (mut items, mut blobs) = (BTreeMap::new(), BTreeMap::new());
    while let Some(record) = reader.next_record().expect("a whole export") {
        match record {
            Record::Item(item) => assert!(items.insert((item.pk.clone(), item.sk.clone()), item).is_none()),
            Record::Blob { key, bytes } => assert!(blobs.insert(key, bytes).is_none()),
        }
    }
    Contents { items, blobs }
}

/// The local server's storage in `dir`, as the tool opens it from `CONFAB_DATA_DIR`.
async fn embedded(dir: &Path) -> Storage {
    let settings = BTreeMap::from([("CONFAB_DATA_DIR".to_string(), dir.display().to_string())]);
    Storage::from_settings(&settings).await.expect("open the data folder")
}

/// A fresh table and bucket on moto, through the adapters the tool uses there.
async fn aws() -> Storage {
    storage_of(&AwsStack::create().await)
}

fn storage_of(stack: &AwsStack) -> Storage {
    Storage {
        store: Arc::new(stack.store()),
        blobs: Arc::new(S3Blobs::new(stack.clients.s3.clone(), &stack.bucket)),
        name: format!("table {}", stack.table),
    }
}

/// A laptop with two users' accounts, a chat, an image and a text file big enough to
/// take several chunks; the export of its data folder.
async fn laptop_export(out: &Path) -> (TestApp, Contents) {
    let app = spawn_app().await;
    let ada = app.user("ada@example.com").await;
    app.user("bob@example.com").await;
    let session = ada.create_session(json!({"title": "moving house"})).await;
    ada.chat(&session, "hello from the laptop").await;
    ada.attach(&session, "cat.png", "image/png", png()).await;
    ada.attach(&session, "notes.txt", "text/plain", "line of notes\n".repeat(40_000).into_bytes()).await;
    avoid_minute_edge().await;
    let counts = export(&embedded(app.data_dir()).await, out).await.expect("export");
    let exported = contents(out);
    assert_eq!((counts.items, counts.blobs), (exported.items.len() as u64, exported.blobs.len() as u64));
    assert!(exported.items.values().any(|item| item.gsi1.is_some()));
    assert!(exported.items.values().any(|item| item.version > 1));
    assert!(exported.items.values().any(|item| item.expires_at.is_some()));
    assert!(exported.blobs.values().any(|bytes| bytes.len() > confab_data::format::CHUNK_BYTES));
    (app, exported)
}

/// `expected` less what has expired since it was exported.
fn still_live(mut expected: Contents) -> Contents {
    let now = now();
    expected.items.retain(|_, item| item.expires_at.is_none_or(|at| at > now));
    expected
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).expect("read").lines().map(str::to_string).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).expect("write");
}

#[tokio::test(flavor = "multi_thread")]
async fn laptop_data_moves_to_aws_and_back_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (laptop, path) = (dir.path().join("laptop.jsonl"), dir.path().join("aws.jsonl"));
    let (_app, exported) = laptop_export(&laptop).await;

    let cloud = aws().await;
    let imported = import(&cloud, &laptop, false).await.expect("import");
    let total = (exported.items.len() as u64, exported.blobs.len() as u64);
    assert_eq!((imported.items_written, imported.blobs_written), total);
    assert_eq!((imported.items_skipped, imported.blobs_skipped, imported.cut_short), (0, 0, None));

    let expected = still_live(exported);
    export(&cloud, &path).await.expect("export from AWS");
    assert_eq!(contents(&path), expected, "the same items (versions, expiry, gsi1) and blobs");
    assert!(!PathBuf::from(format!("{}.partial", path.display())).exists());

    // And back to a new laptop.
    let back = tempfile::tempdir().expect("temp dir");
    import(&embedded(back.path()).await, &path, false).await.expect("import to a laptop");
    export(&embedded(back.path()).await, &laptop).await.expect("export again");
    assert_eq!(contents(&laptop), still_live(expected));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_import_is_run_again_to_finish_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (file, cut) = (dir.path().join("all.jsonl"), dir.path().join("cut.jsonl"));
    let (_app, exported) = laptop_export(&file).await;
    let all = lines(&file);
    // Cut in the middle of the items: what an import killed there had written.
    let half = exported.items.len() / 2;
    write_lines(&cut, &all[..=half]);

    let cloud = aws().await;
    let first = import(&cloud, &cut, true).await.expect("import what is there");
    assert_eq!(first.items_written, half as u64);
    assert!(first.cut_short.is_some_and(|why| why.contains("without its end line")), "says the file is cut");

    let second = import(&cloud, &file, false).await.expect("import the whole file");
    let expected = Imported {
        items_written: (exported.items.len() - half) as u64,
        items_skipped: half as u64,
        blobs_written: exported.blobs.len() as u64,
        blobs_skipped: 0,
        cut_short: None,
    };
    assert_eq!(second, expected, "nothing written twice");
    let third = import(&cloud, &file, false).await.expect("once more");
    assert_eq!((third.items_written, third.blobs_written), (0, 0), "all there already");

    let again = dir.path().join("again.jsonl");
    export(&cloud, &again).await.expect("export");
    assert_eq!(contents(&again), still_live(exported));
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_short_or_damaged_files_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("all.jsonl");
    let (app, exported) = laptop_export(&file).await;
    let all = lines(&file);
    let end = all.len() - 1;
    let mut wrong_count = all.clone();
    wrong_count[end] = wrong_count[end].replacen("\"items\":", "\"items\":1", 1);
    let mut bad_chunk = all.clone();
    let chunk = all.iter().position(|l| l.starts_with("{\"chunk\"")).expect("a chunk");
    bad_chunk[chunk] = "{\"chunk\":\"not base64!\"}".into();
    let mut bad_key = all.clone();
    let blob = all.iter().position(|l| l.starts_with("{\"blob\"")).expect("a blob");
    bad_key[blob] = bad_key[blob].replacen("{\"key\":\"", "{\"key\":\"../", 1);
    let cases: [(&str, Vec<String>, &str); 6] = [
        ("without its end line", all[..end].to_vec(), "without its end line"),
        ("without a chunk", [&all[..end - 1], &all[end..]].concat(), "bytes"),
        ("with a wrong count", wrong_count, "the end line counts"),
        ("with a damaged chunk", bad_chunk, "chunk of"),
        ("with a bad blob key", bad_key, "not a blob key"),
        ("that is no export", vec!["{\"hello\":1}".into()], "no header"),
    ];
    let cloud = aws().await;
    for (what, lines, expected) in cases {
        let path = dir.path().join("damaged.jsonl");
        write_lines(&path, &lines);
        match import(&cloud, &path, false).await {
            Err(DataError::Format(e)) => assert!(e.to_string().contains(expected), "a file {what}: {e}"),
            other => panic!("a file {what}: expected a format error, got {other:?}"),
        }
    }
    // Cut mid-line, as a killed export could leave it.
    let text = std::fs::read(&file).expect("read");
    std::fs::write(dir.path().join("torn.jsonl"), &text[..text.len() - 10]).expect("write");
    let torn = import(&cloud, &dir.path().join("torn.jsonl"), false).await;
    assert!(matches!(torn, Err(DataError::Format(_))), "{torn:?}");

    let page = cloud.store.scan(None, 10).await.expect("scan");
    assert!(page.items.is_empty(), "nothing was written");
    let blobs = cloud.blobs.list("", None, 10).await.expect("list");
    assert!(blobs.keys.is_empty(), "no blob was written");

    // An export cut short by a crash leaves only its .partial file, which the next run replaces.
    let target = dir.path().join("next.jsonl");
    std::fs::write(format!("{}.partial", target.display()), "{\"header\"").expect("write");
    export(&embedded(app.data_dir()).await, &target).await.expect("export");
    assert_eq!(contents(&target).blobs, exported.blobs);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_reads_its_settings_and_says_what_it_did() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (laptop, file) = (dir.path().join("laptop.jsonl"), dir.path().join("tool.jsonl"));
    let (app, _) = laptop_export(&laptop).await;
    let run = |settings: &BTreeMap<String, String>, args: &[&str]| {
        let out = data_tool(settings, args);
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let file_arg = file.to_str().expect("a UTF-8 path");

    let on_laptop = BTreeMap::from([("CONFAB_DATA_DIR".into(), app.data_dir().display().to_string())]);
    let (code, out, _) = run(&on_laptop, &["export", file_arg]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("exported ") && out.contains(" blobs "), "{out}");
    let exported = contents(&file);

    let stack = AwsStack::create().await;
    let (code, out, err) = run(&stack.settings(), &["import", file_arg]);
    assert_eq!(code, Some(0), "{err}");
    let written = format!(
        "{} items written, 0 already there; {} blobs written",
        exported.items.len(),
        exported.blobs.len()
    );
    assert!(out.contains(&written), "{out}");
    let again = dir.path().join("again.jsonl");
    export(&storage_of(&stack), &again).await.expect("export from AWS");
    assert_eq!(contents(&again), still_live(exported));

    let cut = dir.path().join("cut.jsonl");
    let all = lines(&file);
    write_lines(&cut, &all[..all.len() - 1]);
    let (code, _, err) = run(&stack.settings(), &["import", cut.to_str().expect("UTF-8")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("without its end line"), "{err}");
    let (code, out, _) = run(&stack.settings(), &["import", "--partial", cut.to_str().expect("UTF-8")]);
    assert_eq!(code, Some(0));
    assert!(out.contains("the file is not whole") && out.contains("0 items written"), "{out}");

    let only_table = BTreeMap::from([("CONFAB_TABLE".to_string(), "t".to_string())]);
    let (code, _, err) = run(&only_table, &["export", file_arg]);
    assert_eq!(
        (code, err.trim()),
        (Some(2), "confab-data: CONFAB_TABLE is set, so CONFAB_BUCKET must be too")
    );
    let (code, _, err) = run(&on_laptop, &["copy", file_arg]);
    assert_eq!((code, err.trim()), (Some(2), "usage: confab-data export FILE | import [--partial] FILE"));
}
