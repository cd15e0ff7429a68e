//! [`park`] and [`park_timeout`], the greenlet twins of
//! [`std::thread::park`], plus the crate's own "block this greenlet, or this
//! thread outside `run`" primitive that channels build on.

use std::time::{Duration, Instant};

use crate::greenlet::{Greenlet, WaitKind};
use crate::hub;

/// Blocks the calling greenlet until its token is made available by
/// [`Greenlet::unpark`], exactly like [`std::thread::park`] does for threads.
///
/// If the token is already available (an `unpark` came first), it is
/// consumed and `park` returns at once. Like std's, it may also return
/// spuriously, so call it in a loop that checks a condition.
///
/// # Panics
///
/// Panics outside [`run`](crate::run()).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// green::run(|| {
///     let done = Rc::new(Cell::new(false));
///     let main = green::current();
///     let d = done.clone();
///     green::spawn(move || {
///         d.set(true);
///         main.unpark();
///     });
///     while !done.get() {
///         green::park();
///     }
/// });
/// ```
pub fn park() {
    hub::with(|hub| hub.park(WaitKind::Token, "park", None));
}

/// Like [`park`], but returns after `dur` at the latest.
///
/// Even a zero `dur` suspends the greenlet until the hub's next turn, so
/// the other ready greenlets run first (a loop of zero-timeout waits cannot
/// starve them).
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
///     let start = Instant::now();
///     green::park_timeout(Duration::from_millis(10)); // nobody unparks us
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
pub fn park_timeout(dur: Duration) {
    let deadline = Instant::now().checked_add(dur);
    hub::with(|hub| hub.park(WaitKind::Token, "park_timeout", deadline));
}

/// Something blocked in [`block`]: a greenlet, or an OS thread outside `run`.
#[derive(Clone, Debug)]
pub(crate) enum Waiter {
    Greenlet(Greenlet),
    Thread(std::thread::Thread),
}

impl Waiter {
    /// The greenlet running this code, or this thread outside a greenlet.
    pub(crate) fn current() -> Waiter {
        match hub::try_with(|hub| hub.current_core_opt()).flatten() {
            Some(g) => Waiter::Greenlet(g.handle().clone()),
            None => Waiter::Thread(std::thread::current()),
        }
    }

    /// Wakes it (or makes its next [`block`] return at once). Any thread.
    pub(crate) fn wake(&self) {
        match self {
            Waiter::Greenlet(g) => g.unpark(),
            Waiter::Thread(t) => t.unpark(),
        }
    }
}

/// Blocks until woken by [`Waiter::wake`] or until `deadline`, possibly
/// spuriously: the caller re-checks its condition. Parks the greenlet inside
/// `run`; parks the OS thread outside it, as std would.
///
/// `reason` names the wait in deadlock reports.
pub(crate) fn block(reason: &'static str, deadline: Option<Instant>) {
    let in_greenlet = hub::try_with(|hub| {
        if !hub.in_greenlet() {
            return false;
        }
        hub.park(WaitKind::Token, reason, deadline);
        true
    });
    if in_greenlet == Some(true) {
        return;
    }
    match deadline {
        None => std::thread::park(),
        Some(at) => {
            let now = Instant::now();
            if at > now {
                std::thread::park_timeout(at - now);
            }
        }
    }
}
