//! The application: configuration plus the adapters an entry point wired in.

use crate::auth::keys::KeyCache;
use crate::auth::oidc::discovery::OidcCache;
use crate::auth::windows::Windows;
use crate::cache::TtlCache;
use crate::chat::breaker::Breakers;
use crate::chat::models::ModelConfig;
use crate::config::Config;
use crate::domain::Id;
use crate::metrics::Metrics;
use crate::ports::{
    BlobStore, Clock, HttpClient, MetricsSink, Random, Secrets, Spawner, Store, WebSearch, random,
};
use crate::repo::tally::Tally;
use crate::trace::TracedSpawner;
use crate::websearch::HttpSearch;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// The adapters for every port, chosen by the entry point.
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub http: Arc<dyn HttpClient>,
    pub spawner: Arc<dyn Spawner>,
}

/// Everything a handler needs. Derefs to its [`Ports`], so `app.store` reads plainly.
pub struct App {
    ports: Ports,
    pub config: Config,
    pub(crate) keys: KeyCache,
    pub(crate) models: TtlCache<ModelConfig>,
    pub(crate) oidc: OidcCache,
    pub breakers: Breakers,
    /// Web search for research, from `CONFAB_SEARCH_*`; none when not configured.
    pub search: Option<Arc<dyn WebSearch>>,
    /// This instance's counters and histograms, and where each event is logged.
    pub metrics: Arc<Metrics>,
    /// Rate-limit windows in memory, where this process counts alone; else in the store.
    pub(crate) windows: Option<Windows>,
    /// Day token counts and usage in memory, written in batches, where this process
    /// counts alone; else in the store.
    pub(crate) tally: Option<Arc<Tally>>,
    last_id: Mutex<Option<Id>>,
}

impl Deref for App {
    type Target = Ports;

    fn deref(&self) -> &Ports {
        &self.ports
    }
}

impl App {
    /// Cheap and does no I/O, so entry points can build it during a cold start.
    #[cfg_attr(
        target_arch = "wasm32",
        expect(
            clippy::arc_with_non_send_sync,
            reason = "the ports are Arcs on every target; wasm32 has one thread"
        )
    )]
    pub fn new(mut ports: Ports, config: Config) -> App {
        // Spawned work (a reply outliving its client) keeps its request's trace and span.
        ports.spawner = Arc::new(TracedSpawner(ports.spawner));
        let metrics = Arc::new(Metrics::new(ports.clock.clone(), None));
        let breakers = Breakers::new(config.circuit_failures, config.circuit_cooldown_seconds * 1000);
        let search = config.search.clone().map(|settings| {
            Arc::new(HttpSearch::new(settings, ports.http.clone(), ports.secrets.clone()))
                as Arc<dyn WebSearch>
        });
        App {
            ports,
            config,
            keys: KeyCache::default(),
            models: TtlCache::default(),
            oidc: OidcCache::default(),
            breakers,
            search,
            metrics,
            windows: None,
            tally: None,
            last_id: Mutex::new(None),
        }
    }

    /// For a server that is the only one counting (the local server): counts the
    /// rate-limit windows (per IP, per user's chat requests, logins) in this process's
    /// memory, and the day's tokens and usage too, written to the store in batches by
    /// [`flush_counts`](crate::repo::tally::flush_counts), which the server must call
    /// every second or so and before it stops. A request's path then writes nothing to
    /// the store for its limits and accounting.
    pub fn counting_alone(mut self) -> App {
        self.windows = Some(Windows::default());
        self.tally = Some(Arc::new(Tally::default()));
        self
    }

    /// Also writes each metrics event as a log line (EMF on Lambda, JSON on Workers).
    #[cfg_attr(target_arch = "wasm32", expect(clippy::arc_with_non_send_sync, reason = "as in `new`"))]
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> App {
        self.metrics = Arc::new(Metrics::new(self.ports.clock.clone(), Some(sink)));
        self
    }

    /// Now, to the millisecond (what we store and show).
    pub fn now(&self) -> OffsetDateTime {
        let now = self.clock.now();
        now.replace_millisecond(now.millisecond()).unwrap_or(now)
    }

    /// A new id, greater than every id this instance made before.
    /// Unix milliseconds, for timers and latency.
    pub fn now_ms(&self) -> i64 {
        (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    pub fn new_id(&self) -> Id {
        let mut last = self.last_id.lock().unwrap_or_else(|p| p.into_inner());
        let id = Id::new(&*self.clock, &*self.random).after(*last);
        *last = Some(id);
        id
    }

    /// A fresh 256-bit secret as URL-safe base64 (tokens, API keys, CSRF values).
    pub fn random_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(random::bytes::<32>(&*self.random))
    }
}
