//! The official `openai` Python package against the local server. The test command
//! installs it into a virtualenv and points `CONFAB_PYTHON` at that interpreter.

use confab_tests::*;
use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn the_official_openai_python_client_works_unchanged() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let key = str_field(&app.create_api_key(&ada.access_token, "python").await, "key");
    let python = std::env::var("CONFAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/openai_client.py");
    let base_url = app.base_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python).args([script, &base_url, &key, "echo"]).output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("cannot run python ({e}); run ./scripts/test, which installs it"));
    assert!(
        output.status.success(),
        "the openai client failed (is the `openai` package installed? ./scripts/test installs it)\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
