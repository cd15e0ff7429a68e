//! `std::thread`, where a "thread" spawned inside [`green::run`] is a
//! greenlet.
//!
//! Inside `run`, [`spawn`](spawn()) starts a greenlet on the calling hub,
//! [`sleep`], [`park`] and [`JoinHandle::join`] park the greenlet, and
//! [`current`](current()) names the running greenlet. Outside `run`, every item is std's: `spawn`
//! starts an OS thread, `sleep` blocks it. Code written against this module
//! works both ways, unchanged.
//!
//! Everything that never blocks (`available_parallelism`, `panicking`,
//! `LocalKey` and `thread_local!`, `Result`, `AccessError`…) is std's. A
//! `thread_local!` is per OS thread, so all greenlets of a hub share it.
//!
//! # Examples
//!
//! ```
//! use green_std::thread;
//! use std::time::Duration;
//!
//! fn work() -> Vec<u32> {
//!     let handles: Vec<_> = (0..4)
//!         .map(|i| {
//!             thread::spawn(move || {
//!                 thread::sleep(Duration::from_millis(5 * (4 - i as u64)));
//!                 i
//!             })
//!         })
//!         .collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).collect()
//! }
//!
//! assert_eq!(work(), [0, 1, 2, 3]); // OS threads
//! assert_eq!(green::run(work), [0, 1, 2, 3]); // greenlets, one OS thread
//! ```

mod current;
mod scope;
mod spawn;

pub use std::thread::*;

#[allow(deprecated)]
pub use current::park_timeout_ms;
pub use current::{current, park, park_timeout, Thread, ThreadId};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use spawn::{spawn, Builder, JoinHandle};

use std::time::{Duration, Instant};

/// Puts the current thread (the current greenlet, inside [`green::run`]) to
/// sleep for at least `dur`, like [`std::thread::sleep`]. A greenlet's
/// sleep lets the others run.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// green_std::thread::sleep(Duration::from_millis(5));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
pub fn sleep(dur: Duration) {
    if green::is_running() {
        green::sleep(dur);
    } else {
        std::thread::sleep(dur);
    }
}

/// Puts the current thread (greenlet) to sleep for at least `ms`
/// milliseconds, like std's deprecated [`std::thread::sleep_ms`]: a
/// greenlet's sleep lets the others run.
///
/// # Examples
///
/// ```
/// #[allow(deprecated)]
/// green_std::thread::sleep_ms(1);
/// ```
#[deprecated(since = "1.6.0", note = "replaced by `green_std::thread::sleep`")]
pub fn sleep_ms(ms: u32) {
    sleep(Duration::from_millis(u64::from(ms)));
}

/// Sleeps until `deadline` (std's is not stable yet; this one is).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let deadline = Instant::now() + Duration::from_millis(5);
/// green_std::thread::sleep_until(deadline);
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    if green::is_running() {
        green::sleep_until(deadline);
    } else {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
    }
}

/// Gives up the processor: a greenlet goes to the back of its hub's run
/// queue (gevent's `sleep(0)`); a thread calls [`std::thread::yield_now`].
///
/// # Examples
///
/// ```
/// green_std::thread::yield_now();
/// ```
pub fn yield_now() {
    if green::is_running() {
        green::yield_now();
    } else {
        std::thread::yield_now();
    }
}
