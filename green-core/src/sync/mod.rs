//! Locks and one-time initialization that park the greenlet instead of
//! blocking the thread: the API of [`std::sync`]'s [`Mutex`], [`RwLock`],
//! [`Condvar`], [`Barrier`], [`Once`], [`OnceLock`] and [`LazyLock`],
//! poisoning included.
//!
//! Inside [`run`](crate::run()), a greenlet that must wait parks and the hub
//! runs the others; outside, the thread blocks as with std. Greenlets of
//! several hubs and plain threads may share one lock (they are `Sync` when
//! their data is `Send`). Waiters are served first come, first served.
//!
//! A `std::sync::Mutex` held across a switch blocks the whole hub when
//! another greenlet asks for it; these do not, so a guard may be held across
//! a sleep or a socket read. Likewise a std `OnceLock` or `LazyLock` whose
//! initializer switches (it sleeps, reads a file through
//! [`unblock`](crate::unblock()), does green IO) blocks the hub for ever
//! when a second greenlet reaches the cell meanwhile; these park that
//! greenlet until the first is done.
//!
//! # Examples
//!
//! ```
//! use std::rc::Rc;
//! use green::sync::Mutex;
//!
//! green::run(|| {
//!     let log = Rc::new(Mutex::new(Vec::new()));
//!     let handles: Vec<_> = (0..3)
//!         .map(|i| {
//!             let log = log.clone();
//!             green::spawn(move || {
//!                 let mut log = log.lock().unwrap();
//!                 log.push(i);
//!                 green::yield_now(); // holding the lock: the others wait
//!                 log.push(i);
//!             })
//!         })
//!         .collect();
//!     green::joinall(handles);
//!     assert_eq!(*log.lock().unwrap(), [0, 0, 1, 1, 2, 2]);
//! });
//! ```

mod barrier;
mod condvar;
mod lazy_lock;
mod mutex;
mod once;
mod once_lock;
pub(crate) mod poison;
mod rwlock;
pub(crate) mod sem;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use lazy_lock::LazyLock;
pub use mutex::{Mutex, MutexGuard};
#[allow(deprecated)]
pub use once::ONCE_INIT;
pub use once::{Once, OnceState};
pub use once_lock::OnceLock;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
