//! The one door to the disk: every syscall of this module goes through
//! [`job`] (or [`File`](super::File)'s wrapper of it).
//!
//! Inside [`green::run`] a job runs on green's blocking pool
//! ([`green::unblock`]) while the greenlet parks; outside, it runs right
//! here. Jobs own everything they touch (`PathBuf`s, `Vec`s, `Arc`s): a
//! greenlet killed while it waits unwinds at once, but its job runs to
//! completion on the pool, so it must not borrow from the greenlet's stack.

use std::path::Path;

/// The most bytes one job moves between the caller's buffer and the pool:
/// it bounds the extra memory of the copy and the time the hub's thread
/// spends copying, while keeping pool round trips rare (a page-cache read
/// of 8 MiB takes about a millisecond; a round trip, tens of microseconds).
pub(super) const CHUNK: usize = 8 << 20;

/// How many directory entries one job reads ahead for a `ReadDir`.
pub(super) const BATCH: usize = 1024;

/// Whether jobs go to the pool: the calling thread is inside `run`.
/// Outside, callers skip the copies and call std on their own buffers.
pub(super) fn green() -> bool {
    green::is_running()
}

/// Runs `op` on green's pool inside `run` (the greenlet parks until it is
/// done), on the calling thread outside.
pub(super) fn job<R: Send + 'static>(op: impl FnOnce() -> R + Send + 'static) -> R {
    green::unblock(op)
}

/// [`job`] on a path: outside `run` the path is only borrowed.
pub(super) fn path_job<P, R>(path: P, op: impl FnOnce(&Path) -> R + Send + 'static) -> R
where
    P: AsRef<Path>,
    R: Send + 'static,
{
    if !green() {
        return op(path.as_ref());
    }
    let path = path.as_ref().to_path_buf();
    job(move || op(&path))
}

/// [`job`] on two paths (copy, rename, links).
pub(super) fn paths_job<P, Q, R>(
    from: P,
    to: Q,
    op: impl FnOnce(&Path, &Path) -> R + Send + 'static,
) -> R
where
    P: AsRef<Path>,
    Q: AsRef<Path>,
    R: Send + 'static,
{
    if !green() {
        return op(from.as_ref(), to.as_ref());
    }
    let (from, to) = (from.as_ref().to_path_buf(), to.as_ref().to_path_buf());
    job(move || op(&from, &to))
}
