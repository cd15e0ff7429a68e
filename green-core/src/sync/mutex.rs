//! [`Mutex`]: `std::sync::Mutex` whose `lock` parks the greenlet instead of
//! blocking the thread.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use super::poison;
use super::sem::{Permit, RawSemaphore};

/// A mutual exclusion primitive useful for protecting shared data, with the
/// API of [`std::sync::Mutex`], poisoning included.
///
/// Inside [`run`](crate::run()), a greenlet that finds the mutex locked parks
/// and the hub runs the others; outside, the thread blocks. Greenlets and
/// threads may share one mutex (it is `Sync` when `T: Send`). Waiters get
/// the lock in the order they asked for it.
///
/// Unlike a `std::sync::Mutex`, a guard may be held across a switch (a
/// sleep, a socket read): the other greenlets keep running, and those that
/// want the lock wait for it.
///
/// A guard dropped while its holder unwinds (a panic, or a
/// [`kill`](crate::JoinHandle::kill)) poisons the mutex. The holder decides,
/// not the thread: a greenlet that unlocks normally while another greenlet
/// of its hub is suspended mid-unwind does not poison it.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use std::time::Duration;
/// use green::sync::Mutex;
///
/// green::run(|| {
///     let counter = Rc::new(Mutex::new(0));
///     let workers: Vec<_> = (0..10)
///         .map(|_| {
///             let counter = counter.clone();
///             green::spawn(move || {
///                 let mut n = counter.lock().unwrap();
///                 green::sleep(Duration::from_millis(1)); // others run, and wait
///                 *n += 1;
///             })
///         })
///         .collect();
///     green::joinall(workers);
///     assert_eq!(*counter.lock().unwrap(), 10);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    gate: RawSemaphore,
    poison: poison::Flag,
    /// Only ever locked by the holder of `gate`, so it never blocks. Its own
    /// poisoning (by the thread's panic count) is ignored: `poison` decides.
    data: std::sync::Mutex<T>,
}

/// An RAII guard of a locked [`Mutex`]; the data is reachable through
/// `Deref`/`DerefMut`, and the lock is released when it is dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    // Fields drop in order: the data first, then the poison guard (which
    // poisons the mutex if its holder began to unwind), then the gate opens
    // for the next in line.
    data: std::sync::MutexGuard<'a, T>,
    _poison: poison::Guard<'a>,
    _permit: Permit<'a>,
    lock: &'a Mutex<T>,
}

impl<T> Mutex<T> {
    /// Creates a new mutex in an unlocked state ready for use.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::Mutex;
    ///
    /// static COUNT: Mutex<u32> = Mutex::new(0);
    /// *COUNT.lock().unwrap() += 1;
    /// ```
    pub const fn new(t: T) -> Mutex<T> {
        Mutex {
            gate: RawSemaphore::new(1),
            poison: poison::Flag::new(),
            data: std::sync::Mutex::new(t),
        }
    }

    /// Consumes this mutex, returning the underlying data.
    ///
    /// # Errors
    ///
    /// If the mutex is poisoned, the data comes back inside the error.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = green::sync::Mutex::new(0);
    /// assert_eq!(mutex.into_inner().unwrap(), 0);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let Mutex { poison, data, .. } = self;
        let data = data.into_inner().unwrap_or_else(PoisonError::into_inner);
        poison.result(data)
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, waiting (parking the greenlet, or blocking the
    /// thread outside `run`) until it is available.
    ///
    /// # Errors
    ///
    /// If another user of this mutex panicked (or was killed) while holding
    /// it, the guard comes inside a [`PoisonError`].
    ///
    /// # Panics
    ///
    /// Waits forever (or reports a deadlock) if the calling greenlet already
    /// holds the lock, where std may panic or deadlock.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::Mutex;
    /// use std::rc::Rc;
    ///
    /// green::run(|| {
    ///     let m = Rc::new(Mutex::new(0));
    ///     let m2 = m.clone();
    ///     green::spawn(move || *m2.lock().unwrap() = 10).join().unwrap();
    ///     assert_eq!(*m.lock().unwrap(), 10);
    /// });
    /// ```
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.gate.acquire(1, "Mutex::lock", None);
        self.guard()
    }

    /// Attempts to acquire this lock without waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if the lock is held (or others wait for
    /// it), [`TryLockError::Poisoned`] as for [`lock`](Self::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::Mutex;
    ///
    /// let m = Mutex::new(1);
    /// let guard = m.lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(guard);
    /// assert_eq!(*m.try_lock().unwrap(), 1);
    /// ```
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if !self.gate.try_acquire(1) {
            return Err(TryLockError::WouldBlock);
        }
        self.guard().map_err(TryLockError::from)
    }

    /// Locks the data of a mutex whose gate we hold. Never waits: only the
    /// gate's holder locks the data.
    fn guard(&self) -> LockResult<MutexGuard<'_, T>> {
        let data = match self.data.try_lock() {
            Ok(data) => data,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                unreachable!("green::sync::Mutex: data locked without the gate")
            }
        };
        let guard = MutexGuard {
            data,
            _poison: self.poison.guard(),
            _permit: Permit(&self.gate, 1),
            lock: self,
        };
        self.poison.result(guard)
    }

    /// Whether the mutex is poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = green::sync::Mutex::new(());
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::Mutex;
    /// use std::panic::{catch_unwind, AssertUnwindSafe};
    ///
    /// let m = Mutex::new(0);
    /// let _ = catch_unwind(AssertUnwindSafe(|| {
    ///     let _guard = m.lock().unwrap();
    ///     panic!("poison it");
    /// }));
    /// assert!(m.is_poisoned());
    /// m.clear_poison();
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// Returns a mutable reference to the underlying data; no locking is
    /// needed since the borrow is exclusive.
    ///
    /// # Errors
    ///
    /// As [`into_inner`](Mutex::into_inner).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = green::sync::Mutex::new(0);
    /// *m.get_mut().unwrap() = 10;
    /// assert_eq!(*m.lock().unwrap(), 10);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let data = self.data.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.poison.result(data)
    }
}

// Associated functions, not methods: a guard derefs to the user's `T`.
impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Unlocks, returning the mutex to lock again (for
    /// [`Condvar`](super::Condvar)).
    pub(crate) fn unlock(guard: Self) -> &'a Mutex<T> {
        let lock = guard.lock;
        drop(guard);
        lock
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            // A string, so quoted: std's Mutex prints `data: "<locked>"`
            // (its RwLock, unquoted).
            Err(TryLockError::WouldBlock) => d.field("data", &"<locked>"),
        };
        d.field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(t: T) -> Mutex<T> {
        Mutex::new(t)
    }
}
