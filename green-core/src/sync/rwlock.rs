//! [`RwLock`]: `std::sync::RwLock` whose waits park the greenlet.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use super::poison;
use super::sem::{Permit, RawSemaphore};

/// Readers hold one permit each, a writer holds them all.
const ALL: usize = usize::MAX >> 1;

/// A reader-writer lock with the API of [`std::sync::RwLock`], poisoning
/// included: any number of readers or one writer at a time.
///
/// A greenlet that must wait parks and the hub runs the others; outside
/// [`run`](crate::run()), the thread blocks. The lock is fair: requests are
/// served in order, so a waiting writer holds back readers that come after
/// it and is never starved.
///
/// # Examples
///
/// ```
/// use green::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap(); // many readers at once
///     assert_eq!(*r1 + *r2, 10);
/// }
/// {
///     let mut w = lock.write().unwrap(); // one writer
///     *w += 1;
/// }
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    gate: RawSemaphore,
    poison: poison::Flag,
    /// Locked only as `gate` allows, so it never blocks. Its own poisoning
    /// (by the thread's panic count) is ignored: `poison` decides.
    data: std::sync::RwLock<T>,
}

/// RAII shared access to an [`RwLock`]'s data.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    // Fields drop in order: the data, then the permit.
    data: std::sync::RwLockReadGuard<'a, T>,
    _permit: Permit<'a>,
}

/// RAII exclusive access to an [`RwLock`]'s data.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    // Fields drop in order: the data, the poison guard (which poisons the
    // lock if its holder began to unwind), then the permits.
    data: std::sync::RwLockWriteGuard<'a, T>,
    poison: poison::Guard<'a>,
    permit: Permit<'a>,
}

impl<T> RwLock<T> {
    /// Creates a new instance of an `RwLock<T>` which is unlocked.
    ///
    /// # Examples
    ///
    /// ```
    /// static CONFIG: green::sync::RwLock<u8> = green::sync::RwLock::new(0);
    /// assert_eq!(*CONFIG.read().unwrap(), 0);
    /// ```
    pub const fn new(t: T) -> RwLock<T> {
        RwLock {
            gate: RawSemaphore::new(ALL),
            poison: poison::Flag::new(),
            data: std::sync::RwLock::new(t),
        }
    }

    /// Consumes this lock, returning the underlying data.
    ///
    /// # Errors
    ///
    /// If the lock is poisoned, the data comes back inside the error.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::sync::RwLock::new(3).into_inner().unwrap(), 3);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let RwLock { poison, data, .. } = self;
        let data = data.into_inner().unwrap_or_else(PoisonError::into_inner);
        poison.result(data)
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks with shared read access, waiting while a writer holds the lock
    /// or waits for it.
    ///
    /// # Errors
    ///
    /// If a writer panicked (or was killed) holding the lock, the guard
    /// comes inside a [`PoisonError`].
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = green::sync::RwLock::new(1);
    /// assert_eq!(*lock.read().unwrap(), 1);
    /// ```
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.gate.acquire(1, "RwLock::read", None);
        self.read_guard()
    }

    /// Attempts to acquire shared read access without waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if a writer holds or waits for the lock,
    /// [`TryLockError::Poisoned`] as for [`read`](Self::read).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = green::sync::RwLock::new(1);
    /// let w = lock.write().unwrap();
    /// assert!(lock.try_read().is_err());
    /// drop(w);
    /// assert!(lock.try_read().is_ok());
    /// ```
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if !self.gate.try_acquire(1) {
            return Err(TryLockError::WouldBlock);
        }
        self.read_guard().map_err(TryLockError::from)
    }

    /// Locks with exclusive write access, waiting until no reader or writer
    /// holds the lock.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = green::sync::RwLock::new(1);
    /// *lock.write().unwrap() = 2;
    /// assert_eq!(*lock.read().unwrap(), 2);
    /// ```
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.gate.acquire(ALL, "RwLock::write", None);
        self.write_guard()
    }

    /// Attempts to lock with exclusive write access without waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if the lock is held (or others wait for
    /// it), [`TryLockError::Poisoned`] as for [`read`](Self::read).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = green::sync::RwLock::new(1);
    /// let r = lock.read().unwrap();
    /// assert!(lock.try_write().is_err());
    /// drop(r);
    /// assert!(lock.try_write().is_ok());
    /// ```
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if !self.gate.try_acquire(ALL) {
            return Err(TryLockError::WouldBlock);
        }
        self.write_guard().map_err(TryLockError::from)
    }

    /// Read-locks the data of a lock whose permit we hold. Never waits.
    fn read_guard(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let data = match self.data.try_read() {
            Ok(data) => data,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                unreachable!("green::sync::RwLock: data locked without the gate")
            }
        };
        let guard = RwLockReadGuard {
            data,
            _permit: Permit(&self.gate, 1),
        };
        self.poison.result(guard)
    }

    /// Write-locks the data of a lock whose permits we hold. Never waits.
    fn write_guard(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let data = match self.data.try_write() {
            Ok(data) => data,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                unreachable!("green::sync::RwLock: data locked without the gate")
            }
        };
        let guard = RwLockWriteGuard {
            data,
            poison: self.poison.guard(),
            permit: Permit(&self.gate, ALL),
        };
        self.poison.result(guard)
    }

    /// Whether the lock is poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!green::sync::RwLock::new(()).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = green::sync::RwLock::new(());
    /// lock.clear_poison();
    /// assert!(!lock.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// Returns a mutable reference to the underlying data.
    ///
    /// # Errors
    ///
    /// As [`into_inner`](RwLock::into_inner).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = green::sync::RwLock::new(0);
    /// *lock.get_mut().unwrap() = 10;
    /// assert_eq!(*lock.read().unwrap(), 10);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let data = self.data.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.poison.result(data)
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Downgrades a write-locked guard to a read-locked one, atomically,
    /// like std's [`downgrade`](std::sync::RwLockWriteGuard::downgrade):
    /// no writer can get in between. Readers waiting at the head of the
    /// line may then enter; writers still wait, and so do the readers that
    /// came after a waiting writer (the lock stays first come, first
    /// served).
    ///
    /// An associated function, as std's, since the guard derefs to `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let mut w = lock.write().unwrap();
    /// *w += 1;
    /// let r = RwLockWriteGuard::downgrade(w); // no writer gets in between
    /// assert_eq!(*r, 2);
    /// assert_eq!(*lock.try_read().unwrap(), 2); // readers may enter
    /// assert!(lock.try_write().is_err()); // writers still wait
    /// ```
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let RwLockWriteGuard {
            data,
            poison,
            permit,
        } = s;
        poison.disarm();
        // The data first, so the readers the permits let in find it read
        // locked, not write locked.
        let data = std::sync::RwLockWriteGuard::downgrade(data);
        RwLockReadGuard {
            data,
            _permit: permit.keep(1),
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(t: T) -> RwLock<T> {
        RwLock::new(t)
    }
}
