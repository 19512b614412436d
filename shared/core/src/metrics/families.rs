//! Every metric confab records. CloudWatch dimension sets are kept few: each set of
//! values is a custom metric (billed), so routes, methods and error codes are properties
//! of the log line, searchable in Logs Insights, not dimensions.

use super::{Family, Kind};

pub static HTTP_REQUESTS: Family = Family {
    name: "confab_http_requests_total",
    help: "Requests answered, by function, route template, method and status class.",
    kind: Kind::Counter,
    labels: &["function", "route", "method", "status_class"],
    dimensions: &[&["function"], &["function", "status_class"]],
};

pub static HTTP_REQUEST_DURATION: Family = Family {
    name: "confab_http_request_duration_seconds",
    help: "Time from a request's arrival to its response head (a stream's start).",
    kind: Kind::Histogram,
    labels: &["function", "route", "method"],
    dimensions: &[&["function"]],
};

pub static HTTP_ERRORS: Family = Family {
    name: "confab_http_errors_total",
    help: "Error answers, by function, route template and error code.",
    kind: Kind::Counter,
    labels: &["function", "route", "code"],
    dimensions: &[&["function"]],
};

pub static PROVIDER_ATTEMPTS: Family = Family {
    name: "confab_provider_attempts_total",
    help: "Requests sent to model providers (each retry and fallback counts).",
    kind: Kind::Counter,
    labels: &["model", "provider"],
    dimensions: &[&[], &["model", "provider"]],
};

pub static PROVIDER_ERRORS: Family = Family {
    name: "confab_provider_errors_total",
    help: "Failed provider requests and replies broken mid-stream, by error code.",
    kind: Kind::Counter,
    labels: &["model", "provider", "code"],
    dimensions: &[&[], &["model", "provider"]],
};

pub static TIME_TO_FIRST_TOKEN: Family = Family {
    name: "confab_time_to_first_token_seconds",
    help: "Time from sending a request to a provider to its first token.",
    kind: Kind::Histogram,
    labels: &["model", "provider"],
    dimensions: &[&[], &["model", "provider"]],
};

pub static INPUT_TOKENS: Family = Family {
    name: "confab_input_tokens_total",
    help: "Prompt tokens, as providers report them.",
    kind: Kind::Counter,
    labels: &["model", "provider"],
    dimensions: &[&["model", "provider"]],
};

pub static OUTPUT_TOKENS: Family = Family {
    name: "confab_output_tokens_total",
    help: "Reply tokens, as providers report them.",
    kind: Kind::Counter,
    labels: &["model", "provider"],
    dimensions: &[&["model", "provider"]],
};

pub static QUOTA_REFUSALS: Family = Family {
    name: "confab_quota_refusals_total",
    help: "Chat requests refused by a user's quota (requests_per_minute or tokens_per_day).",
    kind: Kind::Counter,
    labels: &["limit"],
    dimensions: &[&["limit"]],
};

pub static EDGE_REFUSALS: Family = Family {
    name: "confab_edge_refusals_total",
    help: "Requests the edge router answered itself, before any function ran: by the function \
           the path belongs to (none for a path of none) and error code.",
    kind: Kind::Counter,
    labels: &["function", "code"],
    dimensions: &[&["code"]],
};

pub static CIRCUIT_OPEN: Family = Family {
    name: "confab_provider_circuit_open",
    help: "1 while this instance's circuit for a provider target is open or half-open.",
    kind: Kind::Gauge,
    labels: &["provider", "target"],
    dimensions: &[],
};

pub static CACHE_REQUESTS: Family = Family {
    name: "confab_cache_requests_total",
    help: "Cacheable /v1 requests (response cache on), by API and whether the cache answered.",
    kind: Kind::Counter,
    labels: &["api", "result"],
    dimensions: &[&["result"]],
};

/// In the order they are rendered.
pub static ALL: [&Family; 12] = [
    &HTTP_REQUESTS,
    &HTTP_REQUEST_DURATION,
    &HTTP_ERRORS,
    &PROVIDER_ATTEMPTS,
    &PROVIDER_ERRORS,
    &TIME_TO_FIRST_TOKEN,
    &INPUT_TOKENS,
    &OUTPUT_TOKENS,
    &QUOTA_REFUSALS,
    &CACHE_REQUESTS,
    &EDGE_REFUSALS,
    &CIRCUIT_OPEN,
];
