//! What an `accept` does after it fails: inside `green::run` it lets the
//! other greenlets run before the error reaches its caller, so a loop that
//! skips accept errors (`for c in listener.incoming() { … continue }`, as
//! std's docs suggest) never starves the hub, and the greenlet that would
//! free descriptors, the timers and the IO all go on. With std threads such
//! a loop spins but the other threads still run; here it would be the only
//! greenlet that ever runs.
//!
//! `WouldBlock` is not handled here: it reaches the caller only from a
//! listener whose read timeout passed (the accept waited, the others ran)
//! or one the user set non-blocking, whose `WouldBlock` returns at once as
//! any non-blocking socket's does (`source::user_would_block`): a loop that
//! retries on it spins the hub, as it spins a std thread (a known trap).

use std::io;
use std::time::Duration;

/// The pause after an accept fails for want of descriptors or memory: the
/// condition lasts until something is freed, so trying again at once only
/// burns the CPU. [`StreamServer`](crate::StreamServer)'s back-off starts
/// here too.
pub(crate) const OUT_OF_RESOURCES_PAUSE: Duration = Duration::from_millis(5);

/// `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`: the process or the system is out
/// of descriptors or memory.
pub(crate) fn is_out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// After an accept failed with `e` (not a `WouldBlock`): inside
/// `green::run`, sleeps [`OUT_OF_RESOURCES_PAUSE`] when the process is out
/// of resources and yields otherwise; outside it returns at once, as std's
/// accept does.
pub(crate) fn after_error(e: &io::Error) {
    if !green::is_running() || e.kind() == io::ErrorKind::WouldBlock {
        return;
    }
    if is_out_of_resources(e) {
        green::sleep(OUT_OF_RESOURCES_PAUSE);
    } else {
        green::yield_now();
    }
}
