//! Conversions between the port's items and DynamoDB attributes, expression building,
//! and query cursors.

use super::attr;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use confab_core::ports::store::{Index, Item, SkRange, StoreError};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

pub(super) type Attrs = HashMap<String, AttributeValue>;

/// A JSON value as a DynamoDB attribute value: objects become maps (`M`), arrays lists
/// (`L`), numbers `N` in their JSON spelling.
pub(super) fn to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(list) => AttributeValue::L(list.iter().map(to_attr).collect()),
        Value::Object(map) => AttributeValue::M(to_attr_map(map)),
    }
}

pub(super) fn to_attr_map(map: &Map<String, Value>) -> Attrs {
    map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()
}

/// The inverse of [`to_attr`]. String and number sets (never written by this adapter)
/// read as arrays; binary values are refused.
pub(super) fn from_attr(value: &AttributeValue) -> Result<Value, String> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(list) => Value::Array(list.iter().map(from_attr).collect::<Result<_, _>>()?),
        AttributeValue::M(map) => Value::Object(from_attr_map(map)?),
        AttributeValue::Ss(set) => Value::Array(set.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(set) => {
            Value::Array(set.iter().map(|n| parse_number(n).map(Value::Number)).collect::<Result<_, _>>()?)
        }
        other => return Err(format!("unsupported attribute type {other:?}")),
    })
}

pub(super) fn from_attr_map(map: &Attrs) -> Result<Map<String, Value>, String> {
    map.iter().map(|(k, v)| Ok((k.clone(), from_attr(v)?))).collect()
}

/// A DynamoDB number: an integer when it is one that fits 64 bits, else a float.
fn parse_number(n: &str) -> Result<Number, String> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Number::from(i));
    }
    if let Ok(u) = n.parse::<u64>() {
        return Ok(Number::from(u));
    }
    n.parse::<f64>().ok().and_then(Number::from_f64).ok_or_else(|| format!("number {n:?} out of range"))
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The table key of an item.
pub(super) fn key(pk: &str, sk: &str) -> Attrs {
    HashMap::from([(attr::PK.to_string(), s(pk)), (attr::SK.to_string(), s(sk))])
}

fn malformed(what: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("malformed item in the table: {what}"))
}

fn string_attr<'a>(attrs: &'a Attrs, name: &str) -> Result<Option<&'a str>, StoreError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(other) => Err(malformed(format!("{name} is {other:?}"))),
    }
}

fn int_attr(attrs: &Attrs, name: &str) -> Result<Option<i64>, StoreError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(value)) => {
            value.parse().map(Some).map_err(|_| malformed(format!("{name} is {value:?}")))
        }
        Some(other) => Err(malformed(format!("{name} is {other:?}"))),
    }
}

/// The version in a write's returned attributes.
pub(super) fn version_of(attrs: Option<&Attrs>) -> Result<u64, StoreError> {
    let version = attrs.map(|a| int_attr(a, attr::VERSION)).transpose()?.flatten();
    match version {
        Some(v) if v > 0 => Ok(v as u64),
        _ => Err(malformed("a write returned no version")),
    }
}

/// A stored item back as the port's [`Item`].
pub(super) fn decode_item(attrs: &Attrs) -> Result<Item, StoreError> {
    let pk = string_attr(attrs, attr::PK)?.ok_or_else(|| malformed("no pk"))?;
    let sk = string_attr(attrs, attr::SK)?.ok_or_else(|| malformed("no sk"))?;
    let gsi1 = match (string_attr(attrs, attr::GSI1PK)?, string_attr(attrs, attr::GSI1SK)?) {
        (Some(gpk), Some(gsk)) => Some((gpk.to_string(), gsk.to_string())),
        (None, None) => None,
        _ => return Err(malformed(format!("({pk:?}, {sk:?}) has half a gsi1 key"))),
    };
    let data = match attrs.get(attr::DATA) {
        Some(AttributeValue::M(map)) => from_attr_map(map).map_err(malformed)?,
        None => Map::new(),
        Some(other) => return Err(malformed(format!("data is {other:?}"))),
    };
    let version = int_attr(attrs, attr::VERSION)?.unwrap_or(0).max(0) as u64;
    let expires_at = int_attr(attrs, attr::EXPIRES_AT)?;
    Ok(Item { pk: pk.to_string(), sk: sk.to_string(), gsi1, data, expires_at, version })
}

pub(super) fn is_expired(item: &Item, now: i64) -> bool {
    item.expires_at.is_some_and(|at| at <= now)
}

/// Names and values of one request's expressions. DynamoDB refuses unused entries, so
/// placeholders are made only as the expressions use them.
#[derive(Debug, Default)]
pub(super) struct Expr {
    names: HashMap<String, String>,
    values: Attrs,
}

impl Expr {
    /// The placeholder of one of this adapter's own attributes: `#<name>`.
    pub(super) fn attr(&mut self, name: &'static str) -> String {
        let placeholder = format!("#{name}");
        self.names.insert(placeholder.clone(), name.to_string());
        placeholder
    }

    /// The document path of a data field: `#d.#f<n>`.
    pub(super) fn field(&mut self, field: &str) -> String {
        let data = self.attr(attr::DATA);
        let placeholder = format!("#f{}", self.names.len());
        self.names.insert(placeholder.clone(), field.to_string());
        format!("{data}.{placeholder}")
    }

    pub(super) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub(super) fn values(&self) -> Option<Attrs> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// The key attributes a query's `LastEvaluatedKey` holds.
fn cursor_attrs(index: Index) -> &'static [&'static str] {
    match index {
        Index::Primary => &[attr::PK, attr::SK],
        Index::Gsi1 => &[attr::PK, attr::SK, attr::GSI1PK, attr::GSI1SK],
    }
}

/// A cursor: URL-safe base64 (no padding) of the `LastEvaluatedKey` as a JSON object
/// of strings, e.g. `{"pk":"SESSION#1","sk":"MSG#9"}`.
pub(super) fn encode_cursor(last_key: &Attrs) -> Result<String, StoreError> {
    let mut object = Map::new();
    for (name, value) in last_key {
        match value {
            AttributeValue::S(value) => object.insert(name.clone(), Value::String(value.clone())),
            other => return Err(malformed(format!("LastEvaluatedKey {name} is {other:?}"))),
        };
    }
    let json = serde_json::to_vec(&object).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The `ExclusiveStartKey` of a cursor, checked to be one of this query's: exactly the
/// index's key attributes, non-empty strings, in the queried partition and sort-key
/// range (DynamoDB refuses a start key outside the key condition).
pub(super) fn decode_cursor(
    cursor: &str,
    index: Index,
    partition: &str,
    range: &SkRange,
) -> Result<Attrs, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::BadCursor)?;
    let object: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    let expected = cursor_attrs(index);
    if object.len() != expected.len() {
        return Err(StoreError::BadCursor);
    }
    let mut key = Attrs::new();
    for name in expected {
        match object.get(*name) {
            Some(Value::String(value)) if !value.is_empty() => key.insert(name.to_string(), s(value)),
            _ => return Err(StoreError::BadCursor),
        };
    }
    let (partition_attr, sort_attr) = match index {
        Index::Primary => (attr::PK, attr::SK),
        Index::Gsi1 => (attr::GSI1PK, attr::GSI1SK),
    };
    if key.get(partition_attr) != Some(&s(partition)) {
        return Err(StoreError::BadCursor);
    }
    let Some(AttributeValue::S(sort)) = key.get(sort_attr) else { return Err(StoreError::BadCursor) };
    let in_range = match range {
        SkRange::All => true,
        SkRange::Prefix(prefix) => sort.starts_with(prefix.as_str()),
        SkRange::Between(low, high) => low <= sort && sort <= high,
    };
    if !in_range {
        return Err(StoreError::BadCursor);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_attributes() {
        let value = json!({
            "s": "x", "e": "", "i": -3, "max": i64::MAX, "min": i64::MIN, "u": u64::MAX, "f": 1.5,
            "null": null, "t": true, "l": [1, "a", [], {}], "m": { "n": { "k": [null] } },
        });
        assert_eq!(from_attr(&to_attr(&value)), Ok(value));
    }

    #[test]
    fn numbers_read_as_integers_when_they_are() {
        assert_eq!(parse_number("42"), Ok(Number::from(42)));
        assert_eq!(parse_number("-0.0025").map(|n| n.as_f64()), Ok(Some(-0.0025)));
        assert_eq!(parse_number("1E+2").map(|n| n.as_f64()), Ok(Some(100.0)));
        assert!(parse_number("1E+400").is_err());
    }

    #[test]
    fn cursors_round_trip_and_are_checked() {
        let key = key("p", "s");
        let cursor = encode_cursor(&key).unwrap();
        assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
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
