//! The chat function as a Cloudflare Worker, and its Cron Trigger, which ends the
//! replies whose producer died. All wiring is in `confab-edge`.
#![cfg(target_arch = "wasm32")]

use worker::{Context, Env, Request, Response, ScheduleContext, ScheduledEvent, event};

/// Access tokens are EdDSA: this Worker links that algorithm alone (`auth::eddsa`).
#[event(start)]
fn start() {
    confab_core::auth::eddsa::install();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    confab_edge::serve(&confab_core::routes::ChatRoutes, req, env, ctx).await
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    confab_edge::sweep(env).await
}
