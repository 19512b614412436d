//! W3C trace context: a request continues the caller's trace (`traceparent`), else the
//! one Lambda's X-Ray header names, else a new one. The context is current while the
//! request's future is polled (and in the tasks it spawns, see [`TracedSpawner`]), so the
//! calls to providers, search and page fetches carry it on without it being passed down.

use crate::ports::{BoxFuture, Random, Spawner, random};
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use tracing::Instrument;

/// The outbound header, as W3C names it.
pub const TRACEPARENT: &str = "traceparent";
/// The response header that gives the client its trace id (32 hex digits).
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// Lambda's `_X_AMZN_TRACE_ID` for the invocation, put in the request's extensions by
/// the Lambda entry point.
#[derive(Debug, Clone)]
pub struct AmznTraceId(pub String);

/// One request's place in a trace: the trace, this request's own span, and whether the
/// caller samples it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl TraceContext {
    /// A new trace, sampled.
    pub fn new(random: &dyn Random) -> Self {
        TraceContext { trace_id: random::bytes(random), span_id: random::bytes(random), sampled: true }
    }

    /// A span of our own in the trace of `traceparent`, or `None` when it is malformed.
    pub fn continue_from(traceparent: &str, random: &dyn Random) -> Option<Self> {
        let (trace_id, sampled) = parse_traceparent(traceparent)?;
        Some(TraceContext { trace_id, span_id: random::bytes(random), sampled })
    }

    /// A span of our own in the trace of an X-Ray header (`Root=1-<8 hex>-<24 hex>;…`),
    /// whose root is a W3C trace id split in two.
    pub fn continue_xray(header: &str, random: &dyn Random) -> Option<Self> {
        let field =
            |name: &str| header.split(';').find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='));
        let root = field("Root")?.strip_prefix("1-")?;
        let (epoch, unique) = root.split_once('-')?;
        if epoch.len() != 8 || unique.len() != 24 {
            return None;
        }
        let trace_id = hex_id::<16>(&format!("{epoch}{unique}"))?;
        Some(TraceContext {
            trace_id,
            span_id: random::bytes(random),
            sampled: field("Sampled") != Some("0"),
        })
    }

    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// The header for a call made within this request: our span is its parent.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.span_id), u8::from(self.sampled))
    }
}

/// The trace id and sampled flag of a `traceparent` header, or `None` if malformed.
/// Versions after 00 may append fields, which are ignored; `ff` is invalid.
pub fn parse_traceparent(value: &str) -> Option<([u8; 16], bool)> {
    let mut fields = value.trim().split('-');
    let version = fields.next()?;
    let (trace, parent, flags) = (fields.next()?, fields.next()?, fields.next()?);
    let extra = fields.next().is_some();
    if version.len() != 2 || version == "ff" || (version == "00" && extra) {
        return None;
    }
    hex_id::<1>(version)?;
    hex_id::<8>(parent)?;
    let flags = hex_id::<1>(flags)?[0];
    Some((hex_id::<16>(trace)?, flags & 1 == 1))
}

/// `N` bytes from exactly `2N` lowercase hex digits, not all zero (W3C's invalid id).
fn hex_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N || !digits.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    (N == 1 || out.iter().any(|b| *b != 0)).then_some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

thread_local! {
    /// The context of the future being polled on this thread (set around each poll only).
    static CURRENT: RefCell<Option<TraceContext>> = const { RefCell::new(None) };
}

/// The trace of the request being served, if any.
pub fn current() -> Option<TraceContext> {
    CURRENT.with(|c| *c.borrow())
}

/// Runs `fut` with `ctx` current at each of its polls, as `tracing`'s spans do.
pub async fn scoped<F: Future>(ctx: Option<TraceContext>, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    futures::future::poll_fn(move |cx| {
        let outer = CURRENT.with(|c| c.replace(ctx));
        let polled: Poll<F::Output> = fut.as_mut().poll(cx);
        CURRENT.with(|c| c.replace(outer));
        polled
    })
    .await
}

/// `req` with the current trace's `traceparent`, for an outbound call (to a provider, a
/// search service or a fetched page).
pub fn traced<B>(mut req: http::Request<B>) -> http::Request<B> {
    if let Some(value) = current().and_then(|ctx| http::HeaderValue::from_str(&ctx.traceparent()).ok()) {
        req.headers_mut().insert(TRACEPARENT, value);
    }
    req
}

/// Spawns tasks in the trace and log span of the request that spawned them, so a reply
/// produced after its client left still logs and calls out under its trace.
pub struct TracedSpawner(pub Arc<dyn Spawner>);

impl Spawner for TracedSpawner {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        let task = scoped(current(), task.instrument(tracing::Span::current()));
        self.0.spawn(Box::pin(task));
    }

    fn run_blocking(&self, work: Box<dyn FnOnce() + Send>) -> BoxFuture<'static, ()> {
        self.0.run_blocking(work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SeededRandom;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_well_formed_traceparent_is_continued_with_a_span_of_our_own() {
        let ctx = TraceContext::continue_from(GOOD, &SeededRandom::new(1)).unwrap();
        assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(ctx.sampled);
        let out = ctx.traceparent();
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && out.ends_with("-01"), "{out}");
        assert_ne!(&out[36..52], "00f067aa0ba902b7", "our own span id");
        let unsampled = TraceContext::continue_from(&GOOD.replace("-01", "-00"), &SeededRandom::new(1));
        assert!(!unsampled.unwrap().sampled);
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-whatever";
        assert!(parse_traceparent(future).is_some(), "later versions may add fields");
    }

    #[test]
    fn malformed_traceparents_are_refused_never_a_panic() {
        let bad = [
            "",
            "00",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e47é6-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ];
        for value in bad {
            assert!(parse_traceparent(value).is_none(), "{value:?}");
        }
    }

    #[test]
    fn an_xray_root_is_the_same_trace_in_w3c_form() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let ctx = TraceContext::continue_xray(header, &SeededRandom::new(1)).unwrap();
        assert_eq!(ctx.trace_id(), "5759e988bd862e3fe1be46a994272793");
        assert!(ctx.sampled);
        for bad in ["", "Root=1-5759e988", "Root=2-5759e988-bd862e3fe1be46a994272793", "Parent=1;Sampled=1"] {
            assert!(TraceContext::continue_xray(bad, &SeededRandom::new(1)).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_context_is_current_only_while_its_future_is_polled() {
        let ctx = TraceContext::new(&SeededRandom::new(2));
        let (req, seen) = futures::executor::block_on(scoped(Some(ctx), async {
            (traced(http::Request::new(())), current())
        }));
        assert_eq!(seen, Some(ctx));
        assert_eq!(current(), None);
        assert_eq!(req.headers()[TRACEPARENT], ctx.traceparent().as_str());
    }
}
