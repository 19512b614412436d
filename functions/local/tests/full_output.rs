//! The server keeps serving when its log output fails: stdout and stderr on a full
//! device (`/dev/full`, every write fails with ENOSPC).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// The status line of `GET path`, or None when nothing answers.
fn get(port: u16, path: &str) -> Option<String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(conn, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(String::from)
}

#[test]
fn a_full_log_device_loses_lines_not_the_server() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full here");
        return;
    };
    let data = tempfile::tempdir().expect("a data dir");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .env("CONFAB_LISTEN", format!("127.0.0.1:{port}"))
        .env("CONFAB_DATA_DIR", data.path())
        .env("RUST_LOG", "debug")
        .stdout(Stdio::from(full.try_clone().expect("dup /dev/full")))
        .stderr(Stdio::from(full))
        .spawn()
        .expect("start confab");
    let mut server = Server(child);
    let started = Instant::now();
    while get(port, "/auth/health").is_none() {
        assert!(server.0.try_wait().expect("wait").is_none(), "the server exited while starting");
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    for path in ["/auth/health", "/auth/me", "/no/such/route", "/openapi.json"] {
        for _ in 0..20 {
            let status = get(port, path).unwrap_or_else(|| panic!("no answer to {path}"));
            assert!(!status.contains(" 5"), "{path}: {status}");
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(server.0.try_wait().expect("wait").is_none(), "the server exited");
    assert!(get(port, "/auth/health").is_some_and(|s| s.contains(" 200 ")));
}
