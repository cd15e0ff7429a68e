//! [`Semaphore`] and [`BoundedSemaphore`]: gevent's `gevent.lock`, with
//! RAII permits.
//!
//! Waiters are served in arrival order; a greenlet killed or timed out
//! while waiting leaves the line without taking a permit, and a permit
//! handed to it meanwhile goes back. Both are `Send + Sync`: greenlets of
//! any hub and plain threads may share one.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::sync::sem::RawSemaphore;

/// A counting semaphore: [`acquire`](Self::acquire) takes a permit,
/// waiting while there is none; dropping the [`SemaphorePermit`] returns it.
///
/// # Examples
///
/// At most two greenlets in the section at once:
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use green::lock::Semaphore;
///
/// green::run(|| {
///     let sem = Rc::new(Semaphore::new(2));
///     let inside = Rc::new(Cell::new(0));
///     let most = Rc::new(Cell::new(0));
///     let workers: Vec<_> = (0..6)
///         .map(|_| {
///             let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
///             green::spawn(move || {
///                 let _permit = sem.acquire();
///                 inside.set(inside.get() + 1);
///                 most.set(most.get().max(inside.get()));
///                 green::yield_now();
///                 inside.set(inside.get() - 1);
///             })
///         })
///         .collect();
///     green::joinall(workers);
///     assert_eq!(most.get(), 2);
/// });
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
    /// Permits currently free (mirrors the raw count, for `available`).
    free: AtomicUsize,
    /// Permits in all, free or held: what `add_permits` may not take past
    /// `usize::MAX`, so that `free` never can.
    total: AtomicUsize,
}

/// A permit of a [`Semaphore`]; returned when dropped.
#[must_use = "the permit is returned at once if unused"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::lock::Semaphore::new(3).available_permits(), 3);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            raw: RawSemaphore::new(permits),
            free: AtomicUsize::new(permits),
            total: AtomicUsize::new(permits),
        }
    }

    /// Takes a permit, waiting for one.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = green::lock::Semaphore::new(1);
    /// let p = sem.acquire();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(p);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.raw.acquire(1, "Semaphore::acquire", None);
        self.free.fetch_sub(1, Ordering::Relaxed);
        SemaphorePermit { sem: self }
    }

    /// Takes a permit if one is free now (and nobody waits for one).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = green::lock::Semaphore::new(1);
    /// let _p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        if !self.raw.try_acquire(1) {
            return None;
        }
        self.free.fetch_sub(1, Ordering::Relaxed);
        Some(SemaphorePermit { sem: self })
    }

    /// Takes a permit, waiting at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = green::lock::Semaphore::new(0);
    /// assert!(sem.acquire_timeout(Duration::from_millis(1)).is_none());
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        let deadline = Instant::now().checked_add(timeout);
        if !self.raw.acquire(1, "Semaphore::acquire_timeout", deadline) {
            return None;
        }
        self.free.fetch_sub(1, Ordering::Relaxed);
        Some(SemaphorePermit { sem: self })
    }

    /// Adds `n` permits (gevent's `release` without a permit in hand).
    ///
    /// # Panics
    ///
    /// If the permits, free and held, would then be more than `usize::MAX`;
    /// the semaphore is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = green::lock::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let added = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                total.checked_add(n)
            });
        if let Err(total) = added {
            panic!(
                "green::lock::Semaphore::add_permits: {total} permits (free and held) and {n} \
                 more would be more than usize::MAX"
            );
        }
        self.give_back(n);
    }

    /// Makes `n` permits free (added, or returned by their holder).
    /// Returns `n` permits taken and kept ([`SemaphorePermit::forget`]).
    pub(crate) fn give_back(&self, n: usize) {
        self.free.fetch_add(n, Ordering::Relaxed);
        self.raw.release(n);
    }

    /// The number of free permits (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::lock::Semaphore::new(5).available_permits(), 5);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.free.load(Ordering::Relaxed)
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken: it is not returned on drop.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = green::lock::Semaphore::new(1);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.give_back(1);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available_permits())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

/// A [`Semaphore`] that can never hold more permits than it started with:
/// [`release`](Self::release) past that is an error (gevent raises
/// `ValueError`).
///
/// # Examples
///
/// ```
/// let sem = green::lock::BoundedSemaphore::new(1);
/// let permit = sem.acquire();
/// permit.forget(); // give it back by hand, as gevent code does
/// assert!(sem.release().is_ok());
/// assert!(sem.release().is_err()); // one too many
/// ```
pub struct BoundedSemaphore {
    sem: Semaphore,
    max: usize,
}

/// [`BoundedSemaphore::release`] would exceed the initial count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyReleases;

impl fmt::Display for TooManyReleases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore released too many times")
    }
}

impl std::error::Error for TooManyReleases {}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits, at most.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = green::lock::BoundedSemaphore::new(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub const fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            sem: Semaphore::new(permits),
            max: permits,
        }
    }

    /// Takes a permit, waiting for one; see [`Semaphore::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = green::lock::BoundedSemaphore::new(1);
    /// drop(sem.acquire());
    /// ```
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.sem.acquire()
    }

    /// See [`Semaphore::try_acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = green::lock::BoundedSemaphore::new(1);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.sem.try_acquire()
    }

    /// See [`Semaphore::acquire_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = green::lock::BoundedSemaphore::new(1);
    /// assert!(sem.acquire_timeout(Duration::from_millis(1)).is_some());
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.sem.acquire_timeout(timeout)
    }

    /// Returns one permit taken earlier and forgotten.
    ///
    /// # Errors
    ///
    /// [`TooManyReleases`] if all permits are already free.
    ///
    /// # Examples
    ///
    /// See the type's example.
    pub fn release(&self) -> Result<(), TooManyReleases> {
        let mut free = self.sem.free.load(Ordering::Relaxed);
        loop {
            if free >= self.max {
                return Err(TooManyReleases);
            }
            match self.sem.free.compare_exchange_weak(
                free,
                free + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => free = now,
            }
        }
        self.sem.raw.release(1);
        Ok(())
    }

    /// The number of free permits.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::lock::BoundedSemaphore::new(3).available_permits(), 3);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("available", &self.available_permits())
            .field("max", &self.max)
            .finish()
    }
}
