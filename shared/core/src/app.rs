//! The application: configuration plus the adapters an entry point wired in.

use crate::auth::keys::KeyCache;
use crate::config::Config;
use crate::domain::Id;
use crate::ports::{BlobStore, Clock, Random, Secrets, Store, random};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;
use time::OffsetDateTime;

/// The adapters for every port, chosen by the entry point.
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
}

pub struct App {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub config: Config,
    pub(crate) keys: KeyCache,
}

impl App {
    /// Cheap and does no I/O, so entry points can build it during a cold start.
    pub fn new(ports: Ports, config: Config) -> App {
        App {
            store: ports.store,
            blobs: ports.blobs,
            secrets: ports.secrets,
            clock: ports.clock,
            random: ports.random,
            config,
            keys: KeyCache::default(),
        }
    }

    /// Now, to the millisecond (what we store and show).
    pub fn now(&self) -> OffsetDateTime {
        let now = self.clock.now();
        now.replace_millisecond(now.millisecond()).unwrap_or(now)
    }

    pub fn new_id(&self) -> Id {
        Id::new(&*self.clock, &*self.random)
    }

    /// A fresh 256-bit secret as URL-safe base64 (tokens, API keys, CSRF values).
    pub fn random_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(random::bytes::<32>(&*self.random))
    }
}
