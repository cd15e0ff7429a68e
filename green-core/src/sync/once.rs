//! [`Once`] and [`OnceState`]: `std::sync::Once`, whose waiters park the
//! greenlet instead of blocking the thread. [`OnceLock`](super::OnceLock)
//! and [`LazyLock`](super::LazyLock) are built on it.
//!
//! # The machine
//!
//! `state` is `INCOMPLETE`, `RUNNING` (someone runs the closure),
//! `POISONED` (the last closure unwound) or `COMPLETE`. It changes only
//! under `inner`'s lock, which also holds who runs the closure and who
//! waits; a completed `Once` is recognised by one `Acquire` load of
//! `state`, which pairs with the `Release` store of `COMPLETE`.
//!
//! A caller that finds it `RUNNING` (or, for [`Once::wait`], not yet
//! complete) puts a node on the wait list and blocks on it: a greenlet
//! parks, a thread outside `run` blocks. When the runner's closure returns
//! or unwinds (a panic, a [`kill`](crate::JoinHandle::kill), a
//! [`timeout`](crate::timeout())), its guard sets `COMPLETE` or `POISONED`
//! and wakes every waiter; each looks at the state again: one may run the
//! closure next (`call_once_force` of a poisoned `Once`), the others wait
//! again or return. A waiter that unwinds (killed, timed out) takes its
//! node off the list and is gone: nobody hands it anything.
//!
//! The runner is remembered (its greenlet, or its thread outside a
//! greenlet), so that a closure that reaches its own `Once` panics instead
//! of waiting for itself.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::greenlet::GreenletId;
use crate::hub;
use crate::park::Waiter;

const INCOMPLETE: u8 = 0;
const POISONED: u8 = 1;
const RUNNING: u8 = 2;
const COMPLETE: u8 = 3;

/// A low-level synchronization primitive for one-time global execution,
/// with the API of [`std::sync::Once`].
///
/// Inside [`run`](crate::run()), a greenlet that must wait for another's
/// closure to finish parks, and the hub runs the others (the one running the
/// closure included); outside, the thread blocks. Greenlets of any hub and
/// plain threads may share one `Once`. A std `Once` whose closure switches
/// greenlets (it sleeps, does green IO) deadlocks the hub as soon as a
/// second greenlet of that hub calls it; this one does not.
///
/// # Poisoning
///
/// As std's: a closure that panics poisons the `Once`, and so does one
/// whose greenlet is [killed](crate::JoinHandle::kill) or
/// [timed out](crate::timeout()) while it runs (it unwinds as from a
/// panic). Later [`call_once`](Once::call_once) and [`wait`](Once::wait)
/// panic; [`call_once_force`](Once::call_once_force) runs its closure.
///
/// # Examples
///
/// ```
/// use green::sync::Once;
/// use std::time::Duration;
///
/// static START: Once = Once::new();
///
/// green::run(|| {
///     let a = green::spawn(|| {
///         START.call_once(|| green::sleep(Duration::from_millis(10)));
///     });
///     green::yield_now(); // a starts its closure, and sleeps in it
///     // Waits for a's closure: the hub runs a meanwhile.
///     START.call_once(|| unreachable!("a runs it"));
///     assert!(START.is_completed());
///     a.join().unwrap();
/// });
/// ```
pub struct Once {
    state: AtomicU8,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Who runs the closure, while `state` is `RUNNING`.
    runner: Option<Runner>,
    waiters: Vec<Arc<Node>>,
}

/// Who runs a closure: a greenlet, or a thread outside any greenlet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Runner {
    Greenlet(GreenletId),
    /// The address of [`THREAD_MARK`] on the thread: unique among live
    /// threads, and a runner's thread lives until its closure is done.
    Thread(usize),
}

thread_local! {
    /// No destructor: reachable even from other thread-locals' destructors.
    static THREAD_MARK: u8 = const { 0 };
}

impl Runner {
    fn current() -> Runner {
        match hub::try_with(|hub| hub.current_core_opt()).flatten() {
            Some(g) => Runner::Greenlet(g.handle().id()),
            None => Runner::Thread(THREAD_MARK.with(|m| std::ptr::from_ref(m) as usize)),
        }
    }
}

/// A waiter on the list.
#[derive(Debug)]
struct Node {
    /// Set under the lock when the node is taken off the list to be woken.
    woken: AtomicBool,
    waiter: Waiter,
}

/// Which type's API a caller uses: it names the panics.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Once,
    OnceLock,
    LazyLock,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Once => "Once",
            Kind::OnceLock => "OnceLock",
            Kind::LazyLock => "LazyLock",
        }
    }
}

/// The state of a `Once` seen through `&mut` (nobody else can be at it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    Incomplete,
    /// Also a `RUNNING` state seen through `&mut`: its runner's frames were
    /// leaked without unwinding (a hub's shutdown cut their unwind short),
    /// so as after a panic, its closure wrote nothing.
    Poisoned,
    Complete,
}

/// State yielded to [`Once::call_once_force`]'s closure parameter. The state
/// can be used to query the poison status of the [`Once`].
///
/// # Examples
///
/// ```
/// use green::sync::Once;
///
/// let once = Once::new();
/// once.call_once_force(|state| assert!(!state.is_poisoned()));
/// ```
pub struct OnceState {
    poisoned: bool,
    /// Neither `Sync` nor `RefUnwindSafe`, as std's.
    _not_sync: PhantomData<Cell<()>>,
}

/// Initialization value for static [`Once`] values.
///
/// # Examples
///
/// ```
/// #![allow(deprecated)]
/// use green::sync::{Once, ONCE_INIT};
///
/// static START: Once = ONCE_INIT;
/// START.call_once(|| {});
/// assert!(START.is_completed());
/// ```
#[deprecated(since = "1.38.0", note = "the `Once::new()` function is now preferred")]
#[allow(clippy::declare_interior_mutable_const)]
pub const ONCE_INIT: Once = Once::new();

impl Once {
    /// Creates a new `Once` value.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::Once;
    ///
    /// static INIT: Once = Once::new();
    /// assert!(!INIT.is_completed());
    /// ```
    #[must_use]
    #[allow(clippy::new_without_default)] // std's `Once` has no `Default`
    pub const fn new() -> Once {
        Once::with_state(INCOMPLETE)
    }

    /// A `Once` that has run its closure already.
    pub(crate) const fn completed() -> Once {
        Once::with_state(COMPLETE)
    }

    const fn with_state(state: u8) -> Once {
        Once {
            state: AtomicU8::new(state),
            inner: Mutex::new(Inner {
                runner: None,
                waiters: Vec::new(),
            }),
        }
    }

    /// Performs an initialization routine once and only once. The given
    /// closure will be executed if this is the first time `call_once` has
    /// been called, and otherwise the routine will *not* be invoked.
    ///
    /// This method will wait if another initialization routine is currently
    /// running (parking the greenlet inside [`run`](crate::run()), blocking
    /// the thread outside it).
    ///
    /// When this function returns, it is guaranteed that some
    /// initialization has run and completed (it might not be the closure
    /// specified). It is also guaranteed that any memory writes performed
    /// by the executed closure can be reliably observed by other greenlets
    /// and threads at this point.
    ///
    /// If the given closure recursively invokes `call_once` on the same
    /// `Once` instance, the exact behavior is not specified: std's may
    /// deadlock; this one panics, as it does for any wait of the closure on
    /// its own `Once`.
    ///
    /// # Panics
    ///
    /// The closure `f` will only be executed once even if this is called
    /// concurrently amongst many greenlets and threads. If that closure
    /// panics, however, then it will *poison* this `Once` instance, causing
    /// all future invocations of `call_once` to also panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::Once;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// static RUNS: AtomicUsize = AtomicUsize::new(0);
    /// static INIT: Once = Once::new();
    ///
    /// green::run(|| {
    ///     let callers: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             green::spawn(|| {
    ///                 INIT.call_once(|| {
    ///                     green::yield_now(); // the others wait meanwhile
    ///                     RUNS.fetch_add(1, Ordering::Relaxed);
    ///                 });
    ///             })
    ///         })
    ///         .collect();
    ///     green::joinall(callers);
    /// });
    /// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
    /// ```
    #[track_caller]
    pub fn call_once<F>(&self, f: F)
    where
        F: FnOnce(),
    {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(false, Kind::Once, "Once::call_once", &mut |_| {
            f.take().expect("the closure runs once")();
        });
    }

    /// Performs the same function as [`call_once`](Once::call_once) except
    /// ignores poisoning.
    ///
    /// Unlike `call_once`, if this `Once` has been poisoned (a previous call
    /// panicked), this method will still invoke the closure `f` and will
    /// *not* result in an immediate panic. If `f` panics, the `Once` will
    /// remain in a poison state. If `f` does *not* panic, the `Once` will no
    /// longer be in a poison state and all future calls to `call_once` or
    /// `call_once_force` will be no-ops.
    ///
    /// The closure `f` is yielded a [`OnceState`] structure which can be
    /// used to query the poison status of the `Once`.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::Once;
    /// use std::panic::catch_unwind;
    ///
    /// static INIT: Once = Once::new();
    ///
    /// // poison the once
    /// let _ = catch_unwind(|| INIT.call_once(|| panic!()));
    ///
    /// // poisoning propagates
    /// assert!(catch_unwind(|| INIT.call_once(|| {})).is_err());
    ///
    /// // call_once_force will still run and reset the poisoned state
    /// INIT.call_once_force(|state| {
    ///     assert!(state.is_poisoned());
    /// });
    ///
    /// // once any success happens, we stop propagating the poison
    /// INIT.call_once(|| {});
    /// ```
    #[track_caller]
    pub fn call_once_force<F>(&self, f: F)
    where
        F: FnOnce(&OnceState),
    {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(true, Kind::Once, "Once::call_once_force", &mut |state| {
            f.take().expect("the closure runs once")(state);
        });
    }

    /// Returns `true` if some [`call_once`](Once::call_once) call has
    /// completed successfully. Specifically, `is_completed` will return
    /// false in the following situations:
    ///   * `call_once` was not called at all,
    ///   * `call_once` was called, but has not yet completed,
    ///   * the `Once` instance is poisoned
    ///
    /// This function returning `false` does not mean that `Once` has not
    /// been executed. For example, it may have been executed in the time
    /// between when `is_completed` starts executing and when it returns, in
    /// which case the `false` return value would be stale (but still
    /// permissible).
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::Once;
    ///
    /// static INIT: Once = Once::new();
    ///
    /// assert_eq!(INIT.is_completed(), false);
    /// INIT.call_once(|| {
    ///     assert_eq!(INIT.is_completed(), false);
    /// });
    /// assert_eq!(INIT.is_completed(), true);
    /// ```
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// Blocks the current greenlet (or thread, outside
    /// [`run`](crate::run())) until initialization has completed.
    ///
    /// # Example
    ///
    /// ```
    /// use green::sync::Once;
    ///
    /// static READY: Once = Once::new();
    ///
    /// green::run(|| {
    ///     let waiter = green::spawn(|| READY.wait());
    ///     READY.call_once(|| {});
    ///     waiter.join().unwrap();
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If this [`Once`] has been poisoned because an initialization closure
    /// has panicked, this method will also panic. Use
    /// [`wait_force`](Self::wait_force) if this behavior is not desired.
    /// Called from the closure of its own `Once`, it panics instead of
    /// waiting for itself.
    #[track_caller]
    pub fn wait(&self) {
        if !self.is_completed() {
            self.wait_for(false, Kind::Once, "Once::wait");
        }
    }

    /// Blocks the current greenlet (or thread, outside
    /// [`run`](crate::run())) until initialization has completed, ignoring
    /// poisoning.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::Once;
    /// use std::panic::catch_unwind;
    ///
    /// static INIT: Once = Once::new();
    /// let _ = catch_unwind(|| INIT.call_once(|| panic!()));
    /// INIT.call_once_force(|_| {});
    /// INIT.wait_force(); // returns: the force completed it
    /// ```
    ///
    /// # Panics
    ///
    /// Called from the closure of its own `Once`, it panics instead of
    /// waiting for itself.
    #[track_caller]
    pub fn wait_force(&self) {
        if !self.is_completed() {
            self.wait_for(true, Kind::Once, "Once::wait_force");
        }
    }

    /// The state, for an owner that holds the only reference.
    pub(crate) fn settled(&mut self) -> Settled {
        match *self.state.get_mut() {
            INCOMPLETE => Settled::Incomplete,
            COMPLETE => Settled::Complete,
            _ => Settled::Poisoned,
        }
    }

    /// Sets the state, for an owner that holds the only reference (and runs
    /// its closure itself).
    pub(crate) fn settle(&mut self, state: Settled) {
        *self.state.get_mut() = match state {
            Settled::Incomplete => INCOMPLETE,
            Settled::Poisoned => POISONED,
            Settled::Complete => COMPLETE,
        };
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slow path of the `call_once`s: runs `f` (once) unless the `Once`
    /// is complete, or waits for whoever runs it. `kind` and `reason` name
    /// the caller's API in panics and deadlock reports.
    #[cold]
    #[track_caller]
    pub(crate) fn call(
        &self,
        ignore_poisoning: bool,
        kind: Kind,
        reason: &'static str,
        f: &mut dyn FnMut(&OnceState),
    ) {
        let me = Runner::current();
        let mut inner = self.lock();
        loop {
            match self.state.load(Ordering::Acquire) {
                COMPLETE => return,
                POISONED if !ignore_poisoning => {
                    drop(inner);
                    poisoned(kind);
                }
                RUNNING => inner = self.sleep(inner, me, kind, reason),
                state => {
                    self.state.store(RUNNING, Ordering::Relaxed);
                    inner.runner = Some(me);
                    drop(inner);
                    let mut running = Running {
                        once: self,
                        outcome: POISONED,
                    };
                    f(&OnceState {
                        poisoned: state == POISONED,
                        _not_sync: PhantomData,
                    });
                    running.outcome = COMPLETE;
                    return;
                }
            }
        }
    }

    /// The slow path of the `wait`s: waits until the `Once` is complete.
    #[cold]
    #[track_caller]
    pub(crate) fn wait_for(&self, ignore_poisoning: bool, kind: Kind, reason: &'static str) {
        let me = Runner::current();
        let mut inner = self.lock();
        loop {
            match self.state.load(Ordering::Acquire) {
                COMPLETE => return,
                POISONED if !ignore_poisoning => {
                    drop(inner);
                    poisoned(kind);
                }
                _ => inner = self.sleep(inner, me, kind, reason),
            }
        }
    }

    /// Waits for the next end of a closure: lists the caller, lets go of the
    /// lock, blocks until woken and takes the lock again. Panics if the
    /// caller is the runner itself.
    #[track_caller]
    fn sleep<'a>(
        &'a self,
        mut inner: MutexGuard<'a, Inner>,
        me: Runner,
        kind: Kind,
        reason: &'static str,
    ) -> MutexGuard<'a, Inner> {
        if inner.runner == Some(me) {
            drop(inner);
            reentrant(kind);
        }
        let node = Arc::new(Node {
            woken: AtomicBool::new(false),
            waiter: Waiter::current(),
        });
        inner.waiters.push(node.clone());
        drop(inner);
        let listed = Listed { once: self, node };
        while !listed.node.woken.load(Ordering::Acquire) {
            listed.node.waiter.block(reason, None);
        }
        drop(listed);
        self.lock()
    }
}

/// The runner's guard: when its closure returns (`outcome` is then
/// `COMPLETE`) or unwinds (`POISONED`), publishes the outcome and wakes
/// every waiter.
struct Running<'a> {
    once: &'a Once,
    outcome: u8,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let waiters = {
            let mut inner = self.once.lock();
            inner.runner = None;
            self.once.state.store(self.outcome, Ordering::Release);
            let waiters = std::mem::take(&mut inner.waiters);
            for node in &waiters {
                node.woken.store(true, Ordering::Release);
            }
            waiters
        };
        // The `Once` may be gone as soon as the lock is: only the nodes
        // are touched from here.
        for node in waiters {
            node.waiter.wake();
        }
    }
}

/// A waiter's place on the list; dropped before it was woken (the waiter
/// unwinds: killed, timed out), it takes the node off.
struct Listed<'a> {
    once: &'a Once,
    node: Arc<Node>,
}

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        if self.node.woken.load(Ordering::Acquire) {
            return;
        }
        let mut inner = self.once.lock();
        inner.waiters.retain(|n| !Arc::ptr_eq(n, &self.node));
    }
}

#[cold]
#[track_caller]
pub(crate) fn poisoned(kind: Kind) -> ! {
    // Literals, so that the payload is a `&str` as std's.
    match kind {
        Kind::Once | Kind::OnceLock => panic!("Once instance has previously been poisoned"),
        Kind::LazyLock => panic!("LazyLock instance has previously been poisoned"),
    }
}

#[cold]
#[track_caller]
fn reentrant(kind: Kind) -> ! {
    let name = kind.name();
    panic!(
        "reentrant init of a {name}: its initialization closure reached the same {name}, \
         and would wait for itself forever"
    )
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

impl OnceState {
    /// Returns `true` if the associated [`Once`] was poisoned prior to the
    /// invocation of the closure passed to [`Once::call_once_force()`].
    ///
    /// # Examples
    ///
    /// A poisoned [`Once`]:
    ///
    /// ```
    /// use green::sync::Once;
    /// use std::panic::catch_unwind;
    ///
    /// static INIT: Once = Once::new();
    ///
    /// // poison the once
    /// let _ = catch_unwind(|| INIT.call_once(|| panic!()));
    ///
    /// INIT.call_once_force(|state| {
    ///     assert!(state.is_poisoned());
    /// });
    /// ```
    ///
    /// An unpoisoned [`Once`]:
    ///
    /// ```
    /// use green::sync::Once;
    ///
    /// static INIT: Once = Once::new();
    ///
    /// INIT.call_once_force(|state| {
    ///     assert!(!state.is_poisoned());
    /// });
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl fmt::Debug for OnceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceState")
            .field("poisoned", &self.is_poisoned())
            .finish()
    }
}
