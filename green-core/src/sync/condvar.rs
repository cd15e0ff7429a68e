//! [`Condvar`]: `std::sync::Condvar` for [`Mutex`](super::Mutex)es of this module.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LockResult, PoisonError};
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use crate::park::Waiter;

/// A condition variable with the API of [`std::sync::Condvar`], for
/// [`green::sync::Mutex`](super::Mutex).
///
/// A greenlet that waits parks and the hub runs the others; outside
/// [`run`](crate::run()), the thread blocks. Notifications wake waiters in
/// the order they began to wait. As with std, waits may wake spuriously:
/// check the condition in a loop, or use [`wait_while`](Self::wait_while).
///
/// One condition variable may serve waiters of several mutexes: each waiter
/// relocks its own. (std's may panic then; on Linux it does not either.)
///
/// A waiter unwound by a [`kill`](crate::JoinHandle::kill) or a
/// [`timeout`](crate::timeout()) after it was notified, while it waits to
/// relock the mutex, does not take the notification with it: it goes to the
/// next waiter (which may find its condition false and wait again, a
/// spurious wake-up), as it does from a waiter unwound before it woke.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use green::sync::{Condvar, Mutex};
///
/// green::run(|| {
///     let pair = Rc::new((Mutex::new(false), Condvar::new()));
///     let pair2 = pair.clone();
///     green::spawn(move || {
///         let (lock, cvar) = &*pair2;
///         *lock.lock().unwrap() = true;
///         cvar.notify_one();
///     });
///     let (lock, cvar) = &*pair;
///     let started = cvar.wait_while(lock.lock().unwrap(), |started| !*started).unwrap();
///     assert!(*started);
/// });
/// ```
pub struct Condvar {
    waiters: std::sync::Mutex<VecDeque<Arc<Node>>>,
}

struct Node {
    notified: AtomicBool,
    waiter: Waiter,
}

/// Whether a timed wait on a [`Condvar`] timed out; std's type cannot be
/// made outside std.
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Returns `true` if the wait was known to have timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use green::sync::{Condvar, Mutex};
    ///
    /// let (m, c) = (Mutex::new(()), Condvar::new());
    /// let (_g, r) = c.wait_timeout(m.lock().unwrap(), Duration::from_millis(1)).unwrap();
    /// assert!(r.timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// Creates a new condition variable which is ready to be waited on and
    /// notified.
    ///
    /// # Examples
    ///
    /// ```
    /// static READY: green::sync::Condvar = green::sync::Condvar::new();
    /// READY.notify_all();
    /// ```
    pub const fn new() -> Condvar {
        Condvar {
            waiters: std::sync::Mutex::new(VecDeque::new()),
        }
    }

    /// Unlocks the mutex of `guard` and waits for a notification, then
    /// locks it again and returns the guard. May wake spuriously.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned when it is locked again, the guard comes
    /// inside a [`PoisonError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use green::sync::{Condvar, Mutex};
    ///
    /// green::run(|| {
    ///     let pair = Rc::new((Mutex::new(0), Condvar::new()));
    ///     let p = pair.clone();
    ///     green::spawn(move || {
    ///         *p.0.lock().unwrap() = 1;
    ///         p.1.notify_all();
    ///     });
    ///     let mut n = pair.0.lock().unwrap();
    ///     while *n == 0 {
    ///         n = pair.1.wait(n).unwrap();
    ///     }
    /// });
    /// ```
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let (guard, _) = self.wait_until(guard, None);
        guard
    }

    /// Waits while `condition` holds, like std's.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// See the type's example.
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Like [`wait`](Self::wait), but waits at most `dur`.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// See [`WaitTimeoutResult::timed_out`].
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let deadline = Instant::now().checked_add(dur);
        let (guard, timed_out) = self.wait_until(guard, deadline);
        let result = WaitTimeoutResult(timed_out);
        match guard {
            Ok(g) => Ok((g, result)),
            Err(p) => Err(PoisonError::new((p.into_inner(), result))),
        }
    }

    /// Waits while `condition` holds, at most `dur` in all.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use green::sync::{Condvar, Mutex};
    ///
    /// let (m, c) = (Mutex::new(0), Condvar::new());
    /// let (n, r) = c
    ///     .wait_timeout_while(m.lock().unwrap(), Duration::from_millis(2), |n| *n == 0)
    ///     .unwrap();
    /// assert!(r.timed_out());
    /// assert_eq!(*n, 0);
    /// ```
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(dur);
        while condition(&mut *guard) {
            if deadline.is_some_and(|at| Instant::now() >= at) {
                return Ok((guard, WaitTimeoutResult(true)));
            }
            let (relocked, timed_out) = self.wait_until(guard, deadline);
            guard = match relocked {
                Ok(g) => g,
                // As std's: the poison carries the last wait's outcome.
                Err(p) => {
                    let result = WaitTimeoutResult(timed_out);
                    return Err(PoisonError::new((p.into_inner(), result)));
                }
            };
        }
        Ok((guard, WaitTimeoutResult(false)))
    }

    /// Wakes up the waiter that has waited longest, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// green::sync::Condvar::new().notify_one(); // nobody waits: nothing happens
    /// ```
    pub fn notify_one(&self) {
        let mut waiters = self.lock_waiters();
        if let Some(node) = waiters.pop_front() {
            node.notified.store(true, Ordering::Release);
            node.waiter.wake();
        }
    }

    /// Wakes up every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// green::sync::Condvar::new().notify_all();
    /// ```
    pub fn notify_all(&self) {
        let waiters = std::mem::take(&mut *self.lock_waiters());
        for node in waiters {
            node.notified.store(true, Ordering::Release);
            node.waiter.wake();
        }
    }

    fn lock_waiters(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Node>>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The wait: returns the relocked guard and whether it timed out. May
    /// wake spuriously, as [`wait`](Self::wait).
    pub(crate) fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (LockResult<MutexGuard<'a, T>>, bool) {
        let node = Arc::new(Node {
            notified: AtomicBool::new(false),
            waiter: Waiter::current(),
        });
        self.lock_waiters().push_back(node.clone());
        let mutex = MutexGuard::unlock(guard);
        let waiting = Waiting {
            cv: self,
            node,
            armed: true,
        };
        let timed_out = loop {
            if waiting.node.notified.load(Ordering::Acquire) {
                break false;
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                break !waiting.withdraw();
            }
            waiting.node.waiter.block("Condvar::wait", deadline);
        };
        // Still armed while it relocks: a kill or a timeout that unwinds it
        // while it waits for the mutex passes its notification on too.
        let relocked = mutex.lock();
        waiting.done();
        (relocked, timed_out)
    }
}

/// A waiter's entry. Dropped while still `armed` (a kill, a
/// [`timeout`](crate::timeout()) or a panic unwinding the waiter, while it
/// waits for a notification or to relock the mutex after one) it withdraws,
/// and a notification it got but cannot act on goes to the next waiter.
///
/// Passed on even when the waiter would not have acted on it (its
/// `wait_while` condition false again, so it would have waited once more):
/// it cannot tell, and the notifier's `notify_one` asked that one waiter
/// look at the condition; one that is gone cannot, so another must. At
/// worst the next waiter wakes spuriously, which std's contract allows;
/// a lost notification can leave a waiter asleep forever. (Not
/// `std::thread::panicking()`: inside `run` that is true for every greenlet
/// of the thread while one of them is suspended mid-unwind.)
struct Waiting<'a> {
    cv: &'a Condvar,
    node: Arc<Node>,
    armed: bool,
}

impl Waiting<'_> {
    /// Notified, or timed out and withdrawn, and the mutex relocked:
    /// nothing to undo.
    fn done(mut self) {
        self.armed = false;
    }

    /// Leaves the queue; returns whether a notification came first.
    fn withdraw(&self) -> bool {
        let mut waiters = self.cv.lock_waiters();
        waiters.retain(|n| !Arc::ptr_eq(n, &self.node));
        self.node.notified.load(Ordering::Acquire)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.armed && self.withdraw() {
            self.cv.notify_one(); // pass on what we cannot use
        }
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}
