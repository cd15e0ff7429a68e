//! Can another thread still wake this hub's greenlets?
//!
//! A greenlet parked in [`park`](crate::park()), on a channel, a lock or a
//! condition variable can be woken by any thread holding its
//! [`Greenlet`](crate::Greenlet) handle or the other end of the channel or
//! lock, and the hub cannot see where handles went. So the hub declares
//! such waits deadlocked only when this thread is the only one in the
//! process besides green's own idle blocking-pool workers (with no queued
//! job to take). Waits that only this hub can end (join, kill,
//! sleep, fds) need no such check.

/// Whether no thread other than this one (and idle pool workers with no
/// queued job to take, and the blocking detector's thread, which wakes no
/// greenlet) exists.
///
/// The threads are counted first, then the quiet pool workers: a worker
/// that goes quiet in between has queued its job's wake-up before (the
/// caller reads the hub's inbox after this, see `Hub::poll_or_block`); a
/// job queued in between came from a thread that was alive when counted.
/// A busy worker always counts as a thread that may wake this hub: its job
/// may come from another hub, whose thread may even be gone.
pub(crate) fn alone_in_process() -> bool {
    let alone = match thread_count() {
        Some(n) => n <= 1 + crate::unblock::quiet_pool_threads() + crate::monitor::threads(),
        None => false,
    };
    #[cfg(test)]
    if let Some(then) = PRETEND_ALONE.take() {
        then();
        return true;
    }
    alone
}

#[cfg(test)]
thread_local! {
    /// Makes the next `alone_in_process` on this thread run this, once it
    /// has counted, and say yes (unit tests run beside the test harness's
    /// threads, never alone).
    static PRETEND_ALONE: std::cell::Cell<Option<Box<dyn FnOnce()>>> =
        const { std::cell::Cell::new(None) };
}

/// See [`PRETEND_ALONE`].
#[cfg(test)]
pub(crate) fn pretend_alone_then(then: impl FnOnce() + 'static) {
    PRETEND_ALONE.set(Some(Box::new(then)));
}

/// Threads in this process, where the OS says.
fn thread_count() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name may contain spaces or parentheses: fields are
        // counted from after the last ')'. num_threads is field 20 overall,
        // the 18th after the command.
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(17)?.parse().ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn counts_threads() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        // this test's thread and the one just spawned, at least
        assert!(super::thread_count().unwrap() >= 2);
        drop(tx);
        let _ = t.join();
    }
}
