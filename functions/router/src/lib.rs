//! The edge router as a Cloudflare Worker. All of it is in `confab-edge`.
#![cfg(target_arch = "wasm32")]

use worker::{Context, Env, Request, Response, event};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    confab_edge::route(req, env).await
}
