//! [`unblock`]: run blocking work on a small thread pool, and the pool.
//!
//! The pool is process-wide and starts empty. A job goes to an idle worker,
//! or to a new one while there are fewer than the maximum (64, or
//! `GREEN_BLOCKING_THREADS`, a whole number of at least 1, or the first
//! job panics), or else waits in a FIFO queue. Workers that stay idle for
//! 10 seconds exit.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use crate::greenlet::WaitKind;
use crate::hub;

const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_THREADS: usize = 64;

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    state: Mutex<State>,
    work: Condvar,
    /// Worker threads alive (idle or busy).
    threads: AtomicUsize,
}

struct State {
    queue: VecDeque<Job>,
    idle: usize,
}

static POOL: LazyLock<Pool> = LazyLock::new(|| Pool {
    state: Mutex::new(State {
        queue: VecDeque::new(),
        idle: 0,
    }),
    work: Condvar::new(),
    threads: AtomicUsize::new(0),
});

/// The most worker threads: `GREEN_BLOCKING_THREADS`, or 64. Read into a
/// `OnceLock`, not the pool's `LazyLock`: a bad value panics at every use
/// with the same clear message, instead of poisoning the pool for good.
fn max_threads() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        crate::env::number("GREEN_BLOCKING_THREADS", "threads", 1).unwrap_or(DEFAULT_MAX_THREADS)
    })
}

/// Workers of the blocking pool that are idle with no queued job waiting
/// for them: they cannot wake anyone until a new job comes.
pub(crate) fn quiet_pool_threads() -> usize {
    // Do not create the pool just to count its threads.
    if LazyLock::get(&POOL).is_none() {
        return 0;
    }
    let state = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    state.idle.saturating_sub(state.queue.len())
}

impl Pool {
    fn submit(&'static self, job: Job) {
        let max = max_threads();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.queue.push_back(job);
        // An idle thread already woken for an earlier job still counts as
        // idle until it runs: only as many jobs as there are idle threads
        // may wait for them, or a job could queue behind one that waits for
        // it.
        if state.queue.len() <= state.idle {
            drop(state);
            self.work.notify_one();
            return;
        }
        if self.threads.load(Ordering::Acquire) >= max {
            return; // a busy worker takes it when done
        }
        drop(state);
        self.threads.fetch_add(1, Ordering::AcqRel);
        // Not on a pinned hub's CPU alone: the pool serves every hub.
        let mask = crate::affinity::mask_for_new_thread();
        let spawned = std::thread::Builder::new()
            .name("green-blocking".into())
            .spawn(move || {
                crate::affinity::free_new_thread(mask);
                self.work_loop()
            });
        if let Err(e) = spawned {
            self.threads.fetch_sub(1, Ordering::AcqRel);
            if self.threads.load(Ordering::Acquire) == 0 {
                panic!("green::unblock: cannot start a blocking-pool thread: {e}");
            }
        }
    }

    fn work_loop(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job();
                state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, IDLE_TIMEOUT)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                self.threads.fetch_sub(1, Ordering::AcqRel);
                return;
            }
        }
    }
}

/// Runs blocking `f` on green's thread pool and parks the calling greenlet
/// until it is done; other greenlets run meanwhile. Returns `f`'s value,
/// or continues its panic in the caller. The call is a switch point like
/// any blocking call: the greenlets that are ready run before it returns,
/// even when `f` is done at once.
///
/// Use it for work that can only block: a file system call, a DNS lookup,
/// a C library call, a long computation. Outside [`run`](crate::run()) (or on a
/// plain thread) `f` simply runs on the calling thread.
///
/// The pool is bounded, as a thread pool is: jobs that wait for each other
/// need a thread each. A job that waits for another job (directly, or
/// through a `run` of its own that calls `unblock`) hangs when every
/// thread is taken by jobs that wait so: with the default 64 threads, 64
/// at once; with `GREEN_BLOCKING_THREADS=1`, the first.
///
/// Killing the waiting greenlet does not stop `f`: it runs to completion on
/// the pool and its result is dropped.
///
/// # Examples
///
/// ```
/// green::run(|| {
///     let ticker = green::spawn(|| {
///         for _ in 0..3 {
///             green::yield_now();
///         }
///     });
///     // blocks a pool thread for 20 ms, not the hub
///     let n = green::unblock(|| {
///         std::thread::sleep(std::time::Duration::from_millis(20));
///         std::thread::current().name().map(String::from)
///     });
///     assert_eq!(n.as_deref(), Some("green-blocking"));
///     assert!(ticker.is_finished());
/// });
/// ```
pub fn unblock<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let Some(me) = hub::try_with(|hub| hub.current_core_opt()).flatten() else {
        return f();
    };
    let remote = hub::with(|hub| hub.remote().clone());
    let slot = Arc::new(Mutex::new(None));
    let theirs = slot.clone();
    let (waiter_slot, waiter_id) = (me.slot(), me.id());
    // A signal pending from an earlier wait is stale here: this job's comes
    // through the hub's inbox, which the hub reads only once this greenlet
    // has parked below. Left set, it would let that park return without a
    // switch.
    me.signal.set(false);
    drop(me);
    POOL.submit(Box::new(move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        *theirs.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        remote.job_done(waiter_slot, waiter_id);
    }));
    // Counted once submitted (a failed submit panics); the hub takes the
    // job's end in on this thread, so never before this.
    hub::with(|hub| hub.job_started());
    // Park before looking: a job can be done by now (a read from the page
    // cache), but the call is a switch point all the same, so the greenlets
    // that are ready run first, as they do at every blocking call. Parked,
    // this greenlet also takes the job's wake-up as a wake-up, where one
    // that had already returned would keep it for its next such wait. The
    // wait is a `Signal` one: it leaves the caller's `park` token alone, as
    // a file read on a std thread leaves the thread's.
    loop {
        hub::with(|hub| hub.park(WaitKind::Signal, "unblock", None));
        if let Some(outcome) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return outcome.unwrap_or_else(|payload| panic::resume_unwind(payload));
        }
    }
}
