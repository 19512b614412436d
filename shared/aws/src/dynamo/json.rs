//! The SDK's attribute values to and from DynamoDB JSON, the form the shared layout
//! (`confab_dynamo_json`) works on.

use aws_sdk_dynamodb::types::AttributeValue;
use confab_core::ports::store::StoreError;
use confab_dynamo_json::Attrs;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) type SdkAttrs = HashMap<String, AttributeValue>;

/// An attribute value the layout made (keys, expression values, start keys). Only
/// what it writes is accepted, so an error here is a bug, reported as `Invalid`.
fn to_sdk(value: &Value) -> Result<AttributeValue, StoreError> {
    let entry = value.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next());
    Ok(match entry {
        Some((kind, Value::String(s))) if kind == "S" => AttributeValue::S(s.clone()),
        Some((kind, Value::String(n))) if kind == "N" => AttributeValue::N(n.clone()),
        Some((kind, Value::Bool(b))) if kind == "BOOL" => AttributeValue::Bool(*b),
        Some((kind, _)) if kind == "NULL" => AttributeValue::Null(true),
        Some((kind, Value::Array(list))) if kind == "L" => {
            AttributeValue::L(list.iter().map(to_sdk).collect::<Result<_, _>>()?)
        }
        Some((kind, Value::Object(map))) if kind == "M" => AttributeValue::M(to_sdk_map(map)?),
        _ => return Err(StoreError::Invalid(format!("not an attribute value: {value}"))),
    })
}

pub(super) fn to_sdk_map(attrs: &Attrs) -> Result<SdkAttrs, StoreError> {
    attrs.iter().map(|(k, v)| Ok((k.clone(), to_sdk(v)?))).collect()
}

/// An attribute value of an answer. Types the layout never writes keep a form the
/// layout's decoder refuses, with the SDK's description.
fn from_sdk(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::L(list) => json!({ "L": list.iter().map(from_sdk).collect::<Vec<_>>() }),
        AttributeValue::M(map) => json!({ "M": from_sdk_map(map) }),
        AttributeValue::Ss(set) => json!({ "SS": set }),
        AttributeValue::Ns(set) => json!({ "NS": set }),
        other => json!({ "unsupported": format!("{other:?}") }),
    }
}

pub(super) fn from_sdk_map(attrs: &SdkAttrs) -> Attrs {
    attrs.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_forms_round_trip() {
        let value = json!({ "M": {
            "a": { "L": [{ "N": "1" }, { "S": "x" }, { "NULL": true }, { "BOOL": false }] },
            "m": { "M": {} },
        }});
        assert_eq!(from_sdk(&to_sdk(&value).unwrap()), value);
        assert!(to_sdk(&json!({ "B": "AAEC" })).is_err());
        assert_eq!(from_sdk(&AttributeValue::Ss(vec!["a".into()])), json!({ "SS": ["a"] }));
    }
}
