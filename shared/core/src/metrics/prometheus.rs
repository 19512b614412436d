//! The Prometheus text exposition format (0.0.4).

use super::{BUCKETS, Family, Key, Kind, Series};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Every family's HELP and TYPE (also with no series yet, so scrapers see the names),
/// then its series.
pub(super) fn render(families: &[&Family], series: &BTreeMap<Key, (&'static Family, Series)>) -> String {
    let mut out = String::new();
    for family in families {
        let kind = match family.kind {
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(family.help));
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        let of_family =
            series.range((family.name, Vec::new())..).take_while(|((name, _), _)| *name == family.name);
        for ((_, values), (_, s)) in of_family {
            write_series(&mut out, family, values, s);
        }
    }
    out
}

fn write_series(out: &mut String, family: &Family, values: &[String], series: &Series) {
    let labels = |extra: Option<(&str, &str)>| {
        let pairs = family.labels.iter().copied().zip(values.iter().map(String::as_str)).chain(extra);
        let text: Vec<String> = pairs.map(|(k, v)| format!("{k}=\"{}\"", escape_value(v))).collect();
        if text.is_empty() { String::new() } else { format!("{{{}}}", text.join(",")) }
    };
    match series {
        Series::Value(v) => {
            let _ = writeln!(out, "{}{} {}", family.name, labels(None), number(*v));
        }
        Series::Histogram { buckets, sum, count } => {
            let base = family.name;
            for (bound, n) in BUCKETS.iter().zip(buckets) {
                let le = number(*bound);
                let _ = writeln!(out, "{base}_bucket{} {n}", labels(Some(("le", &le))));
            }
            let _ = writeln!(out, "{base}_bucket{} {count}", labels(Some(("le", "+Inf"))));
            let _ = writeln!(out, "{base}_sum{} {}", labels(None), number(*sum));
            let _ = writeln!(out, "{base}_count{} {count}", labels(None));
        }
    }
}

/// Whole numbers without a fraction, as Prometheus writes them.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

/// Label values escape backslash, double quote and line feed.
pub(super) fn escape_value(v: &str) -> String {
    v.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// HELP text escapes backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', r"\\").replace('\n', r"\n")
}
