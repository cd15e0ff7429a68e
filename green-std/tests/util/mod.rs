//! What more than one of green-std's test files needs.

use std::sync::mpsc;
use std::time::Duration;

/// The bound on any one test: generous, only there to turn a deadlock
/// (an operation blocking the hub) into a failure.
pub const WATCHDOG: Duration = Duration::from_secs(120);

/// Runs `f` on its own thread and fails if it has not finished within
/// [`WATCHDOG`]; `f`'s panic is the test's.
pub fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let value = f();
        let _ = done.send(());
        value
    });
    match finished.recv_timeout(WATCHDOG) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => thread
            .join()
            .unwrap_or_else(|payload| std::panic::resume_unwind(payload)),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the test hung (a deadlock?)"),
    }
}
