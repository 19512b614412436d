//! Attribute values in DynamoDB JSON, and stored items back as the port's [`Item`].

use crate::attr;
use confab_core::ports::store::{Item, StoreError};
use serde_json::{Map, Number, Value, json};

/// Attribute names to attribute values (`Key`, `Item`, `ExpressionAttributeValues`).
pub type Attrs = Map<String, Value>;

/// A JSON value as a DynamoDB attribute value: objects become maps (`M`), arrays lists
/// (`L`), numbers `N` in their JSON spelling.
pub(crate) fn to_attr(value: &Value) -> Value {
    match value {
        Value::Null => json!({ "NULL": true }),
        Value::Bool(b) => json!({ "BOOL": b }),
        Value::Number(n) => json!({ "N": n.to_string() }),
        Value::String(s) => json!({ "S": s }),
        Value::Array(list) => json!({ "L": list.iter().map(to_attr).collect::<Vec<_>>() }),
        Value::Object(map) => json!({ "M": to_attr_map(map) }),
    }
}

pub(crate) fn to_attr_map(map: &Map<String, Value>) -> Attrs {
    map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()
}

/// The inverse of [`to_attr`]. String and number sets (never written by the adapters)
/// read as arrays; binary values are refused.
fn from_attr(value: &Value) -> Result<Value, String> {
    let Some((kind, inner)) = value.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()) else {
        return Err(format!("not an attribute value: {value}"));
    };
    let strings = |inner: &Value| -> Result<Vec<String>, String> {
        let list = inner.as_array().ok_or_else(|| format!("{kind} is {inner}"))?;
        list.iter()
            .map(|s| s.as_str().map(str::to_string).ok_or_else(|| format!("{kind} holds {s}")))
            .collect()
    };
    Ok(match (kind.as_str(), inner) {
        ("NULL", _) => Value::Null,
        ("BOOL", Value::Bool(b)) => Value::Bool(*b),
        ("N", Value::String(n)) => Value::Number(parse_number(n)?),
        ("S", Value::String(s)) => Value::String(s.clone()),
        ("L", Value::Array(list)) => Value::Array(list.iter().map(from_attr).collect::<Result<_, _>>()?),
        ("M", Value::Object(map)) => Value::Object(from_attr_map(map)?),
        ("SS", _) => Value::Array(strings(inner)?.into_iter().map(Value::String).collect()),
        ("NS", _) => Value::Array(
            strings(inner)?.iter().map(|n| parse_number(n).map(Value::Number)).collect::<Result<_, _>>()?,
        ),
        _ => return Err(format!("unsupported attribute value {value}")),
    })
}

fn from_attr_map(map: &Attrs) -> Result<Map<String, Value>, String> {
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

pub(crate) fn s(value: &str) -> Value {
    json!({ "S": value })
}

pub(crate) fn n(value: impl ToString) -> Value {
    json!({ "N": value.to_string() })
}

/// The table key of an item.
pub fn key(pk: &str, sk: &str) -> Attrs {
    Attrs::from_iter([(attr::PK.to_string(), s(pk)), (attr::SK.to_string(), s(sk))])
}

pub(crate) fn malformed(what: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("malformed item in the table: {what}"))
}

fn string_attr<'a>(attrs: &'a Attrs, name: &str) -> Result<Option<&'a str>, StoreError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(value) => match value.get("S").and_then(Value::as_str) {
            Some(value) => Ok(Some(value)),
            None => Err(malformed(format!("{name} is {value}"))),
        },
    }
}

fn int_attr(attrs: &Attrs, name: &str) -> Result<Option<i64>, StoreError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(value) => match value.get("N").and_then(Value::as_str).and_then(|n| n.parse().ok()) {
            Some(number) => Ok(Some(number)),
            None => Err(malformed(format!("{name} is {value}"))),
        },
    }
}

/// The version in a write's returned attributes.
pub fn version_of(attrs: Option<&Attrs>) -> Result<u64, StoreError> {
    let version = attrs.map(|a| int_attr(a, attr::VERSION)).transpose()?.flatten();
    match version {
        Some(v) if v > 0 => Ok(v as u64),
        _ => Err(malformed("a write returned no version")),
    }
}

/// A stored item back as the port's [`Item`].
fn decode_item(attrs: &Attrs) -> Result<Item, StoreError> {
    let pk = string_attr(attrs, attr::PK)?.ok_or_else(|| malformed("no pk"))?;
    let sk = string_attr(attrs, attr::SK)?.ok_or_else(|| malformed("no sk"))?;
    let gsi1 = match (string_attr(attrs, attr::GSI1PK)?, string_attr(attrs, attr::GSI1SK)?) {
        (Some(gpk), Some(gsk)) => Some((gpk.to_string(), gsk.to_string())),
        (None, None) => None,
        _ => return Err(malformed(format!("({pk:?}, {sk:?}) has half a gsi1 key"))),
    };
    let data = match attrs.get(attr::DATA) {
        None => Map::new(),
        Some(value) => match value.get("M").and_then(Value::as_object) {
            Some(map) => from_attr_map(map).map_err(malformed)?,
            None => return Err(malformed(format!("data is {value}"))),
        },
    };
    let version = int_attr(attrs, attr::VERSION)?.unwrap_or(0).max(0) as u64;
    let expires_at = int_attr(attrs, attr::EXPIRES_AT)?;
    Ok(Item { pk: pk.to_string(), sk: sk.to_string(), gsi1, data, expires_at, version })
}

/// An `Item` (or `Attributes`) of a response, decoded; `None` when absent or empty.
pub fn decode_optional(value: Option<&Value>) -> Result<Option<Item>, StoreError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(attrs)) if attrs.is_empty() => Ok(None),
        Some(Value::Object(attrs)) => decode_item(attrs).map(Some),
        Some(other) => Err(malformed(format!("an item is {other}"))),
    }
}

pub fn is_expired(item: &Item, now: i64) -> bool {
    item.expires_at.is_some_and(|at| at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_through_attributes() {
        let value = json!({
            "s": "x", "e": "", "i": -3, "max": i64::MAX, "min": i64::MIN, "u": u64::MAX, "f": 1.5,
            "null": null, "t": true, "l": [1, "a", [], {}], "m": { "n": { "k": [null] } },
        });
        assert_eq!(from_attr(&to_attr(&value)), Ok(value));
    }

    #[test]
    fn attributes_are_dynamodb_json() {
        let value = json!({ "a": [1, "x", null, true], "m": {} });
        let expected = json!({ "M": {
            "a": { "L": [{ "N": "1" }, { "S": "x" }, { "NULL": true }, { "BOOL": true }] },
            "m": { "M": {} },
        }});
        assert_eq!(to_attr(&value), expected);
        assert_eq!(from_attr(&json!({ "SS": ["a", "b"] })), Ok(json!(["a", "b"])));
        assert_eq!(from_attr(&json!({ "NS": ["1", "2.5"] })), Ok(json!([1, 2.5])));
        assert!(from_attr(&json!({ "B": "AAEC" })).is_err());
        assert!(from_attr(&json!({ "S": "a", "N": "1" })).is_err());
    }

    #[test]
    fn numbers_read_as_integers_when_they_are() {
        assert_eq!(parse_number("42"), Ok(Number::from(42)));
        assert_eq!(parse_number("-0.0025").map(|n| n.as_f64()), Ok(Some(-0.0025)));
        assert_eq!(parse_number("1E+2").map(|n| n.as_f64()), Ok(Some(100.0)));
        assert!(parse_number("1E+400").is_err());
    }

    #[test]
    fn items_decode_and_empty_answers_are_none() {
        let mut attrs = key("p", "s");
        attrs.insert(attr::DATA.into(), to_attr(&json!({ "n": 1 })));
        attrs.insert(attr::VERSION.into(), n(3));
        let item = decode_optional(Some(&Value::Object(attrs))).unwrap().expect("an item");
        assert_eq!((item.pk.as_str(), item.data["n"].as_i64(), item.version), ("p", Some(1), 3));
        assert!(decode_optional(Some(&json!({}))).unwrap().is_none());
        assert!(decode_optional(None).unwrap().is_none());
    }
}
