//! The expressions of each operation. Every write sets the whole item and bumps its
//! version in one `UpdateItem` (or transaction entry), so that DynamoDB checks the
//! port's condition and applies the write atomically. Expiry is judged by the caller's
//! clock: conditions and filters compare `expires_at` with "now" sent as a value.

use crate::attrs::{Attrs, n, s, to_attr_map};
use crate::{GSI1, attr};
use confab_core::ports::store::{Condition, Index, Item, Query, SkRange};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One request's expressions and the placeholders they use.
#[derive(Debug, Default)]
pub struct Expressions {
    pub key_condition: Option<String>,
    pub update: Option<String>,
    pub condition: Option<String>,
    pub filter: Option<String>,
    names: BTreeMap<String, String>,
    values: Attrs,
}

impl Expressions {
    /// `ExpressionAttributeNames`: placeholder to attribute name.
    pub fn names(&self) -> &BTreeMap<String, String> {
        &self.names
    }

    /// `ExpressionAttributeValues`: placeholder to attribute value.
    pub fn values(&self) -> &Attrs {
        &self.values
    }

    /// Adds the expressions and placeholders there are to a request in DynamoDB JSON
    /// (DynamoDB refuses empty ones).
    pub fn add_to(self, request: &mut Map<String, Value>) {
        let expressions = [
            ("KeyConditionExpression", self.key_condition),
            ("UpdateExpression", self.update),
            ("ConditionExpression", self.condition),
            ("FilterExpression", self.filter),
        ];
        for (name, expression) in expressions {
            if let Some(expression) = expression {
                request.insert(name.into(), expression.into());
            }
        }
        if !self.names.is_empty() {
            let names = self.names.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            request.insert("ExpressionAttributeNames".into(), Value::Object(names));
        }
        if !self.values.is_empty() {
            request.insert("ExpressionAttributeValues".into(), Value::Object(self.values));
        }
    }

    /// The placeholder of one of the table's own attributes: `#<name>`.
    fn attr(&mut self, name: &'static str) -> String {
        let placeholder = format!("#{name}");
        self.names.insert(placeholder.clone(), name.to_string());
        placeholder
    }

    /// The document path of a data field: `#d.#f<n>`.
    fn field(&mut self, field: &str) -> String {
        let data = self.attr(attr::DATA);
        let placeholder = format!("#f{}", self.names.len());
        self.names.insert(placeholder.clone(), field.to_string());
        format!("{data}.{placeholder}")
    }

    /// Placeholders are made only as the expressions use them: DynamoDB refuses
    /// unused entries.
    fn value(&mut self, value: Value) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }
}

/// The partition and sort key attributes of an index, and its name (`None` for the
/// table itself).
pub fn index_keys(index: Index) -> (&'static str, &'static str, Option<&'static str>) {
    match index {
        Index::Primary => (attr::PK, attr::SK, None),
        Index::Gsi1 => (attr::GSI1PK, attr::GSI1SK, Some(GSI1)),
    }
}

/// `put` (and a transaction's `Put`): make the item exactly `item`, under `condition`.
pub fn put(item: &Item, condition: Condition, now: i64) -> Expressions {
    let mut x = Expressions::default();
    x.update = Some(write(&mut x, &item.data, item.gsi1.as_ref(), item.expires_at, None));
    x.condition = condition_expression(&mut x, condition, now);
    x
}

/// `restore`: make the item exactly `item`, its version included, if none is live.
pub fn restore(item: &Item, now: i64) -> Expressions {
    let mut x = Expressions::default();
    x.update = Some(write(&mut x, &item.data, item.gsi1.as_ref(), item.expires_at, Some(item.version)));
    x.condition = Some(absent(&mut x, now));
    x
}

/// `scan`: the expiry filter alone.
pub fn scan(now: i64) -> Expressions {
    let mut x = Expressions::default();
    x.filter = Some(live_filter(&mut x, now));
    x
}

/// `delete` and a transaction's `Check`: the condition alone (`None` for `Always`).
pub fn conditional(condition: Condition, now: i64) -> Expressions {
    let mut x = Expressions::default();
    x.condition = condition_expression(&mut x, condition, now);
    x
}

/// One round of `add` on the live item: each field `if_not_exists(f, 0) + delta`, the
/// version bumped, the expiry set when given; only if every field is absent or an
/// integer the delta doesn't overflow.
pub fn add_to_live(deltas: &[(&str, i64)], expires_at: Option<i64>, now: i64) -> Expressions {
    let mut x = Expressions::default();
    let mut conditions = vec![live(&mut x, now)];
    let mut sets = Vec::new();
    for &(field, delta) in deltas {
        let path = x.field(field);
        let (zero, delta_value) = (x.value(n(0)), x.value(n(delta)));
        sets.push(format!("{path} = if_not_exists({path}, {zero}) + {delta_value}"));
        conditions.push(add_guard(&mut x, &path, delta));
    }
    let (version, one) = (x.attr(attr::VERSION), x.value(n(1)));
    sets.push(format!("{version} = {version} + {one}"));
    if let Some(at) = expires_at {
        let (exp, at) = (x.attr(attr::EXPIRES_AT), x.value(n(at)));
        sets.push(format!("{exp} = {at}"));
    }
    x.update = Some(format!("SET {}", sets.join(", ")));
    x.condition = Some(conditions.join(" AND "));
    x
}

/// One round of `add` over nothing or an expired item: the item becomes just the
/// deltas (and the given expiry, no gsi1).
pub fn add_fresh(deltas: &[(&str, i64)], expires_at: Option<i64>, now: i64) -> Expressions {
    let data = deltas.iter().map(|&(field, delta)| (field.to_string(), delta.into())).collect();
    let mut x = Expressions::default();
    x.update = Some(write(&mut x, &data, None, expires_at, None));
    x.condition = Some(absent(&mut x, now));
    x
}

/// A query's key condition and expiry filter; `None` when its range holds no sort key.
pub fn query(query: &Query, now: i64) -> Option<Expressions> {
    let (pk_attr, sk_attr, _) = index_keys(query.index);
    let mut x = Expressions::default();
    let (pk_name, pk_value) = (x.attr(pk_attr), x.value(s(&query.pk)));
    let mut key_condition = format!("{pk_name} = {pk_value}");
    match &query.range {
        SkRange::All => {}
        SkRange::Prefix(prefix) if prefix.is_empty() => {}
        SkRange::Prefix(prefix) => {
            let (sk, prefix) = (x.attr(sk_attr), x.value(s(prefix)));
            key_condition += &format!(" AND begins_with({sk}, {prefix})");
        }
        // Sort keys are never empty, and DynamoDB refuses empty key values.
        SkRange::Between(low, high) if low > high || high.is_empty() => return None,
        SkRange::Between(low, high) if low.is_empty() => {
            let (sk, high) = (x.attr(sk_attr), x.value(s(high)));
            key_condition += &format!(" AND {sk} <= {high}");
        }
        SkRange::Between(low, high) => {
            let (sk, low, high) = (x.attr(sk_attr), x.value(s(low)), x.value(s(high)));
            key_condition += &format!(" AND {sk} BETWEEN {low} AND {high}");
        }
    }
    x.key_condition = Some(key_condition);
    x.filter = Some(live_filter(&mut x, now));
    Some(x)
}

/// Drops items that have expired by `now` (DynamoDB removes them only later).
fn live_filter(x: &mut Expressions, now: i64) -> String {
    let (exp, now) = (x.attr(attr::EXPIRES_AT), x.value(n(now)));
    format!("attribute_not_exists({exp}) OR {exp} > {now}")
}

/// The condition `add` puts on one field: absent, or a number (checked first: comparing
/// another type with a number is false in DynamoDB but an error in moto) whose sum
/// stays an i64 (DynamoDB numbers have 38 digits).
fn add_guard(x: &mut Expressions, path: &str, delta: i64) -> String {
    let number = x.value(s("N"));
    let mut guard = format!("attribute_type({path}, {number})");
    if delta > 0 {
        let limit = x.value(n(i64::MAX - delta));
        guard += &format!(" AND {path} <= {limit}");
    } else if delta < 0 {
        let limit = x.value(n(i64::MIN - delta));
        guard += &format!(" AND {path} >= {limit}");
    }
    format!("(attribute_not_exists({path}) OR ({guard}))")
}

/// The update expression that makes the item exactly this (all attributes but the
/// keys are set or removed) and sets its version to `version`, or bumps it when `None`.
fn write(
    x: &mut Expressions,
    data: &Map<String, Value>,
    gsi1: Option<&(String, String)>,
    expires_at: Option<i64>,
    version: Option<u64>,
) -> String {
    let (d, data) = (x.attr(attr::DATA), x.value(serde_json::json!({ "M": to_attr_map(data) })));
    let v = x.attr(attr::VERSION);
    let set_version = match version {
        Some(version) => format!("{v} = {}", x.value(n(version))),
        None => {
            let (zero, one) = (x.value(n(0)), x.value(n(1)));
            format!("{v} = if_not_exists({v}, {zero}) + {one}")
        }
    };
    let mut sets = vec![format!("{d} = {data}"), set_version];
    let mut removes = Vec::new();
    match gsi1 {
        Some((gpk, gsk)) => {
            let (gpk_name, gpk) = (x.attr(attr::GSI1PK), x.value(s(gpk)));
            let (gsk_name, gsk) = (x.attr(attr::GSI1SK), x.value(s(gsk)));
            sets.push(format!("{gpk_name} = {gpk}"));
            sets.push(format!("{gsk_name} = {gsk}"));
        }
        None => {
            removes.push(x.attr(attr::GSI1PK));
            removes.push(x.attr(attr::GSI1SK));
        }
    }
    match expires_at {
        Some(at) => {
            let (exp, at) = (x.attr(attr::EXPIRES_AT), x.value(n(at)));
            sets.push(format!("{exp} = {at}"));
        }
        None => removes.push(x.attr(attr::EXPIRES_AT)),
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression += &format!(" REMOVE {}", removes.join(", "));
    }
    expression
}

/// The item exists and has not expired.
fn live(x: &mut Expressions, now: i64) -> String {
    let (pk, exp, now) = (x.attr(attr::PK), x.attr(attr::EXPIRES_AT), x.value(n(now)));
    format!("attribute_exists({pk}) AND (attribute_not_exists({exp}) OR {exp} > {now})")
}

/// There is no item, or only an expired one.
fn absent(x: &mut Expressions, now: i64) -> String {
    let (pk, exp, now) = (x.attr(attr::PK), x.attr(attr::EXPIRES_AT), x.value(n(now)));
    format!("attribute_not_exists({pk}) OR {exp} <= {now}")
}

fn condition_expression(x: &mut Expressions, condition: Condition, now: i64) -> Option<String> {
    match condition {
        Condition::Always => None,
        Condition::NotExists => Some(absent(x, now)),
        Condition::Exists => Some(live(x, now)),
        Condition::Version(version) => {
            let live = live(x, now);
            let (v, version) = (x.attr(attr::VERSION), x.value(n(version)));
            Some(format!("{live} AND {v} = {version}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_versioned_put_sets_everything_and_checks_the_version() {
        let item = Item::new("p", "s", Map::new());
        let mut request = Map::new();
        put(&item, Condition::Version(2), 10).add_to(&mut request);
        let expected = json!({
            "UpdateExpression": "SET #d = :v0, #v = if_not_exists(#v, :v1) + :v2 REMOVE #gsi1pk, #gsi1sk, #expires_at",
            "ConditionExpression":
                "attribute_exists(#pk) AND (attribute_not_exists(#expires_at) OR #expires_at > :v3) AND #v = :v4",
            "ExpressionAttributeNames": {
                "#d": "d", "#v": "v", "#gsi1pk": "gsi1pk", "#gsi1sk": "gsi1sk",
                "#expires_at": "expires_at", "#pk": "pk",
            },
            "ExpressionAttributeValues": {
                ":v0": { "M": {} }, ":v1": { "N": "0" }, ":v2": { "N": "1" }, ":v3": { "N": "10" },
                ":v4": { "N": "2" },
            },
        });
        assert_eq!(Value::Object(request), expected);
    }

    #[test]
    fn an_empty_range_makes_no_query_and_always_no_condition() {
        let query = Query::new("p", SkRange::Between("b".into(), "a".into()));
        assert!(super::query(&query, 0).is_none());
        let mut request = Map::new();
        conditional(Condition::Always, 0).add_to(&mut request);
        assert!(request.is_empty());
    }
}
