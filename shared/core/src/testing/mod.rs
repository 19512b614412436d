//! The test kit (feature `testing`, and the core's own unit tests): an adapter for every
//! port that a test can drive and look into, and [`app`], which builds an [`App`] on
//! them.
//!
//! ```ignore
//! let t = testing::app().with_clock(ManualClock::at(1_750_000_000)).build();
//! t.http.reply(Reply::new(200).body(sse));
//! let events = t.run(async { /* call the core with &t.app */ });
//! ```
//!
//! The app's store is a [`FaultyStore`] in front of the [`MemoryStore`]: `t.faults`
//! fails the store calls a test chooses (`t.faults.fail_call(2, Fault::Throttled)`).
//!
//! Everything runs on the calling thread: [`run`] polls the test's future and every
//! spawned task, and moves the manual clock to the next timer whenever all of them wait,
//! so retries, timeouts and grace periods take no real time.

mod blobs;
mod clock;
mod faults;
mod http;
mod random;
mod runtime;
mod search;
mod store;

pub use blobs::{MemoryBlobs, MemorySecrets};
pub use clock::ManualClock;
pub use faults::{Fault, FaultyStore};
pub use http::{FakeHttp, Reply, Sent};
pub use random::{FixedRandom, SeededRandom};
pub use runtime::{Tasks, run};
pub use search::FakeSearch;
pub use store::MemoryStore;

use crate::ports::Random;
use crate::{App, Config, Ports};
use std::future::Future;
use std::sync::Arc;

/// A builder for a [`TestApp`]; see the module docs.
pub fn app() -> Builder {
    Builder {
        clock: ManualClock::at(1_750_000_000),
        random: Arc::new(SeededRandom::new(0)),
        config: Config::default(),
        search: false,
        counting_alone: false,
    }
}

pub struct Builder {
    clock: ManualClock,
    random: Arc<dyn Random>,
    config: Config,
    search: bool,
    counting_alone: bool,
}

impl Builder {
    /// Rate-limits, the day's tokens and usage counted in memory, as the local server
    /// does ([`App::counting_alone`]).
    pub fn counting_alone(mut self) -> Self {
        self.counting_alone = true;
        self
    }

    /// Research may search: through the test app's [`FakeSearch`].
    pub fn with_search(mut self) -> Self {
        self.search = true;
        self
    }

    pub fn with_clock(mut self, clock: ManualClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_random(mut self, random: impl Random + 'static) -> Self {
        self.random = Arc::new(random);
        self
    }

    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    #[cfg_attr(
        target_arch = "wasm32",
        expect(
            clippy::arc_with_non_send_sync,
            reason = "the ports are Arcs on every target; wasm32 has one thread"
        )
    )]
    pub fn build(self) -> TestApp {
        let clock = Arc::new(self.clock.clone());
        let store = Arc::new(MemoryStore::new(clock.clone()));
        let faults = Arc::new(FaultyStore::new(store.clone()));
        let blobs = Arc::new(MemoryBlobs::default());
        let secrets = Arc::new(MemorySecrets::default());
        let http = Arc::new(FakeHttp::new(clock.clone()));
        let tasks = Arc::new(Tasks::default());
        let ports = Ports {
            store: faults.clone(),
            blobs: blobs.clone(),
            secrets: secrets.clone(),
            clock,
            random: self.random,
            http: http.clone(),
            spawner: tasks.clone(),
        };
        let search = Arc::new(FakeSearch::default());
        let mut app = App::new(ports, self.config);
        if self.counting_alone {
            app = app.counting_alone();
        }
        if self.search {
            app.search = Some(search.clone());
        }
        let app = Arc::new(app);
        TestApp { app, clock: self.clock, store, faults, blobs, secrets, http, tasks, search }
    }
}

/// An [`App`] on the kit's adapters, which stay reachable for the test to drive and
/// look into.
pub struct TestApp {
    pub app: Arc<App>,
    pub clock: ManualClock,
    pub store: Arc<MemoryStore>,
    /// In front of `store`: the app's store, which fails the calls a test chooses.
    pub faults: Arc<FaultyStore>,
    pub blobs: Arc<MemoryBlobs>,
    pub secrets: Arc<MemorySecrets>,
    pub http: Arc<FakeHttp>,
    pub tasks: Arc<Tasks>,
    pub search: Arc<FakeSearch>,
}

impl TestApp {
    /// Runs `main` and everything it spawns to the end; see [`run`].
    pub fn run<T>(&self, main: impl Future<Output = T>) -> T {
        run(&self.clock, &self.tasks, main)
    }
}
