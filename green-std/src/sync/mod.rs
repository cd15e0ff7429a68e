//! `std::sync`, with locks and channels that park a waiting greenlet
//! instead of blocking the hub's thread.
//!
//! [`Mutex`], [`RwLock`], [`Condvar`], [`Barrier`] are green-core's
//! ([`green::sync`]): std's API and poisoning; fair (first come, first
//! served); usable by greenlets of any hub and by plain threads at once.
//! [`mpsc`] wraps green-core's channels in std's types. Everything else —
//! `Arc`, `Weak`, the atomics, `Once`, `OnceLock`, `LazyLock`,
//! `PoisonError` and friends — is std's.
//!
//! # A trap
//!
//! `Once`, `OnceLock` and `LazyLock` are std's: if their initialiser
//! switches greenlets (it sleeps, does green IO) and another greenlet of the
//! same hub reaches the same cell meanwhile, that greenlet blocks the
//! thread, and the hub deadlocks. Keep initialisers free of green waits, or
//! initialise before spawning.
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

pub use green::sync::{
    Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard,
    RwLockWriteGuard, WaitTimeoutResult,
};
