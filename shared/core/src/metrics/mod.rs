//! Metrics: one registry per [`App`](crate::App), no globals. Every recording updates
//! the instance's counters and histograms (Prometheus text at `/admin/metrics`) and goes
//! to the [`MetricsSink`] as one event: an EMF log line on Lambda, a JSON line on
//! Workers, where each instance sees only its own counters and the lines are the truth.
//!
//! Label values are bounded: route templates (never raw paths), method and status
//! classes, configured model names, provider kinds and static error codes; past
//! [`MAX_SERIES`] new series are dropped rather than grow memory without end.

mod families;
pub mod lines;
mod prometheus;
mod routes;

pub use families::*;
pub use routes::RouteTemplates;

use crate::ports::{Clock, MetricsSink};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use time::OffsetDateTime;

/// Most distinct series one instance keeps.
pub const MAX_SERIES: usize = 5_000;
/// Longest label value kept; longer ones are cut (no label is meant to be near it).
const MAX_LABEL_CHARS: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    /// Seconds, in [`BUCKETS`].
    Histogram,
    /// Set at scrape time (circuit states); never sent as a log line.
    Gauge,
}

/// A metric's name, help, labels and, for CloudWatch, which labels are its dimensions
/// (each list one dimension set; the other labels stay searchable properties).
#[derive(Debug, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub dimensions: &'static [&'static [&'static str]],
}

/// Upper bounds (seconds) of the histograms' buckets: milliseconds for the middleware,
/// up to a minute for a slow model's first token.
pub const BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0];

/// One value for one family; `labels` in the family's order.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    pub family: &'static Family,
    pub labels: &'a [&'a str],
    pub value: f64,
}

impl<'a> Sample<'a> {
    pub fn new(family: &'static Family, labels: &'a [&'a str], value: f64) -> Self {
        Sample { family, labels, value }
    }
}

/// What one recording sends to the sink.
pub struct Event<'a> {
    pub at: OffsetDateTime,
    pub samples: &'a [Sample<'a>],
    /// The trace of the request it belongs to, for finding its logs.
    pub trace_id: Option<String>,
}

#[derive(Debug, Clone)]
enum Series {
    Value(f64),
    Histogram { buckets: [u64; BUCKETS.len()], sum: f64, count: u64 },
}

type Key = (&'static str, Vec<String>);

pub struct Metrics {
    series: Mutex<BTreeMap<Key, (&'static Family, Series)>>,
    sink: Option<Arc<dyn MetricsSink>>,
    clock: Arc<dyn Clock>,
    routes: OnceLock<RouteTemplates>,
}

impl Metrics {
    pub fn new(clock: Arc<dyn Clock>, sink: Option<Arc<dyn MetricsSink>>) -> Self {
        Metrics { series: Mutex::default(), sink, clock, routes: OnceLock::new() }
    }

    /// Counts, observes or sets each sample, then hands them to the sink as one event.
    pub fn record(&self, samples: &[Sample<'_>]) {
        {
            let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
            for sample in samples {
                apply(&mut series, sample);
            }
        }
        let Some(sink) = &self.sink else { return };
        let samples: Vec<_> = samples.iter().filter(|s| s.family.kind != Kind::Gauge).copied().collect();
        if !samples.is_empty() {
            let trace_id = crate::trace::current().map(|t| t.trace_id());
            sink.emit(&Event { at: self.clock.now(), samples: &samples, trace_id });
        }
    }

    /// The route template a path is counted under (`/sessions/{id}`), or `other`.
    pub fn route(&self, path: &str) -> &'static str {
        self.routes.get_or_init(RouteTemplates::default).template(path)
    }

    /// Every series, in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner()).clone();
        prometheus::render(&families::ALL, &series)
    }

    /// A counter's or gauge's current value (0 when never recorded), for tests.
    pub fn value(&self, family: &'static Family, labels: &[&str]) -> f64 {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        match series.get(&key(family, labels)).map(|(_, s)| s) {
            Some(Series::Value(v)) => *v,
            Some(Series::Histogram { count, .. }) => *count as f64,
            None => 0.0,
        }
    }
}

/// The instance's metrics as Prometheus text, with its circuits' states as of now.
pub fn exposition(app: &crate::App) -> String {
    for (target, state) in app.breakers.states() {
        let open = f64::from(u8::from(state != crate::chat::breaker::CircuitState::Closed));
        app.metrics.record(&[Sample::new(&CIRCUIT_OPEN, &[target.provider.name(), &target.model], open)]);
    }
    app.metrics.render()
}

fn key(family: &'static Family, labels: &[&str]) -> Key {
    (family.name, labels.iter().map(|v| label(v)).collect())
}

/// A label value as kept: cut to [`MAX_LABEL_CHARS`], and never empty (CloudWatch
/// refuses empty dimension values).
fn label(value: &str) -> String {
    match value {
        "" => "none".into(),
        v => v.chars().take(MAX_LABEL_CHARS).collect(),
    }
}

fn apply(series: &mut BTreeMap<Key, (&'static Family, Series)>, sample: &Sample<'_>) {
    if !sample.value.is_finite() || sample.labels.len() != sample.family.labels.len() {
        return;
    }
    let key = key(sample.family, sample.labels);
    if !series.contains_key(&key) && series.len() >= MAX_SERIES {
        return;
    }
    let (_, entry) = series.entry(key).or_insert_with(|| (sample.family, empty(sample.family.kind)));
    match entry {
        Series::Value(v) if sample.family.kind == Kind::Gauge => *v = sample.value,
        Series::Value(v) => *v += sample.value.max(0.0),
        Series::Histogram { buckets, sum, count } => {
            let value = sample.value.max(0.0);
            for (bucket, bound) in buckets.iter_mut().zip(BUCKETS) {
                *bucket += u64::from(value <= bound);
            }
            *sum += value;
            *count += 1;
        }
    }
}

fn empty(kind: Kind) -> Series {
    match kind {
        Kind::Histogram => Series::Histogram { buckets: [0; BUCKETS.len()], sum: 0.0, count: 0 },
        Kind::Counter | Kind::Gauge => Series::Value(0.0),
    }
}

/// `2xx`…`5xx`: the bounded form of a status.
pub fn status_class(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The method, or `other` for one no route answers (so a client cannot mint labels).
pub fn method_label(method: &http::Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN.into_iter().find(|m| *m == method.as_str()).unwrap_or("other")
}

#[cfg(test)]
mod tests;
