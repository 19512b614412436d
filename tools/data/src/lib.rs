//! `confab-data`: a whole store and all its blobs to one file ([`export`]) and back into
//! any store ([`import`]), a page or one blob at a time. The file format is in
//! [`format`]; where the data lives comes from the same `CONFAB_*` settings the local
//! server and the Lambdas read ([`Storage::from_settings`]).

pub mod format;

use confab_aws::{AwsClients, DynamoStore, S3Blobs, S3Options};
use confab_core::ports::blob::BlobError;
use confab_core::ports::{BlobStore, Store, StoreError};
use confab_embedded::{LocalBlobs, SqliteStore};
use format::{Counts, FormatError, Reader, Record, Writer};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The local server's data folder when `CONFAB_DATA_DIR` is unset.
pub const DEFAULT_DATA_DIR: &str = ".confab";
/// Items per scan page and keys per listing page.
const PAGE: u32 = 500;
/// S3 keeps a content type per object, the file adapter doesn't, so exports carry none.
const IMPORTED_CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{0}")]
    Settings(String),
    #[error("{0}")]
    Format(#[from] FormatError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("blobs: {0}")]
    Blob(#[from] BlobError),
    #[error("{path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
}

/// Where the data lives: a store and its blobs.
pub struct Storage {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    /// Where, in words, for messages.
    pub name: String,
}

impl Storage {
    /// DynamoDB and S3 when `CONFAB_TABLE` names a table (with `CONFAB_BUCKET`; AWS
    /// credentials, region and endpoint from the standard environment), as the Lambdas
    /// choose; otherwise SQLite and files in `CONFAB_DATA_DIR`, as the local server does.
    pub async fn from_settings(settings: &BTreeMap<String, String>) -> Result<Storage, DataError> {
        let Some(table) = settings.get("CONFAB_TABLE") else {
            let dir = PathBuf::from(settings.get("CONFAB_DATA_DIR").map_or(DEFAULT_DATA_DIR, String::as_str));
            return Ok(Storage {
                store: Arc::new(SqliteStore::open(dir.join("confab.db"))?),
                blobs: Arc::new(LocalBlobs::open(dir.join("blobs"))?),
                name: format!("the data folder {}", dir.display()),
            });
        };
        let bucket = settings
            .get("CONFAB_BUCKET")
            .ok_or_else(|| DataError::Settings("CONFAB_TABLE is set, so CONFAB_BUCKET must be too".into()))?;
        let clients = AwsClients::from_env(S3Options::from_env()).await;
        Ok(Storage {
            store: Arc::new(DynamoStore::new(clients.dynamodb, table)),
            blobs: Arc::new(S3Blobs::new(clients.s3, bucket)),
            name: format!("DynamoDB table {table} and S3 bucket {bucket}"),
        })
    }
}

/// Writes every live item and every blob of `from` to `path`. The file is written as
/// `<path>.partial` and renamed when whole, so `path` is never a cut-short export; an
/// interrupted export is simply run again.
pub async fn export(from: &Storage, path: &Path) -> Result<Counts, DataError> {
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let file_error = |source| DataError::File { path: partial.clone(), source };
    let file = File::create(&partial).map_err(file_error)?;
    let mut writer = Writer::start(BufWriter::new(file)).map_err(file_error)?;
    let mut cursor = None;
    loop {
        let page = from.store.scan(cursor, PAGE).await?;
        for item in page.items {
            writer.item(item).map_err(file_error)?;
        }
        let Some(next) = page.cursor else { break };
        cursor = Some(next);
    }
    let mut cursor = None;
    loop {
        let page = from.blobs.list("", cursor, PAGE).await?;
        for key in &page.keys {
            // A blob deleted since it was listed is simply not exported.
            if let Some(bytes) = from.blobs.get(key).await? {
                writer.blob(key, &bytes).map_err(file_error)?;
            }
        }
        let Some(next) = page.cursor else { break };
        cursor = Some(next);
    }
    let (out, counts) = writer.finish().map_err(file_error)?;
    let file = out.into_inner().map_err(|e| file_error(e.into_error()))?;
    file.sync_all().map_err(file_error)?;
    std::fs::rename(&partial, path).map_err(|source| DataError::File { path: path.to_path_buf(), source })?;
    Ok(counts)
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub items_written: u64,
    /// Items whose key already had a live item, left as they were.
    pub items_skipped: u64,
    pub blobs_written: u64,
    /// Blobs whose key already had an object, left as it was.
    pub blobs_skipped: u64,
    /// Why the file is not whole, when `partial` let it be imported up to there.
    pub cut_short: Option<String>,
}

/// Writes the records of the export at `path` into `to`, skipping items and blobs that
/// are already there, so an interrupted import is run again to finish it. The whole
/// file is checked first: one that is cut short or damaged is refused before anything
/// is written, unless `partial`, which imports the records before the problem.
pub async fn import(to: &Storage, path: &Path, partial: bool) -> Result<Imported, DataError> {
    let mut imported = Imported::default();
    if let Err(problem) = check(path) {
        match problem {
            FormatError::Io(_) => return Err(problem.into()),
            _ if partial => imported.cut_short = Some(problem.to_string()),
            _ => return Err(problem.into()),
        }
    }
    let mut reader = open(path)?;
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(_) if imported.cut_short.is_some() => break,
            Err(e) => return Err(e.into()),
        };
        match record {
            Record::Item(item) => match to.store.restore(item).await? {
                true => imported.items_written += 1,
                false => imported.items_skipped += 1,
            },
            Record::Blob { key, bytes } => match has_blob(&*to.blobs, &key).await? {
                true => imported.blobs_skipped += 1,
                false => {
                    to.blobs.put(&key, IMPORTED_CONTENT_TYPE, bytes.into()).await?;
                    imported.blobs_written += 1;
                }
            },
        }
    }
    Ok(imported)
}

/// Reads the whole export at `path` (one blob in memory at a time) and returns what it
/// holds, or why it is not a whole, well-formed export.
pub fn check(path: &Path) -> Result<Counts, FormatError> {
    let mut reader = open(path)?;
    while reader.next_record()?.is_some() {}
    Ok(reader.counts())
}

fn open(path: &Path) -> Result<Reader<BufReader<File>>, FormatError> {
    Reader::open(BufReader::new(File::open(path)?))
}

/// Whether an object has exactly `key`: listed by `key` as a prefix, it comes first
/// (every other key starting with it sorts after it, by bytes and by segments).
async fn has_blob(blobs: &dyn BlobStore, key: &str) -> Result<bool, BlobError> {
    let page = blobs.list(key, None, 1).await?;
    Ok(page.keys.first().is_some_and(|first| first == key))
}
