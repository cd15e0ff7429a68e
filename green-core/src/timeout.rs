//! Timeouts that interrupt any green wait: [`timeout`], [`timeout_at`] and
//! the [`Timeout`] guard, gevent's `gevent.Timeout`.
//!
//! While a timeout is alive, the greenlet that started it runs normally;
//! when its deadline passes, the green wait the greenlet is in (or the next
//! one it enters: a sleep, a channel, a lock, a socket, a join…) unwinds
//! with an [`Elapsed`] payload, running destructors on the way as a
//! [`kill`](crate::JoinHandle::kill) does. [`timeout`] catches its own
//! `Elapsed` and returns it as an error.
//!
//! Code that never waits cannot be interrupted (there is no preemption):
//! a timeout fires at the next switch point. A wait that delivered
//! something as the timeout fired keeps it, and the timeout waits for the
//! next switch point: a value received is returned (or, if the unwind
//! came first, goes back to its channel), and a channel send whose value
//! a receiver took returns `Ok`. As with a kill, a destructor
//! that panics during that unwind aborts the process.
//!
//! Nested timeouts behave as gevent documents: when the inner one fires,
//! the inner [`timeout`] returns `Err`; when the outer one fires inside the
//! inner, the unwinding passes through the inner (which does not catch what
//! is not its own) to the outer.
//!
//! In a destructor that runs while its greenlet unwinds (for a panic, a
//! kill or another timeout), nothing may unwind out of the destructor: the
//! process would abort. So a timeout started before that unwind does not
//! fire there (it waits for a switch point after it, if the greenlet lives
//! on), nor does a bare [`Timeout`] guard; but a [`timeout`] or
//! [`timeout_at`] the destructor runs itself fires as usual, since it
//! catches its own `Elapsed` inside the destructor: a cleanup such as
//! `timeout(d, || stream.write_all(b"bye"))` is bounded even when a kill
//! runs it. (If another panic begins inside such a timeout's body and is
//! caught there, the timeout no longer fires: green cannot tell whether a
//! destructor of that panic lies in between. A panic begun with a bare
//! `std::panic::resume_unwind` goes unseen: should a destructor of it wait
//! past such a timeout's deadline, the process aborts.)

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::greenlet::Core;
use crate::hub;

/// The error of [`timeout`]: the deadline passed first. It is also the
/// panic payload a [`Timeout`] unwinds with.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// green::run(|| {
///     let err = green::timeout(Duration::from_millis(1), || green::sleep(Duration::from_secs(60)))
///         .unwrap_err();
///     assert_eq!(err.to_string(), "deadline has elapsed");
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    id: u64,
}

impl fmt::Debug for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Elapsed(..)")
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::ErrorKind::TimedOut.into()
    }
}

/// Unwinds the running greenlet for timeout `id`.
pub(crate) fn raise_elapsed(id: u64) -> ! {
    panic::resume_unwind(Box::new(Elapsed { id }))
}

/// A live timeout of the running greenlet; it stops when dropped.
///
/// When its deadline passes, the greenlet's current (or next) green wait
/// unwinds with [`Elapsed`]. Catch it with [`timeout`] (which uses this
/// guard), or with `catch_unwind`; uncaught, it ends the greenlet, whose
/// [`join`](crate::JoinHandle::join) then reports a panic with the
/// `Elapsed` payload.
///
/// # Panics
///
/// [`start`](Self::start) panics outside [`run`](crate::run()).
///
/// # Examples
///
/// ```
/// use std::panic::{catch_unwind, AssertUnwindSafe};
/// use std::time::Duration;
///
/// green::run(|| {
///     let caught = catch_unwind(AssertUnwindSafe(|| {
///         let _deadline = green::Timeout::start(Duration::from_millis(5));
///         green::sleep(Duration::from_secs(60)); // interrupted
///     }));
///     assert!(caught.unwrap_err().is::<green::Elapsed>());
/// });
/// ```
pub struct Timeout {
    core: Rc<Core>,
    id: u64,
}

impl Timeout {
    /// Starts a timeout of `dur` for the running greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let t = green::Timeout::start(Duration::from_secs(60));
    ///     green::sleep(Duration::from_millis(1)); // well within it
    ///     drop(t);
    /// });
    /// ```
    #[track_caller]
    pub fn start(dur: Duration) -> Timeout {
        // A deadline past the end of time never fires.
        Timeout::start_at(crate::sleep::deadline_after(dur))
    }

    /// Starts a timeout that fires at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// green::run(|| {
    ///     let _t = green::Timeout::start_at(Instant::now() + Duration::from_secs(60));
    /// });
    /// ```
    #[track_caller]
    pub fn start_at(deadline: Instant) -> Timeout {
        Timeout::arm(deadline, false).0
    }

    /// Starts a timeout; `caught`: [`timeout`] runs it (see
    /// `Extras::in_unwind`), and wants to know whether the greenlet unwinds
    /// already (always false when not `caught`).
    #[track_caller]
    fn arm(deadline: Instant, caught: bool) -> (Timeout, bool) {
        let (core, id, unwinding) = hub::with(|hub| hub.start_timeout(deadline, caught));
        (Timeout { core, id }, unwinding)
    }

    /// Stops the timeout (as dropping it does).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let t = green::Timeout::start(Duration::from_millis(1));
    ///     t.cancel();
    ///     green::sleep(Duration::from_millis(5)); // not interrupted
    /// });
    /// ```
    pub fn cancel(self) {}
}

impl Drop for Timeout {
    fn drop(&mut self) {
        // A guard can only be created, hence dropped, inside its hub.
        let _ = hub::try_with(|hub| hub.cancel_timeout(&self.core, self.id));
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("greenlet", &*self.core)
            .finish_non_exhaustive()
    }
}

/// Runs `f`, interrupting it with `Err(Elapsed)` if it is still waiting
/// when `dur` has passed (gevent's `with Timeout(dur): …`).
///
/// In a destructor that runs while its greenlet unwinds (a panic, a kill,
/// another timeout), a timeout started before that unwind does not fire,
/// since an unwind out of the destructor would abort the process; one the
/// destructor starts itself with `timeout` fires as usual, as its `Elapsed`
/// is caught inside the destructor (the module docs have the details).
///
/// # Errors
///
/// [`Elapsed`] when the timeout fired inside `f`.
///
/// # Panics
///
/// Panics outside [`run`](crate::run()); panics of `f` and outer timeouts go
/// through.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// green::run(|| {
///     let (tx, rx) = green::channel::channel::<u32>();
///     // Nobody sends: the receive is interrupted.
///     let got = green::timeout(Duration::from_millis(5), || rx.recv());
///     assert!(got.is_err());
///     drop(tx);
///
///     // Nested: the inner one fires first and is caught by the inner call.
///     let outer = green::timeout(Duration::from_secs(60), || {
///         green::timeout(Duration::from_millis(1), || green::sleep(Duration::from_secs(60)))
///     });
///     assert!(matches!(outer, Ok(Err(_))));
/// });
/// ```
#[track_caller]
pub fn timeout<T>(dur: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let (guard, unwinding) = Timeout::arm(crate::sleep::deadline_after(dur), true);
    catching(guard, unwinding, f)
}

/// [`timeout`] with a deadline.
///
/// # Errors
///
/// As [`timeout`].
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// green::run(|| {
///     let at = Instant::now() + Duration::from_millis(2);
///     assert!(green::timeout_at(at, || green::sleep(Duration::from_secs(60))).is_err());
/// });
/// ```
#[track_caller]
pub fn timeout_at<T>(deadline: Instant, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let (guard, unwinding) = Timeout::arm(deadline, true);
    catching(guard, unwinding, f)
}

/// Runs `f` under `guard`; `unwinding`: whether the greenlet unwinds
/// already (a destructor that runs this during a panic or a kill), as
/// `Timeout::arm` found it: once its own `Elapsed` is caught, it is back
/// to that.
fn catching<T>(guard: Timeout, unwinding: bool, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let mine = guard.id;
    let core = guard.core.clone();
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    drop(guard);
    match result {
        Ok(value) => Ok(value),
        Err(payload) => match payload.downcast::<Elapsed>() {
            Ok(elapsed) if elapsed.id == mine => {
                // Raising the `Elapsed` marked the greenlet unwinding (see
                // `Hub::unwinding`); left so, while another greenlet of
                // the hub is suspended mid-unwind (the thread then counts
                // a panic), the hub would take it for unwinding still and
                // raise none of its later timeouts and kills: a wait would
                // outlast them until something else woke it.
                core.unwinding.set(unwinding);
                Err(*elapsed)
            }
            Ok(other) => panic::resume_unwind(other),
            Err(payload) => panic::resume_unwind(payload),
        },
    }
}
