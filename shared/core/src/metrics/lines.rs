//! An event as one log line: CloudWatch's embedded metric format (EMF) on Lambda, where
//! CloudWatch turns the line into metrics with no API call; the same flat JSON without
//! the `_aws` directive on Workers, for Workers Logs and Logpush queries.

use super::{Event, Family, Kind, label};
use serde_json::{Map, Value, json};

/// Marks metric lines among the other log lines (`kind = "metrics"`).
pub const KIND: &str = "metrics";

/// `{"kind":"metrics","timestamp":ms,<label>:<value>…,<metric name>:<value>…}`.
pub fn json_line(event: &Event<'_>) -> String {
    Value::Object(fields(event)).to_string()
}

/// The same fields, with the `_aws` directive naming each metric, its unit and its
/// dimension sets in `namespace`.
pub fn emf_line(namespace: &str, event: &Event<'_>) -> String {
    let mut fields = fields(event);
    let mut families: Vec<&Family> = event.samples.iter().map(|s| s.family).collect();
    families.dedup_by_key(|f| f.name);
    let directives: Vec<Value> = families
        .iter()
        .map(|f| {
            let unit = if f.kind == Kind::Histogram { "Seconds" } else { "Count" };
            json!({
                "Namespace": namespace,
                "Dimensions": f.dimensions,
                "Metrics": [{"Name": f.name, "Unit": unit}],
            })
        })
        .collect();
    let timestamp = event.at.unix_timestamp_nanos() / 1_000_000;
    fields.insert("_aws".into(), json!({"Timestamp": timestamp as i64, "CloudWatchMetrics": directives}));
    Value::Object(fields).to_string()
}

fn fields(event: &Event<'_>) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("kind".into(), KIND.into());
    fields.insert("timestamp".into(), json!((event.at.unix_timestamp_nanos() / 1_000_000) as i64));
    if let Some(trace_id) = &event.trace_id {
        fields.insert("trace_id".into(), trace_id.clone().into());
    }
    for sample in event.samples {
        for (name, value) in sample.family.labels.iter().zip(sample.labels) {
            fields.insert((*name).into(), label(value).into());
        }
        fields.insert(sample.family.name.into(), json!(sample.value));
    }
    fields
}
