//! Python scripts driving confab with the official clients (`openai`), under the
//! interpreter of the virtualenv the test command installs them into (`CONFAB_PYTHON`).

use std::process::Command;

/// Runs the interpreter with `args` (a script and its arguments, or `-c` and code) and
/// fails the test with its output unless it succeeds.
pub async fn run_python(args: Vec<String>) {
    let python = std::env::var("CONFAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = tokio::task::spawn_blocking(move || Command::new(&python).args(&args).output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run python ({e}); run ./scripts/test, which installs it"));
    assert!(
        output.status.success(),
        "the python client failed (is the `openai` package installed? ./scripts/test installs it)\n\
         stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The path of a script in `tests/python`.
pub fn script(name: &str) -> String {
    format!("{}/python/{name}", env!("CARGO_MANIFEST_DIR"))
}
