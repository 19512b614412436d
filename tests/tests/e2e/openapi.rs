//! schemathesis over the OpenAPI document, against the local server: as a user and as an
//! admin, with every check (server errors, status codes, content types, headers and
//! bodies as documented, schema-valid data accepted and invalid data refused, missing
//! auth refused, undeclared methods answered 405 with `Allow`…). The test command
//! installs schemathesis into its virtualenv and points `CONFAB_SCHEMATHESIS` at it.

use confab_tests::*;
use std::process::Command;

/// Per operation and phase; enough to cover each operation's shapes in about a minute.
const MAX_EXAMPLES: &str = "10";
/// A fixed seed: a failure here reproduces with the same command.
const SEED: &str = "20261203";

/// Runs schemathesis against `app` with `token`; its report on failure.
async fn schemathesis(app: &TestApp, token: &str) -> Result<(), String> {
    let program = std::env::var("CONFAB_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/schemathesis/schemathesis.toml");
    let schema = format!("{}/openapi.json", app.base_url);
    let auth = format!("Authorization: Bearer {token}");
    let work = tempfile::tempdir().expect("a working folder for schemathesis");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .args(["--config-file", config, "--no-color", "run", &schema, "--header", &auth])
            .args(["--checks", "all", "--max-examples", MAX_EXAMPLES, "--seed", SEED])
            .current_dir(work.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} ({e}); ./scripts/test installs it"))
    })
    .await
    .unwrap();
    if output.status.success() {
        return Ok(());
    }
    Err(format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_as_a_user_or_an_admin() {
    let app = spawn_app().await;
    let admin = app.register("admin@example.com").await;
    let user = app.register("user@example.com").await;
    // The user first: the admin's run may disable or demote the user.
    for (who, token) in [("user", &user.access_token), ("admin", &admin.access_token)] {
        if let Err(report) = schemathesis(&app, token).await {
            panic!("schemathesis as {who} failed:\n{report}");
        }
    }
}
