//! The local server (`confab`, the binary `cargo run` starts) as a child process, for
//! tests that must kill it the hard way and start it again on the same data.

use crate::lambda::{build, clean_env, free_port};
use crate::{HIGH_LIMITS, TestApp};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// A running `confab` process; killed when dropped.
pub struct LocalProcess {
    pub app: TestApp,
    child: Child,
    log: PathBuf,
}

impl LocalProcess {
    /// Starts `confab` on a free port with `data_dir`, the test limits and `settings`,
    /// and waits until it answers.
    pub async fn start(data_dir: &Path, settings: &[(&str, &str)]) -> LocalProcess {
        let port = free_port();
        let log = data_dir.join(format!("confab-{port}.log"));
        let out = std::fs::File::create(&log).expect("server log");
        let mut cmd = Command::new(binary());
        clean_env(&mut cmd)
            .envs(HIGH_LIMITS.iter().copied())
            .env("CONFAB_LISTEN", format!("127.0.0.1:{port}"))
            .env("CONFAB_DATA_DIR", data_dir)
            .envs(settings.iter().copied())
            .current_dir(data_dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out);
        let child = cmd.spawn().expect("start confab");
        let process = LocalProcess { app: TestApp::at(&format!("http://127.0.0.1:{port}")), child, log };
        process.app.wait_healthy(Duration::from_secs(30), || process.logs()).await;
        process
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub fn kill(mut self) {
        self.stop();
    }

    /// SIGTERM, as `docker stop` sends: waits for the process to end and returns whether
    /// it exited successfully.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        self.child.wait().expect("wait for confab").success()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `confab` binary, built once per test process so that it is never stale.
fn binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build(&["confab-local".into()]).join("confab")).clone()
}
