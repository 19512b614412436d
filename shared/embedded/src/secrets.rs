//! [`Secrets`] from a JSON key file: `{ "<name>": "<value>", ... }`, readable only by
//! its owner, generated on first use.

use crate::files::{Access, write_atomically};
use async_trait::async_trait;
use confab_core::ports::secrets::{SecretError, Secrets};
use std::collections::BTreeMap;
use std::io::{self, ErrorKind};
use std::path::Path;

#[derive(Debug, Clone)]
pub struct LocalSecrets {
    values: BTreeMap<String, String>,
}

impl LocalSecrets {
    /// Reads the key file at `path`. When there is none yet, writes `initial()` to it
    /// (mode 0600) and uses that. The file appears atomically; when two processes race
    /// to create it, the loser reads and uses the winner's. A file from an older version
    /// gains the secrets of `initial()` it lacks (e.g. the MFA key); what it has is
    /// never changed.
    pub fn open(
        path: &Path,
        initial: impl FnOnce() -> BTreeMap<String, String>,
    ) -> Result<Self, SecretError> {
        if let Some(values) = read_key_file(path)? {
            return add_missing(path, values, initial());
        }
        let values = initial();
        if create_key_file(path, &values)? {
            return Ok(LocalSecrets { values });
        }
        match read_key_file(path)? {
            Some(values) => Ok(LocalSecrets { values }),
            None => Err(unavailable(path, "was created by another process, then vanished")),
        }
    }

    /// Secrets held in memory only, for tests.
    pub fn from_values(values: BTreeMap<String, String>) -> Self {
        LocalSecrets { values }
    }
}

#[async_trait]
impl Secrets for LocalSecrets {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        Ok(self.values.get(name).cloned())
    }
}

/// The file's secrets, or `None` when there is no file.
fn read_key_file(path: &Path) -> Result<Option<BTreeMap<String, String>>, SecretError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unavailable(path, format!("can't be read: {e}"))),
    };
    warn_if_readable_by_others(path);
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        let why = format!("is not a JSON object of string values ({e})");
        unavailable(path, why)
    })
}

/// `values` with what they lack of `initial`, written back in place (0600) when
/// anything was added, then read again so that a concurrent opener's additions win.
fn add_missing(
    path: &Path,
    mut values: BTreeMap<String, String>,
    initial: BTreeMap<String, String>,
) -> Result<LocalSecrets, SecretError> {
    let missing: Vec<_> = initial.into_iter().filter(|(name, _)| !values.contains_key(name)).collect();
    if missing.is_empty() {
        return Ok(LocalSecrets { values });
    }
    values.extend(missing);
    write_atomically(path, &encode(path, &values)?, Access::Private, |temp, path| {
        std::fs::rename(temp, path)
    })
    .map_err(|e| unavailable(path, format!("can't be updated: {e}")))?;
    let values = read_key_file(path)?.ok_or_else(|| unavailable(path, "vanished while being updated"))?;
    Ok(LocalSecrets { values })
}

fn encode(path: &Path, values: &BTreeMap<String, String>) -> Result<Vec<u8>, SecretError> {
    let mut json =
        serde_json::to_vec_pretty(values).map_err(|e| unavailable(path, format!("can't be encoded: {e}")))?;
    json.push(b'\n');
    Ok(json)
}

/// Creates the file with `values` unless it exists; true when this call created it.
fn create_key_file(path: &Path, values: &BTreeMap<String, String>) -> Result<bool, SecretError> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| unavailable(folder, format!("can't be created: {e}")))?;
    let json = encode(path, values)?;

    // Linked into place: a hard link, unlike rename, fails when the target exists, so a
    // racing winner is kept.
    match write_atomically(path, &json, Access::Private, link_new) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(unavailable(path, format!("can't be created: {e}"))),
    }
}

fn link_new(temp: &Path, path: &Path) -> io::Result<()> {
    match std::fs::hard_link(temp, path) {
        Err(e) if e.kind() != ErrorKind::AlreadyExists => {
            // Filesystems without hard links: rename, checking first (a small race).
            if path.exists() {
                return Err(ErrorKind::AlreadyExists.into());
            }
            std::fs::rename(temp, path)
        }
        other => other,
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "secrets file is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

fn unavailable(path: &Path, why: impl std::fmt::Display) -> SecretError {
    SecretError::Unavailable(format!("secrets file {} {why}", path.display()))
}
