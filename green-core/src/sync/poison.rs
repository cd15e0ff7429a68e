//! Poisoning decided by the greenlet that holds a lock, not by the thread.
//!
//! std's locks poison when a guard is dropped while
//! `std::thread::panicking()`, a count kept per OS thread. Inside
//! [`run`](crate::run()) that count also holds the unwinds of greenlets
//! suspended in a destructor, so a std guard dropped by a neighbour that
//! never panicked would poison its lock, and a guard taken while a
//! neighbour unwinds would not poison when its own holder panics. A
//! [`Flag`] asks the hub instead whether the *running greenlet* unwinds
//! (outside `run`, the thread), when the guard is taken and when it is
//! dropped, as std's `poison::Guard` asks the thread. While another
//! greenlet is suspended mid-unwind the hub can only guess (`Hub::unwinding`);
//! the two cases it gets wrong are in the crate's known traps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError};

use crate::hub::{self, Hub};

/// Whether the code running now unwinds: the running greenlet inside
/// `run`, the thread outside it.
pub(crate) fn panicking() -> bool {
    std::thread::panicking() && hub::try_with(Hub::running_unwinds).unwrap_or(true)
}

/// A lock's poison flag.
#[derive(Debug)]
pub(crate) struct Flag(AtomicBool);

impl Flag {
    pub(crate) const fn new() -> Flag {
        Flag(AtomicBool::new(false))
    }

    /// Whether the lock is poisoned. Relaxed, as std's: the lock itself
    /// orders the store of a holder before the load of the next.
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `value` as a lock hands it out: inside a [`PoisonError`] when the
    /// lock is poisoned.
    pub(crate) fn result<V>(&self, value: V) -> LockResult<V> {
        if self.get() {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }

    pub(crate) fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// The poisoning part of a new guard: it remembers whether its holder
    /// was unwinding already when it took the lock.
    pub(crate) fn guard(&self) -> Guard<'_> {
        Guard {
            flag: self,
            panicking: panicking(),
        }
    }
}

/// Poisons its [`Flag`] when dropped by a holder that began to unwind
/// after it took the lock (a panic, or a [`kill`](crate::JoinHandle::kill)).
#[derive(Debug)]
pub(crate) struct Guard<'a> {
    flag: &'a Flag,
    panicking: bool,
}

impl Guard<'_> {
    /// Gives the lock up without poisoning: a write lock that becomes a
    /// read lock (std's `downgrade` does not poison either).
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if !self.panicking && panicking() {
            self.flag.0.store(true, Ordering::Relaxed);
        }
    }
}
