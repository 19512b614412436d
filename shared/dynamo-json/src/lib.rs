//! confab's DynamoDB single-table layout, once for both store adapters: confab-aws's
//! `DynamoStore` (AWS SDK) and confab-aws-http's `DynamoHttpStore` (JSON over HTTP).
//! Everything here works on DynamoDB JSON, the service's wire form of attribute values
//! (`{"S":"x"}`, `{"N":"1"}`, `{"M":{…}}`…) as [`serde_json::Value`]; the SDK adapter
//! converts to and from its `AttributeValue` at the edge. No I/O, so it builds for
//! `wasm32-unknown-unknown`.
//!
//! Keeping one copy is what makes the adapters interchangeable on one table: the same
//! items, expressions, conditions, cursor bytes and error variants.

mod attrs;
mod cursor;
mod errors;
mod expressions;
mod operations;

pub use attrs::{Attrs, decode_optional, is_expired, key, version_of};
pub use confab_core::ports::store::{check_item, check_key, check_restore};
pub use cursor::{decode_cursor, decode_scan_cursor, encode_cursor};
pub use errors::{CONDITION_FAILED, TransactionFailure, cancelled_transaction, error_for_code};
pub use expressions::{Expressions, index_keys};
pub use operations::{QueryAnswer, Updated, add, query, restored, scan, transact};

/// Builders of each operation's [`Expressions`].
pub mod build {
    pub use crate::expressions::{add_fresh, add_to_live, conditional, put, query, restore, scan};
}

/// The table's attribute names. Item data lives in the map `d`, so data field names
/// never meet these.
pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const GSI1PK: &str = "gsi1pk";
    pub const GSI1SK: &str = "gsi1sk";
    pub const DATA: &str = "d";
    /// The table's TTL attribute (unix seconds).
    pub const EXPIRES_AT: &str = "expires_at";
    pub const VERSION: &str = "v";
}

/// The name of the secondary index over `gsi1pk`/`gsi1sk`.
pub const GSI1: &str = "gsi1";

/// DynamoDB requests one query or scan page may take to fill a page that expired items
/// (filtered after DynamoDB applies `Limit`) left short; after these the page goes out
/// short with its cursor, as the port allows.
const MAX_PAGE_REQUESTS: usize = 4;
/// Rounds of "add to the live item, else start it afresh" before `add` gives up (each
/// round is lost only to a concurrent create or expiry of the same item).
const MAX_ADD_ROUNDS: usize = 8;
/// Attempts of a transaction that DynamoDB cancels for a conflict with another one.
const MAX_TRANSACTION_ATTEMPTS: u32 = 4;
