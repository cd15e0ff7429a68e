//! `std::sync`, with locks and channels that park a waiting greenlet
//! instead of blocking the hub's thread.
//!
//! [`Mutex`], [`RwLock`], [`Condvar`], [`Barrier`], [`Once`], [`OnceLock`]
//! and [`LazyLock`] are green-core's ([`green::sync`]): std's API and
//! poisoning; usable by greenlets of any hub and by plain threads at once.
//! The locks are fair (first come, first served). A greenlet that reaches a
//! `OnceLock` or `LazyLock` while another initializes it parks, so an
//! initializer may sleep, read a file or do green IO; std's would block the
//! hub's thread, and the hub would deadlock. [`mpsc`] wraps green-core's
//! channels in std's types. Everything else — `Arc`, `Weak`, the atomics,
//! `PoisonError` and friends — is std's.
//!
//! # Examples
//!
//! ```
//! use green_std::sync::{Arc, Mutex};
//! use green_std::thread;
//!
//! fn count() -> u32 {
//!     let counter = Arc::new(Mutex::new(0));
//!     let handles: Vec<_> = (0..100)
//!         .map(|_| {
//!             let c = Arc::clone(&counter);
//!             thread::spawn(move || *c.lock().unwrap() += 1)
//!         })
//!         .collect();
//!     for h in handles {
//!         h.join().unwrap();
//!     }
//!     let n = *counter.lock().unwrap();
//!     n
//! }
//!
//! assert_eq!(count(), 100); // 100 OS threads
//! assert_eq!(green::run(count), 100); // 100 greenlets on one thread
//! ```

pub mod mpsc;

pub use std::sync::*;

#[allow(deprecated)]
pub use green::sync::ONCE_INIT;
pub use green::sync::{
    Barrier, BarrierWaitResult, Condvar, LazyLock, Mutex, MutexGuard, Once, OnceLock, OnceState,
    RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult,
};
