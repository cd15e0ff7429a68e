//! [`park`] and [`park_timeout`], the greenlet twins of
//! [`std::thread::park`], plus the crate's own "block this greenlet, or this
//! thread outside `run`" primitive ([`Waiter::block`]) that channels and
//! locks build on.

use std::ptr::NonNull;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::greenlet::{Greenlet, WaitKind};
use crate::hub::{self, Cut};

/// Blocks the calling greenlet until its token is made available by
/// [`Greenlet::unpark`], exactly like [`std::thread::park`] does for threads.
///
/// If the token is already available (an `unpark` came first), it is
/// consumed and `park` returns at once. Like std's, it may also return
/// spuriously, so call it in a loop that checks a condition. Green's own
/// waits (locks, condition variables, channels, [`unblock`](crate::unblock()))
/// leave the token alone: an `unpark` that comes while the greenlet waits on
/// one of them is kept for its next `park`.
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

/// Something blocked in [`Waiter::block`]: a greenlet, or an OS thread outside `run`.
#[derive(Clone, Debug)]
pub(crate) enum Waiter {
    Greenlet(Greenlet),
    Thread(Arc<Parker>),
}

/// An OS thread's wake-up flag for [`Waiter::block`] outside `run`: a token of its
/// own, so that green's waits leave the thread's park token alone, as std's
/// locks do (`std::thread::park` would take an `unpark` meant for the
/// thread's own `park`).
#[derive(Debug, Default)]
pub(crate) struct Parker {
    woken: Mutex<bool>,
    wake: Condvar,
}

thread_local! {
    static PARKER: Arc<Parker> = Arc::default();
}

impl Parker {
    fn unpark(&self) {
        *self.woken.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_one();
    }

    /// Waits for [`unpark`](Self::unpark) (consuming it) or `deadline`.
    fn park(&self, deadline: Option<Instant>) {
        let woken = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        let asleep = |woken: &mut bool| !*woken;
        let mut woken = match deadline {
            None => self
                .wake
                .wait_while(woken, asleep)
                .unwrap_or_else(PoisonError::into_inner),
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                let waited = self.wake.wait_timeout_while(woken, left, asleep);
                waited.unwrap_or_else(PoisonError::into_inner).0
            }
        };
        *woken = false;
    }
}

impl Waiter {
    /// The greenlet running this code, or this thread outside a greenlet
    /// (see [`thread_parker`]).
    pub(crate) fn current() -> Waiter {
        match hub::try_with(|hub| hub.current_core_opt()).flatten() {
            Some(g) => Waiter::Greenlet(g.handle().clone()),
            None => Waiter::Thread(thread_parker()),
        }
    }

    /// Blocks the greenlet or thread that made `self` (and calls this)
    /// until [`wake`](Self::wake) or `deadline`, possibly spuriously: the
    /// caller re-checks its condition. A thread parks on the parker in
    /// `self`, even once its [`PARKER`] is gone. Neither touches the park
    /// token. `reason` names the wait in deadlock reports.
    pub(crate) fn block(&self, reason: &'static str, deadline: Option<Instant>) {
        match self {
            Waiter::Greenlet(_) => park_greenlet(reason, deadline),
            Waiter::Thread(p) => p.park(deadline),
        }
    }

    /// Wakes it (or makes its next [`block`](Self::block) return at once). Any thread.
    pub(crate) fn wake(&self) {
        match self {
            Waiter::Greenlet(g) => g.signal(),
            Waiter::Thread(t) => t.unpark(),
        }
    }
}

/// The greenlet (or thread) running this code, for a record that lives in
/// its own frames while it blocks (a channel's node): a [`Waiter`] that
/// borrows a greenlet's handle instead of cloning it, so that making one
/// and dropping it touch no shared count. A thread's parker is still
/// shared: a thread's wait costs far more anyway.
#[derive(Debug)]
pub(crate) enum FrameWaiter {
    /// # Invariant
    ///
    /// The handle of the greenlet that made this value, in its `Core`
    /// (see [`hub::current_handle`]): valid for as long as the greenlet's
    /// frame that holds this value, even one whose unwind was cut short at
    /// the hub's shutdown (its stack is leaked, and its `Core` with it).
    Greenlet(NonNull<Greenlet>),
    Thread(Arc<Parker>),
}

impl FrameWaiter {
    /// The greenlet running this code, or this thread outside a greenlet
    /// (see [`thread_parker`]).
    pub(crate) fn current() -> FrameWaiter {
        match hub::current_handle() {
            Some(g) => FrameWaiter::Greenlet(g),
            None => FrameWaiter::Thread(thread_parker()),
        }
    }

    /// [`Waiter::block`], for the waiter
    /// [`wake_local_or_clone`](Self::wake_local_or_clone) wakes, except that
    /// a kill or a fired timeout that ends the wait (or is due as it
    /// begins) is not raised: it says which, still pending, so that the
    /// caller may look whether its operation completed meanwhile; it must
    /// then return, or call [`raise_pending`]. A thread's wait is never
    /// cut.
    pub(crate) fn block_or_cut(&self, reason: &'static str, deadline: Option<Instant>) -> Cut {
        match self {
            FrameWaiter::Greenlet(_) => hub::with(|hub| hub.park_cut(reason, deadline)),
            FrameWaiter::Thread(p) => {
                p.park(deadline);
                Cut::No
            }
        }
    }

    /// [`Waiter::wake`]s it now if it is a greenlet of this thread's hub,
    /// which cannot run before this thread switches; otherwise returns a
    /// [`Waiter`] to wake it with, for a caller that must be done with the
    /// frame's record first (the waiter may leave the frame once it runs).
    ///
    /// # Safety
    ///
    /// The frame that holds `self` is still there: its greenlet has not
    /// returned from it (it is blocked in it).
    pub(crate) unsafe fn wake_local_or_clone(&self) -> Option<Waiter> {
        match self {
            FrameWaiter::Greenlet(g) => {
                // SAFETY: by the invariant, valid while the frame that holds
                // `self` is, which the caller guarantees; `Greenlet` is
                // `Sync` and the handle is never changed once made, so
                // another thread may read it.
                let g = unsafe { g.as_ref() };
                if g.signal_local() {
                    None
                } else {
                    Some(Waiter::Greenlet(g.clone()))
                }
            }
            FrameWaiter::Thread(t) => Some(Waiter::Thread(t.clone())),
        }
    }
}

/// Parks the running greenlet until woken by [`Waiter::wake`] (a `Signal`
/// wait, which leaves the park token alone) or until `deadline`, possibly
/// spuriously: the caller re-checks its condition. The greenlet half of
/// [`Waiter::block`] (and [`FrameWaiter::block_or_cut`]'s); a thread parks on the
/// [`Parker`] its waiter holds.
///
/// `reason` names the wait in deadlock reports.
fn park_greenlet(reason: &'static str, deadline: Option<Instant>) {
    hub::with(|hub| hub.park(WaitKind::Signal, reason, deadline));
}

/// Raises the running greenlet's kill or fired timeout that a
/// [`FrameWaiter::block_or_cut`] left pending, if it is due.
pub(crate) fn raise_pending() {
    hub::with(|hub| hub.raise_pending());
}

/// This thread's [`Parker`], or, once [`PARKER`] is gone (a thread-local's
/// destructor that waits at the thread's exit, after green's own
/// thread-locals were dropped), a parker of its own for this wait: the
/// waiter holds it, so its wait must block through the waiter.
fn thread_parker() -> Arc<Parker> {
    PARKER.try_with(Arc::clone).unwrap_or_default()
}
