//! The export file: JSON lines, one record a line, each an object with one key naming
//! its kind (README, "Data tool"):
//!
//! ```text
//! {"header":{"format":"confab-data","version":1}}
//! {"item":{"pk":"USER#1","sk":"PROFILE","gsi1":["EMAIL#a@b","USER"],"data":{…},"expires_at":null,"version":3}}
//! {"blob":{"key":"attachments/…/file","size":300000}}
//! {"chunk":"<base64 of at most 192 KiB of the blob>"}
//! {"chunk":"…"}
//! {"end":{"items":1,"blobs":1,"blob_bytes":300000}}
//! ```
//!
//! A blob's chunks follow its `blob` line and add up to its size. The `end` line comes
//! last and counts what came before it, so a file cut short anywhere is told apart
//! from a whole one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use confab_core::ports::Item;
use confab_core::ports::blob::validate_key;
use confab_core::ports::store::check_restore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::{BufRead, Write};

pub const FORMAT: &str = "confab-data";
pub const VERSION: u32 = 1;
/// Blob bytes a chunk line carries (256 KiB of base64), so no line grows with a blob.
pub const CHUNK_BYTES: usize = 192 * 1024;

/// One line of the file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Line {
    Header { format: String, version: u32 },
    Item(StoredItem),
    Blob { key: String, size: u64 },
    Chunk(String),
    End(Counts),
}

/// An item as the port has it, every field spelled out.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredItem {
    pk: String,
    sk: String,
    gsi1: Option<(String, String)>,
    data: Map<String, Value>,
    expires_at: Option<i64>,
    version: u64,
}

impl From<Item> for StoredItem {
    fn from(item: Item) -> Self {
        let Item { pk, sk, gsi1, data, expires_at, version } = item;
        StoredItem { pk, sk, gsi1, data, expires_at, version }
    }
}

impl From<StoredItem> for Item {
    fn from(item: StoredItem) -> Self {
        let StoredItem { pk, sk, gsi1, data, expires_at, version } = item;
        Item { pk, sk, gsi1, data, expires_at, version }
    }
}

/// What a file holds, as its `end` line states it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub items: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("line {line}: {message}")]
    Bad { line: u64, message: String },
    #[error("the file ends after line {line} without its end line (an interrupted export?)")]
    Truncated { line: u64 },
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes records: a header first, then whatever the caller adds, then [`Writer::finish`].
pub struct Writer<W: Write> {
    out: W,
    counts: Counts,
}

impl<W: Write> Writer<W> {
    pub fn start(mut out: W) -> std::io::Result<Self> {
        write_line(&mut out, &Line::Header { format: FORMAT.into(), version: VERSION })?;
        Ok(Writer { out, counts: Counts::default() })
    }

    pub fn item(&mut self, item: Item) -> std::io::Result<()> {
        self.counts.items += 1;
        write_line(&mut self.out, &Line::Item(item.into()))
    }

    pub fn blob(&mut self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.counts.blobs += 1;
        self.counts.blob_bytes += bytes.len() as u64;
        write_line(&mut self.out, &Line::Blob { key: key.into(), size: bytes.len() as u64 })?;
        for chunk in bytes.chunks(CHUNK_BYTES) {
            write_line(&mut self.out, &Line::Chunk(STANDARD.encode(chunk)))?;
        }
        Ok(())
    }

    /// Writes the end line; returns the output and what it holds.
    pub fn finish(mut self) -> std::io::Result<(W, Counts)> {
        write_line(&mut self.out, &Line::End(self.counts))?;
        Ok((self.out, self.counts))
    }
}

fn write_line(out: &mut impl Write, line: &Line) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}

/// One record read back: a blob with its chunks put together (one blob in memory at
/// a time).
#[derive(Debug)]
pub enum Record {
    Item(Item),
    Blob { key: String, bytes: Vec<u8> },
}

/// Reads records in order, checking the file's shape as it goes: the header first,
/// chunks adding up to their blob's size, the end line last with the right counts.
/// After the last record comes `Ok(None)` for a whole file, or the error that stopped
/// reading (a truncated file's is [`FormatError::Truncated`]).
pub struct Reader<R: BufRead> {
    input: R,
    line: u64,
    counts: Counts,
    /// A line read ahead while finishing a blob.
    pending: Option<Line>,
}

impl<R: BufRead> Reader<R> {
    pub fn open(input: R) -> Result<Self, FormatError> {
        let mut reader = Reader { input, line: 0, counts: Counts::default(), pending: None };
        let first = reader.read_line().map_err(|e| match e {
            FormatError::Bad { .. } => reader.bad("no header: not a confab-data export"),
            other => other,
        })?;
        match first {
            Some(Line::Header { format, version }) if format == FORMAT && version == VERSION => Ok(reader),
            Some(Line::Header { format, version }) => Err(reader.bad(format!(
                "a {format:?} file of version {version}; this tool reads {FORMAT:?} {VERSION}"
            ))),
            Some(_) => Err(reader.bad("no header: not a confab-data export")),
            None => Err(reader.bad("empty file: not a confab-data export")),
        }
    }

    /// The counts read so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    pub fn next_record(&mut self) -> Result<Option<Record>, FormatError> {
        let Some(line) = self.pending.take().map_or_else(|| self.read_line(), |line| Ok(Some(line)))? else {
            return Err(FormatError::Truncated { line: self.line });
        };
        match line {
            Line::Item(item) => {
                let item = Item::from(item);
                check_restore(&item).map_err(|e| self.bad(e))?;
                self.counts.items += 1;
                Ok(Some(Record::Item(item)))
            }
            Line::Blob { key, size } => self.blob(key, size).map(Some),
            Line::End(counts) => self.end(counts).map(|()| None),
            Line::Header { .. } => Err(self.bad("a second header")),
            Line::Chunk(_) => Err(self.bad("a chunk outside a blob")),
        }
    }

    fn blob(&mut self, key: String, size: u64) -> Result<Record, FormatError> {
        if validate_key(&key).is_err() || key.ends_with('/') {
            return Err(self.bad(format!("{key:?} is not a blob key")));
        }
        let mut bytes = Vec::new();
        loop {
            match self.read_line()? {
                Some(Line::Chunk(chunk)) => {
                    let decoded =
                        STANDARD.decode(chunk).map_err(|e| self.bad(format!("chunk of {key}: {e}")))?;
                    bytes.extend(decoded);
                    if bytes.len() as u64 > size {
                        return Err(self.bad(format!("blob {key} has more than its {size} bytes")));
                    }
                }
                // The blob is whole only once the next record has started.
                Some(next) if bytes.len() as u64 == size => {
                    self.pending = Some(next);
                    break;
                }
                Some(_) => {
                    return Err(self.bad(format!("blob {key} has {} of its {size} bytes", bytes.len())));
                }
                None => return Err(FormatError::Truncated { line: self.line }),
            }
        }
        self.counts.blobs += 1;
        self.counts.blob_bytes += size;
        Ok(Record::Blob { key, bytes })
    }

    fn end(&mut self, stated: Counts) -> Result<(), FormatError> {
        if stated != self.counts {
            return Err(self.bad(format!("the end line counts {stated:?}, the file holds {:?}", self.counts)));
        }
        if self.read_line()?.is_some() {
            return Err(self.bad("lines after the end line"));
        }
        Ok(())
    }

    /// The next line parsed; `None` at the end of the input. A last line without its
    /// newline was cut short.
    fn read_line(&mut self) -> Result<Option<Line>, FormatError> {
        let mut text = String::new();
        if self.input.read_line(&mut text)? == 0 {
            return Ok(None);
        }
        self.line += 1;
        let Some(text) = text.strip_suffix('\n') else {
            return Err(FormatError::Truncated { line: self.line - 1 });
        };
        serde_json::from_str(text).map(Some).map_err(|e| self.bad(e))
    }

    fn bad(&self, message: impl std::fmt::Display) -> FormatError {
        FormatError::Bad { line: self.line, message: message.to_string() }
    }
}
