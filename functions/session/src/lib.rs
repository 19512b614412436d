//! The session function as a Cloudflare Worker. All wiring is in `confab-edge`.
#![cfg(target_arch = "wasm32")]

use worker::{Context, Env, Request, Response, event};

/// Access tokens are EdDSA: this Worker links that algorithm alone (`auth::eddsa`).
#[event(start)]
fn start() {
    confab_core::auth::eddsa::install();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    confab_edge::serve(&confab_core::routes::SessionRoutes, req, env, ctx).await
}
