//! Ports: everything the core needs from outside, as traits. Adapters (embedded, AWS,
//! edge) implement them; the core never names a runtime.
//!
//! Futures are `Send` natively (so servers can spawn them) and not on wasm32, where the
//! Workers runtime's futures are `!Send`; `MaybeSend`/`MaybeSync` carry that difference.

pub mod blob;
pub mod clock;
pub mod http_client;
pub mod metrics;
pub mod random;
pub mod secrets;
pub mod spawner;
pub mod store;
pub mod web_search;

pub use blob::{BlobError, BlobPage, BlobStore};
pub use clock::Clock;
pub use http_client::{Guarded, HttpClient, HttpError, HttpResponse};
pub use metrics::MetricsSink;
pub use random::Random;
pub use secrets::{SecretError, Secrets};
pub use spawner::Spawner;
pub use store::{Condition, Index, Item, Page, Query, SkRange, Store, StoreError, Write};
pub use web_search::{SearchError, SearchHit, WebSearch};

#[cfg(not(target_arch = "wasm32"))]
mod maybe {
    pub type BoxStream<'a, T> = futures::stream::BoxStream<'a, T>;
    pub type BoxFuture<'a, T> = futures::future::BoxFuture<'a, T>;
    pub trait MaybeSend: Send {}
    impl<T: Send + ?Sized> MaybeSend for T {}
    pub trait MaybeSync: Sync {}
    impl<T: Sync + ?Sized> MaybeSync for T {}
}

#[cfg(target_arch = "wasm32")]
mod maybe {
    pub type BoxStream<'a, T> = futures::stream::LocalBoxStream<'a, T>;
    pub type BoxFuture<'a, T> = futures::future::LocalBoxFuture<'a, T>;
    pub trait MaybeSend {}
    impl<T: ?Sized> MaybeSend for T {}
    pub trait MaybeSync {}
    impl<T: ?Sized> MaybeSync for T {}
}

pub use maybe::{BoxFuture, BoxStream, MaybeSend, MaybeSync};
