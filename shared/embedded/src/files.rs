//! Files that appear whole or not at all: the content is written and synced under a
//! temporary sibling name, then put in place. Temporary names contain `~`, which blob
//! keys can't, so they never collide with or look like objects.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Who may read a new file.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Access {
    /// The process's default mode (umask).
    Default,
    /// Its owner only (0600 on unix), from creation on, so never readable by others,
    /// even briefly.
    Private,
}

/// Writes `bytes` to a new temporary file beside `path`, then calls `place(temp, path)`
/// (a rename, or a link where an existing file must win). The temporary file never
/// outlives the call.
pub(crate) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    access: Access,
    place: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let temp = temp_path(path);
    let result = create_new(&temp, bytes, access).and_then(|()| place(&temp, path));
    let _ = std::fs::remove_file(&temp);
    result
}

fn create_new(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let mut options = File::options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if matches!(access, Access::Private) {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A sibling name no other writer (thread or process) uses.
fn temp_path(path: &Path) -> PathBuf {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!("{name}~{}~{n}.tmp", std::process::id()))
}
