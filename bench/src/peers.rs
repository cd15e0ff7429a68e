//! Setting up the peers the same way for every measurement: `may` with one
//! worker thread (or N, in the servers that say so), tokio's current-thread
//! and multi-thread runtimes.

use std::sync::Once;

/// Configures `may` for one worker thread. Must run before `may`'s scheduler
/// starts (its first spawn), so every `may` measurement calls it first.
pub fn may_setup() {
    may_workers(1);
}

/// Configures `may` for `workers` worker threads, if nothing configured it
/// before: the first call in a process wins, later ones (such as
/// [`may_go`]'s own [`may_setup`]) change nothing.
pub fn may_workers(workers: usize) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        may::config().set_workers(workers);
    });
}

/// Spawns a `may` coroutine: what `may::go!` does, with the `unsafe` in the
/// open instead of inside a macro.
pub fn may_go<F, T>(f: F) -> may::coroutine::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    may_setup();
    // SAFETY: `may::coroutine::spawn` asks for two things. (1) Bodies must
    // not rely on thread-locals, because a coroutine may move between worker
    // threads: the bodies this crate passes touch no thread-local of their
    // own (only may's yield/park/IO, which manage theirs), whether may runs
    // one worker or several (the N-worker servers). (2) Bodies must fit in
    // may's default stack (32 KiB, unchecked): ours are a loop, a counter
    // update, a 64-byte buffer (larger ones are on the heap) and a call
    // into may.
    unsafe { may::coroutine::spawn(f) }
}

/// A tokio current-thread runtime with every driver its features allow
/// (here: the timer), as a program would build it.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"))
}

/// A tokio current-thread runtime with no driver at all: no timer, so the
/// scheduler never reads the clock when it runs out of ready tasks.
pub fn tokio_runtime_bare() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"))
}

/// A tokio multi-thread runtime with `workers` worker threads and every
/// driver its features allow (IO, timer).
pub fn tokio_runtime_multi(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build a tokio runtime: {e}"))
}
