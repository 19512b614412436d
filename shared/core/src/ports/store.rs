//! The key-value store port, shaped after DynamoDB's single-table model so that the
//! DynamoDB adapter is a direct mapping and the embedded one can copy its semantics.
//! `crate::conformance` holds the suite every adapter must pass.
//!
//! Rules every adapter keeps (the conformance suite checks them):
//! - Expiry is judged by the adapter's own wall clock (the backing service's, in the
//!   cloud), not by the core's clock port.
//! - Keys are non-empty; a write with an empty `pk` or `sk` is `Invalid`. Field names
//!   in `data` are free: adapters keep them apart from their own key attributes.
//! - A version counts only while its item exists: after a delete the next put starts
//!   again at 1 (over an expired item DynamoDB has not removed yet, it may continue).
//! - An item larger than [`MAX_ITEM_BYTES`] (by [`Item::size`]) is refused as
//!   `TooLarge`, as DynamoDB refuses one over 400 KB: the repo layer spills what can
//!   grow that large to blobs, and the embedded store catches what it missed.
//! - [`Store::scan`] and [`Store::restore`] are for moving a whole store (the data
//!   tool): a scan yields every item that stays live while it runs exactly once, in an
//!   order of the adapter's choosing; a restore keeps the item's version.

use super::{MaybeSend, MaybeSync};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Most writes one transaction may hold (DynamoDB allows 100; we stay well inside).
pub const MAX_TRANSACTION_WRITES: usize = 25;
/// Most items one query page may return.
pub const MAX_PAGE: u32 = 1000;
/// Largest item a store keeps (DynamoDB's limit).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// One stored item. `data` holds the item's own fields; numbers in it that are updated
/// with [`Store::add`] must be integers.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    /// Key in the secondary index: items that have one appear in [`Index::Gsi1`] queries.
    pub gsi1: Option<(String, String)>,
    pub data: Map<String, Value>,
    /// Unix seconds from which the item counts as gone (DynamoDB TTL). Reads and
    /// conditions treat an expired item as absent even before it is physically removed.
    pub expires_at: Option<i64>,
    /// Set by the store: 1 when created, one more on every write. Input value ignored.
    pub version: u64,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, data: Map<String, Value>) -> Self {
        Item { pk: pk.into(), sk: sk.into(), gsi1: None, data, expires_at: None, version: 0 }
    }

    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1 = Some((pk.into(), sk.into()));
        self
    }

    pub fn expiring_at(mut self, unix_seconds: i64) -> Self {
        self.expires_at = Some(unix_seconds);
        self
    }

    /// The item's size as the store limit counts it: keys and the data as JSON (close
    /// to DynamoDB's count of attribute names and values).
    pub fn size(&self) -> usize {
        let gsi = self.gsi1.as_ref().map_or(0, |(pk, sk)| pk.len() + sk.len());
        let data = serde_json::to_vec(&self.data).map_or(usize::MAX, |d| d.len());
        self.pk.len() + self.sk.len() + gsi + data
    }

    /// `TooLarge` unless the item fits a store's size limit; every adapter checks this
    /// before writing.
    pub fn check_size(&self) -> Result<(), StoreError> {
        match self.size() {
            size if size > MAX_ITEM_BYTES => Err(StoreError::TooLarge(format!(
                "({:?}, {:?}) is {size} bytes, at most {MAX_ITEM_BYTES}",
                self.pk, self.sk
            ))),
            _ => Ok(()),
        }
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(Value::as_str)
    }

    pub fn int(&self, field: &str) -> Option<i64> {
        self.data.get(field).and_then(Value::as_i64)
    }

    pub fn bool(&self, field: &str) -> Option<bool> {
        self.data.get(field).and_then(Value::as_bool)
    }
}

/// What must hold about the current item for a write to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    NotExists,
    Exists,
    /// The item exists with exactly this version (optimistic concurrency).
    Version(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Condition,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check {
        pk: String,
        sk: String,
        condition: Condition,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Primary,
    Gsi1,
}

impl Index {
    /// Where `item` sorts in this index: its sort key, then on GSI1 its primary key,
    /// which breaks ties so that every item has a distinct position for cursors.
    pub fn position(self, item: &Item) -> Vec<&str> {
        match (self, &item.gsi1) {
            (Index::Gsi1, Some((_, gsi1sk))) => vec![gsi1sk, &item.pk, &item.sk],
            _ => vec![&item.sk],
        }
    }

    fn position_len(self) -> usize {
        match self {
            Index::Primary => 1,
            Index::Gsi1 => 3,
        }
    }
}

/// Which sort keys a query returns. Bounds are inclusive and compare bytewise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkRange {
    All,
    Prefix(String),
    Between(String, String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub range: SkRange,
    /// Ascending sort-key order when true, descending when false.
    pub forward: bool,
    /// 1..=[`MAX_PAGE`]; adapters clamp larger values.
    pub limit: u32,
    /// A cursor from a previous [`Page`] of the same query.
    pub cursor: Option<String>,
}

impl Query {
    pub fn new(pk: impl Into<String>, range: SkRange) -> Self {
        Query { index: Index::Primary, pk: pk.into(), range, forward: true, limit: 100, cursor: None }
    }

    pub fn on_gsi1(mut self) -> Self {
        self.index = Index::Gsi1;
        self
    }

    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of a query. A page may be shorter than the limit, or even empty, while
/// still carrying a cursor (DynamoDB filters expired items after applying the limit);
/// only a missing cursor means the end.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Opaque and URL-safe; present when more items may follow.
    pub cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("condition failed")]
    ConditionFailed,
    #[error("invalid cursor")]
    BadCursor,
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("item too large: {0}")]
    TooLarge(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Store: MaybeSend + MaybeSync {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;

    /// Writes the whole item if `condition` holds; returns the new version.
    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError>;

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<(), StoreError>;

    async fn query(&self, query: Query) -> Result<Page, StoreError>;

    /// Atomically adds each delta to an integer field (absent fields, absent items and
    /// expired items count as 0), sets `expires_at` when given, and returns the item as
    /// it is afterwards. A non-integer field, an overflow or a field named twice is
    /// `Invalid`.
    async fn add(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Item, StoreError>;

    /// All writes or none; at most [`MAX_TRANSACTION_WRITES`], each on a distinct key
    /// (an empty list is a no-op). Any failed condition fails the whole with
    /// [`StoreError::ConditionFailed`].
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;

    /// One page of every live item in the store, from after `cursor` (a previous page's);
    /// `limit` as [`Query::limit`]. Pages follow the rules of query pages.
    async fn scan(&self, cursor: Option<String>, limit: u32) -> Result<Page, StoreError>;

    /// Writes `item` exactly as given, its version included (at least 1), unless a live
    /// item has its key; true when it wrote. Re-running a restore so skips what is there.
    async fn restore(&self, item: Item) -> Result<bool, StoreError>;
}

// ---------------------------------------------------------------------------------------
// What adapters check before they write, and the cursor of those whose cursors are
// positions (embedded, in-memory).

/// `Invalid` when either key is empty.
pub fn check_key(pk: &str, sk: &str) -> Result<(), StoreError> {
    if pk.is_empty() || sk.is_empty() {
        return Err(StoreError::Invalid("empty partition or sort key".into()));
    }
    Ok(())
}

/// The item's keys (GSI1's included) and size.
pub fn check_item(item: &Item) -> Result<(), StoreError> {
    check_key(&item.pk, &item.sk)?;
    item.check_size()?;
    match &item.gsi1 {
        Some((pk, sk)) if pk.is_empty() || sk.is_empty() => Err(StoreError::Invalid("empty GSI1 key".into())),
        _ => Ok(()),
    }
}

/// A restored item: valid, with a version a store could have given it.
pub fn check_restore(item: &Item) -> Result<(), StoreError> {
    check_item(item)?;
    if item.version == 0 {
        return Err(StoreError::Invalid(format!("({:?}, {:?}) has no version", item.pk, item.sk)));
    }
    Ok(())
}

impl Write {
    pub fn key(&self) -> (&str, &str) {
        match self {
            Write::Put { item, .. } => (&item.pk, &item.sk),
            Write::Delete { pk, sk, .. } | Write::Check { pk, sk, .. } => (pk, sk),
        }
    }
}

/// At most [`MAX_TRANSACTION_WRITES`] valid writes, each on its own key.
pub fn check_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::Invalid(format!(
            "{} writes in one transaction, at most {MAX_TRANSACTION_WRITES} allowed",
            writes.len()
        )));
    }
    let mut seen = HashSet::new();
    for write in writes {
        match write {
            Write::Put { item, .. } => check_item(item)?,
            _ => check_key(write.key().0, write.key().1)?,
        }
        if !seen.insert(write.key()) {
            return Err(StoreError::Invalid(format!(
                "two writes on one key in a transaction: {:?}",
                write.key()
            )));
        }
    }
    Ok(())
}

/// The same field twice is `Invalid`, as DynamoDB rejects overlapping paths in one update.
pub fn check_deltas<F: AsRef<str>>(deltas: &[(F, i64)]) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    match deltas.iter().find(|(field, _)| !seen.insert(field.as_ref())) {
        Some((field, _)) => Err(StoreError::Invalid(format!("field {:?} added twice", field.as_ref()))),
        None => Ok(()),
    }
}

/// Adds each delta to its integer field of `data` (absent counts as 0), as [`Store::add`].
pub fn add_deltas<F: AsRef<str>>(
    data: &mut Map<String, Value>,
    deltas: &[(F, i64)],
) -> Result<(), StoreError> {
    for (field, delta) in deltas {
        let field = field.as_ref();
        let old = match data.get(field) {
            None => 0,
            Some(value) => value
                .as_i64()
                .ok_or_else(|| StoreError::Invalid(format!("field {field:?} is not an integer: {value}")))?,
        };
        let new = old
            .checked_add(*delta)
            .ok_or_else(|| StoreError::Invalid(format!("field {field:?} would overflow")))?;
        data.insert(field.to_string(), Value::from(new));
    }
    Ok(())
}

impl Condition {
    /// `ConditionFailed` unless the condition holds of the live item's `version`.
    pub fn check(self, version: Option<u64>) -> Result<(), StoreError> {
        let holds = match self {
            Condition::Always => true,
            Condition::NotExists => version.is_none(),
            Condition::Exists => version.is_some(),
            Condition::Version(v) => version == Some(v),
        };
        if holds { Ok(()) } else { Err(StoreError::ConditionFailed) }
    }
}

/// A cursor for the last item of a page: URL-safe base64 of a JSON array of its
/// [`Index::position`].
pub fn encode_cursor(last: &Item, index: Index) -> String {
    encode_position(&index.position(last))
}

/// The position an [`encode_cursor`] cursor stands for; `BadCursor` for anything else.
pub fn decode_cursor(cursor: &str, index: Index) -> Result<Vec<String>, StoreError> {
    let position = decode_position(cursor)?;
    if position.len() == index.position_len() { Ok(position) } else { Err(StoreError::BadCursor) }
}

/// A scan cursor for the last item of a page: the same encoding of `[pk, sk]`.
pub fn encode_scan_cursor(last: &Item) -> String {
    encode_position(&[&last.pk, &last.sk])
}

/// The `(pk, sk)` an [`encode_scan_cursor`] cursor stands for; `BadCursor` for anything else.
pub fn decode_scan_cursor(cursor: &str) -> Result<(String, String), StoreError> {
    match <[String; 2]>::try_from(decode_position(cursor)?) {
        Ok([pk, sk]) => Ok((pk, sk)),
        Err(_) => Err(StoreError::BadCursor),
    }
}

fn encode_position(position: &[&str]) -> String {
    // Serialising strings to JSON can't fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

fn decode_position(cursor: &str) -> Result<Vec<String>, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::BadCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_the_wrong_index() {
        let item = Item::new("p", "s/é", Map::new()).with_gsi1("g", "t");
        let primary = encode_cursor(&item, Index::Primary);
        assert_eq!(decode_cursor(&primary, Index::Primary).ok(), Some(vec!["s/é".to_string()]));
        assert!(matches!(decode_cursor(&primary, Index::Gsi1), Err(StoreError::BadCursor)));
        let gsi = encode_cursor(&item, Index::Gsi1);
        assert_eq!(decode_cursor(&gsi, Index::Gsi1).ok(), Some(vec!["t".into(), "p".into(), "s/é".into()]));
        assert!(primary.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
