//! Helpers shared by the integration tests of green-net: a per-test
//! watchdog, and a scenario run in a child process.
//!
//! Every test file uses only some of them.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// How long a child process may run before it is killed (less than
/// [`TEST_LIMIT`], so the parent reports it).
pub const CHILD_LIMIT: Duration = Duration::from_secs(30);

/// Runs `scenario` in a child process (this test binary again, running only
/// the test named `test`, which must be the caller), and asserts that it
/// succeeded within [`CHILD_LIMIT`]. In the child, `scenario` runs and the
/// process exits with status 0; a failed assertion there fails the parent
/// with the child's output.
pub fn in_child(test: &str, scenario: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test) {
        scenario();
        std::process::exit(0);
    }
    let mut child = Command::new(std::env::current_exe().expect("test binary path"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the child process");
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "child failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        match status {
            Some(s) => s.to_string(),
            None => format!("still running after {CHILD_LIMIT:?}, killed"),
        },
        stdout.join().expect("stdout reader"),
        stderr.join().expect("stderr reader"),
    );
}

/// Reads a pipe to its end on a thread, so a chatty child never blocks.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
