//! [`yield_now`], [`sleep`] and [`sleep_until`].

use std::time::{Duration, Instant};

use crate::greenlet::WaitKind;
use crate::hub;

/// Moves the calling greenlet to the back of the run queue and runs the
/// others that are ready (gevent's `sleep(0)`).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// green::run(|| {
///     let order = Rc::new(RefCell::new(Vec::new()));
///     let o = order.clone();
///     let h = green::spawn(move || o.borrow_mut().push("spawned"));
///     order.borrow_mut().push("main before");
///     green::yield_now();
///     order.borrow_mut().push("main after");
///     h.join().unwrap();
///     assert_eq!(*order.borrow(), ["main before", "spawned", "main after"]);
/// });
/// ```
///
/// # Panics
///
/// Panics outside [`run`](crate::run()).
#[doc(alias = "sleep(0)")]
#[inline]
pub fn yield_now() {
    hub::yield_now();
}

/// Puts the calling greenlet to sleep for at least `dur`; other greenlets
/// run meanwhile. It never returns early, and it always switches, like
/// gevent's: even when the OS held the thread up past the deadline before
/// the greenlet could park, the others that are ready run first.
///
/// A zero duration yields, like gevent's `sleep(0)` (see [`yield_now`]).
///
/// # Panics
///
/// Panics outside [`run`](crate::run()) (use `std::thread::sleep` there, or
/// `green_std::thread::sleep`, which works in both places).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// green::run(|| {
///     let start = Instant::now();
///     green::sleep(Duration::from_millis(10));
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
pub fn sleep(dur: Duration) {
    if dur.is_zero() {
        return yield_now();
    }
    park_until(deadline_after(dur));
}

/// The instant `dur` from now. A duration too long for `Instant` gives a
/// century from now: forever, for practical purposes, while still a timer
/// the hub knows about.
pub(crate) fn deadline_after(dur: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(dur)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Puts the calling greenlet to sleep until `deadline`; returns at once if
/// it has passed. It never returns early.
///
/// # Panics
///
/// Panics outside [`run`](crate::run()).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// green::run(|| {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     green::sleep_until(deadline);
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) {
    if Instant::now() < deadline {
        park_until(deadline);
    }
}

/// Parks the calling greenlet at least once, until `deadline` has passed
/// (a park whose deadline has passed lasts until the hub's next turn).
fn park_until(deadline: Instant) {
    hub::with(|hub| loop {
        hub.park(WaitKind::Local, "sleep", Some(deadline));
        if Instant::now() >= deadline {
            break;
        }
    });
}
