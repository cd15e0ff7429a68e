//! Helpers shared by the integration tests of green-net: a per-test
//! watchdog, and a scenario run in a child process.
//!
//! Every test file uses only some of them.
#![allow(dead_code)]

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// How long one test may run before its watchdog aborts the process.
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

/// The environment variable that tells a re-run test binary which test's
/// scenario to play.
pub const CHILD_ENV: &str = "GREEN_NET_TEST_CHILD";

/// Aborts the whole test process, naming the test, if the guard is still
/// alive after [`TEST_LIMIT`]: a hang (a hub blocked in a syscall, a
/// greenlet that never yields) fails loudly instead of blocking CI.
#[must_use = "the watchdog stops when the guard is dropped"]
pub struct Watchdog {
    _stop: mpsc::Sender<()>,
}

/// Starts a watchdog for the calling test (see [`Watchdog`]).
pub fn watchdog() -> Watchdog {
    let (stop, stopped) = mpsc::channel::<()>();
    let name = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string();
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TEST_LIMIT) {
                eprintln!("test {name} did not finish within {TEST_LIMIT:?}: aborting");
                std::process::abort();
            }
        })
        .expect("start the watchdog thread");
    Watchdog { _stop: stop }
}

/// Runs `scenario` in a child process (this test binary again, running only
/// the test named `test`, which must be the caller), and asserts that it
/// succeeded. In the child, `scenario` runs and the process exits with
/// status 0; a failed assertion there fails the parent with its output.
pub fn in_child(test: &str, scenario: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test) {
        scenario();
        std::process::exit(0);
    }
    let out = Command::new(std::env::current_exe().expect("test binary path"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .output()
        .expect("run the child process");
    assert!(
        out.status.success(),
        "child failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
