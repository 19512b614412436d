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

use super::{MaybeSend, MaybeSync};
use serde_json::{Map, Value};

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
}
