//! Query cursors: the same bytes from both adapters, so a page from one continues on
//! the other.

use crate::attrs::{Attrs, malformed, s};
use crate::{attr, index_keys};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use confab_core::ports::store::{Index, SkRange, StoreError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The key attributes a query's `LastEvaluatedKey` holds.
fn cursor_attrs(index: Index) -> &'static [&'static str] {
    match index {
        Index::Primary => &[attr::PK, attr::SK],
        Index::Gsi1 => &[attr::PK, attr::SK, attr::GSI1PK, attr::GSI1SK],
    }
}

/// A cursor: URL-safe base64 (no padding) of the `LastEvaluatedKey` as a JSON object
/// of strings, keys sorted, e.g. `{"pk":"SESSION#1","sk":"MSG#9"}`.
pub fn encode_cursor(last_key: &Attrs) -> Result<String, StoreError> {
    let mut object = BTreeMap::new();
    for (name, value) in last_key {
        match value.get("S").and_then(Value::as_str) {
            Some(value) => object.insert(name.as_str(), value),
            None => return Err(malformed(format!("LastEvaluatedKey {name} is {value}"))),
        };
    }
    let json = serde_json::to_vec(&object).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The `ExclusiveStartKey` of a cursor, checked to be one of this query's: exactly the
/// index's key attributes, non-empty strings, in the queried partition and sort-key
/// range (DynamoDB refuses a start key outside the key condition).
pub fn decode_cursor(
    cursor: &str,
    index: Index,
    partition: &str,
    range: &SkRange,
) -> Result<Attrs, StoreError> {
    let key = start_key(cursor, cursor_attrs(index))?;
    let (partition_attr, sort_attr, _) = index_keys(index);
    let string = |name: &str| key.get(name).and_then(|v| v.get("S")).and_then(Value::as_str);
    let sort = string(sort_attr).ok_or(StoreError::BadCursor)?;
    let in_range = match range {
        SkRange::All => true,
        SkRange::Prefix(prefix) => sort.starts_with(prefix.as_str()),
        SkRange::Between(low, high) => low.as_str() <= sort && sort <= high.as_str(),
    };
    if string(partition_attr) != Some(partition) || !in_range {
        return Err(StoreError::BadCursor);
    }
    Ok(key)
}

/// The `ExclusiveStartKey` of a scan's cursor: exactly the table key, non-empty strings.
pub fn decode_scan_cursor(cursor: &str) -> Result<Attrs, StoreError> {
    start_key(cursor, cursor_attrs(Index::Primary))
}

/// A cursor's key: exactly the `expected` attributes, each a non-empty string.
fn start_key(cursor: &str, expected: &[&str]) -> Result<Attrs, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::BadCursor)?;
    let object: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    if object.len() != expected.len() {
        return Err(StoreError::BadCursor);
    }
    let mut key = Attrs::new();
    for name in expected {
        let value = object.get(*name).and_then(Value::as_str).filter(|v| !v.is_empty());
        key.insert(name.to_string(), s(value.ok_or(StoreError::BadCursor)?));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key;

    #[test]
    fn cursors_round_trip_and_are_checked() {
        let key = key("p", "s");
        let cursor = encode_cursor(&key).unwrap();
        assert_eq!(cursor, URL_SAFE_NO_PAD.encode(br#"{"pk":"p","sk":"s"}"#), "the README's bytes");
        let decode = |cursor: &str, index, partition, range: SkRange| {
            decode_cursor(cursor, index, partition, &range).map_err(|e| e.to_string())
        };
        let bad = Err(StoreError::BadCursor.to_string());
        assert_eq!(decode(&cursor, Index::Primary, "p", SkRange::All), Ok(key.clone()));
        assert_eq!(decode(&cursor, Index::Primary, "p", SkRange::Prefix("s".into())), Ok(key.clone()));
        let between = SkRange::Between("r".into(), "s".into());
        assert_eq!(decode(&cursor, Index::Primary, "p", between), Ok(key));
        assert_eq!(decode(&cursor, Index::Primary, "q", SkRange::All), bad, "another partition");
        assert_eq!(decode(&cursor, Index::Gsi1, "p", SkRange::All), bad, "another index");
        assert_eq!(decode(&cursor, Index::Primary, "p", SkRange::Prefix("t".into())), bad, "another range");
        let between = SkRange::Between("a".into(), "r".into());
        assert_eq!(decode(&cursor, Index::Primary, "p", between), bad, "another range");
        let empty = URL_SAFE_NO_PAD.encode(br#"{"pk":"p","sk":""}"#);
        assert_eq!(decode(&empty, Index::Primary, "p", SkRange::All), bad, "an empty key");
        let extra = URL_SAFE_NO_PAD.encode(br#"{"pk":"p","sk":"s","x":"y"}"#);
        assert_eq!(decode(&extra, Index::Primary, "p", SkRange::All), bad, "another attribute");
        let number = URL_SAFE_NO_PAD.encode(br#"{"pk":"p","sk":1}"#);
        assert_eq!(decode(&number, Index::Primary, "p", SkRange::All), bad, "a number");
    }
}
