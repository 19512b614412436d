//! Scripts under `tests/python/` run with the test command's virtualenv interpreter
//! (`CONFAB_PYTHON`, where `scripts/test` installs the official clients and Playwright).

use std::process::Command;

/// Runs `tests/python/<script>` with `args` and fails the test, with its output, unless
/// it succeeds. `needs` says what the script needs installed, for the failure message.
pub async fn run_script(script: &str, args: Vec<String>, needs: &str) {
    let python = std::env::var("CONFAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = format!("{}/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::task::spawn_blocking(move || Command::new(&python).arg(path).args(args).output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run python ({e}); run ./scripts/test, which installs it"));
    assert!(
        output.status.success(),
        "{script} failed (is {needs} installed? ./scripts/test installs it)\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
