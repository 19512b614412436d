//! confab's HTTP integration tests: one test binary (linking one per file cost minutes), a
//! module per area.

mod accounts;
mod admin;
mod anthropic_client;
mod api_keys;
mod attachments;
mod auth;
mod bad_input;
mod branches;
mod cache;
mod chat;
mod data_tool;
mod embeddings;
mod export;
mod lambda;
mod leases;
mod mfa;
mod middleware;
mod observability;
mod oidc;
mod openai_client;
mod openapi;
mod providers;
mod research;
mod search;
mod sessions;
mod share;
mod tokens;
mod webapp;
mod workers;
