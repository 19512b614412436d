//! [`BlobStore`] on a folder: the object `a/b/c` is the file `<root>/a/b/c`.
//!
//! Differences from S3, all stricter, so code that works here works there:
//! - A key can't be both an object and a "folder" of other objects (`a` and `a/b`), as
//!   a file can't be a directory; the second put fails with [`BlobError::InvalidKey`].
//! - Object keys can't end in `/` (prefixes for `delete_prefix` may).
//! - The content type isn't kept: `get` returns only the bytes.
//! - `list` goes through the folders in order, so keys come sorted segment by segment
//!   (`a/b` before `a-c`), where S3 sorts them as strings.
//!
//! Writes go to a temporary file in the same folder and are renamed into place, so
//! readers see the old or the new object, never part of one (`files.rs`).

use crate::files::{Access, write_atomically};
use async_trait::async_trait;
use bytes::Bytes;
use confab_core::ports::blob::{
    BlobError, BlobPage, BlobStore, MAX_LIST_PAGE, validate_key, validate_listing,
};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Uses (creating if needed) the folder `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| unavailable(format!("creating {}: {e}", root.display())))?;
        Ok(LocalBlobs { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file for an object key (validated: no `..`, no absolute paths).
    fn object_path(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        if key.ends_with('/') {
            return Err(BlobError::InvalidKey(key.to_string()));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, key: &str, _content_type: &str, body: Bytes) -> Result<(), BlobError> {
        let path = self.object_path(key)?;
        let (root, key) = (self.root.clone(), key.to_string());
        blocking(move || write_object(&root, &key, &path, &body)).await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        let path = self.object_path(key)?;
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            // Missing, or a "folder" of other objects, or under an object: no such object.
            Err(e) if is_absent(&e) || e.kind() == ErrorKind::IsADirectory => Ok(None),
            Err(e) => Err(unavailable(format!("reading {}: {e}", path.display()))),
        })
        .await
    }

    /// `prefix` matches key prefixes as strings: `a/b` deletes `a/b`, `a/bc` and
    /// everything under `a/b/` and `a/bc/`; `a/b/` deletes only what is under `a/b/`.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        validate_key(prefix)?;
        let (root, prefix) = (self.root.clone(), prefix.to_string());
        blocking(move || delete_matching(&root, &prefix)).await
    }

    async fn list(&self, prefix: &str, cursor: Option<String>, limit: u32) -> Result<BlobPage, BlobError> {
        validate_listing(prefix, cursor.as_deref())?;
        let limit = limit.clamp(1, MAX_LIST_PAGE) as usize;
        let walk = Walk {
            prefix: prefix.to_string(),
            after: cursor.map(|c| c.split('/').map(str::to_string).collect()),
            // One more than the page tells whether more follow.
            want: limit + 1,
        };
        let root = self.root.clone();
        let mut keys = blocking(move || walk.keys(&root)).await?;
        let more = keys.len() > limit;
        keys.truncate(limit);
        let cursor = keys.last().filter(|_| more).cloned();
        Ok(BlobPage { keys, cursor })
    }
}

/// A listing: the first `want` keys in folder order that start with `prefix` and come
/// after the key `after` (as segments).
struct Walk {
    prefix: String,
    after: Option<Vec<String>>,
    want: usize,
}

impl Walk {
    fn keys(&self, root: &Path) -> Result<Vec<String>, BlobError> {
        let mut keys = Vec::new();
        self.walk(root, &mut Vec::new(), &mut keys)?;
        Ok(keys)
    }

    /// Adds the keys in `folder` (whose key segments are `path`) to `keys`, in order.
    fn walk(&self, folder: &Path, path: &mut Vec<String>, keys: &mut Vec<String>) -> Result<(), BlobError> {
        for (name, is_folder) in sorted_entries(folder)? {
            if keys.len() >= self.want {
                break;
            }
            let child = folder.join(&name);
            path.push(name);
            let key = path.join("/");
            if is_folder {
                let inner = format!("{key}/");
                let matches = inner.starts_with(&self.prefix) || self.prefix.starts_with(&inner);
                if matches && !self.wholly_before(path) {
                    self.walk(&child, path, keys)?;
                }
            } else if key.starts_with(&self.prefix)
                && self.after.as_ref().is_none_or(|after| path[..] > after[..])
            {
                keys.push(key);
            }
            path.pop();
        }
        Ok(())
    }

    /// Whether everything at and under `path` sorts before `after`.
    fn wholly_before(&self, path: &[String]) -> bool {
        self.after.as_ref().is_some_and(|after| path < &after[..path.len().min(after.len())])
    }
}

/// A folder's entries that can be keys (files and folders with names a key segment can
/// have), sorted by name; none when the folder is gone.
fn sorted_entries(folder: &Path) -> Result<Vec<(String, bool)>, BlobError> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if is_absent(&e) => return Ok(Vec::new()),
        Err(e) => return Err(unavailable(format!("listing {}: {e}", folder.display()))),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| unavailable(format!("listing {}: {e}", folder.display())))?;
        let kind =
            entry.file_type().map_err(|e| unavailable(format!("listing {}: {e}", folder.display())))?;
        // Skip in-flight temporary files (`~`) and names no key can have.
        let name = entry.file_name().into_string().ok().filter(|n| validate_key(n).is_ok());
        if let Some(name) = name.filter(|_| kind.is_dir() || kind.is_file()) {
            names.push((name, kind.is_dir()));
        }
    }
    names.sort();
    Ok(names)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn_blocking(work).await.map_err(|e| unavailable(format!("blob task failed: {e}")))?
        }
        Err(_) => work(),
    }
}

fn write_object(root: &Path, key: &str, path: &Path, body: &[u8]) -> Result<(), BlobError> {
    check_no_conflict(root, key, path)?;
    let folder = path.parent().unwrap_or(root);
    let write = || {
        std::fs::create_dir_all(folder)?;
        write_atomically(path, body, Access::Default, |temp, path| std::fs::rename(temp, path))
    };
    let mut written = write();
    if matches!(&written, Err(e) if e.kind() == ErrorKind::NotFound) {
        // A concurrent delete_prefix pruned the folder we had just made: once more.
        written = write();
    }
    written.map_err(|e| unavailable(format!("writing {}: {e}", path.display())))
}

/// Rejects a key whose file would have to be a directory, or sit under a file.
fn check_no_conflict(root: &Path, key: &str, path: &Path) -> Result<(), BlobError> {
    let conflict = |what: &str| {
        Err(BlobError::InvalidKey(format!(
            "{key} ({what}; locally an object and a folder of objects can't share a name)"
        )))
    };
    if path.is_dir() {
        return conflict("other objects' keys start with it and a /");
    }
    let mut folder = path.parent();
    while let Some(dir) = folder.filter(|d| d.starts_with(root) && *d != root) {
        if dir.is_file() {
            return conflict("it starts with another object's key and a /");
        }
        folder = dir.parent();
    }
    Ok(())
}

fn delete_matching(root: &Path, prefix: &str) -> Result<(), BlobError> {
    let (folder, name_prefix) = match prefix.rsplit_once('/') {
        Some((folder, name)) => (root.join(folder), name),
        None => (root.to_path_buf(), prefix),
    };
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if is_absent(&e) => return Ok(()),
        Err(e) => return Err(unavailable(format!("listing {}: {e}", folder.display()))),
    };
    for entry in entries {
        let entry = entry.map_err(|e| unavailable(format!("listing {}: {e}", folder.display())))?;
        let name = entry.file_name();
        // Skip names no key can have: in-flight temporary files, stray non-UTF-8 files.
        let Some(name) = name.to_str().filter(|n| !n.contains('~')) else {
            continue;
        };
        if name.starts_with(name_prefix) {
            remove_entry(&entry.path())?;
        }
    }
    prune_empty_folders(root, &folder);
    Ok(())
}

fn remove_entry(path: &Path) -> Result<(), BlobError> {
    // `symlink_metadata`: a symlink is removed itself, never followed.
    let removed = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Ok(()) => Ok(()),
        Err(e) if is_absent(&e) => Ok(()), // someone else deleted it first
        Err(e) => Err(unavailable(format!("deleting {}: {e}", path.display()))),
    }
}

/// Removes `folder` and its ancestors below `root` while they are empty, so deleted
/// objects leave no folders behind (which would block an object of the same name).
fn prune_empty_folders(root: &Path, folder: &Path) {
    let mut current = Some(folder);
    while let Some(dir) = current.filter(|d| d.starts_with(root) && *d != root) {
        if std::fs::remove_dir(dir).is_err() {
            break; // not empty (or already gone): stop
        }
        current = dir.parent();
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

fn unavailable(e: impl std::fmt::Display) -> BlobError {
    BlobError::Unavailable(e.to_string())
}
