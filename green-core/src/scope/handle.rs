//! The handles of scoped children: [`ScopedJoinHandle`] (a greenlet, with
//! green's [`JoinError`]) and [`ScopedSendJoinHandle`] (a greenlet or an OS
//! thread, with std's `thread::Result`), and the [`Packet`] an OS thread
//! leaves its result in.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::thread;

use crate::greenlet::{Greenlet, GreenletId};
use crate::join::{JoinError, JoinHandle};
use crate::sync::{Condvar, Mutex};

/// Where a scoped OS thread leaves its result for
/// [`ScopedSendJoinHandle::join`]. Green's lock and condvar: a join inside
/// [`run`](crate::run()) (the scope made outside it, on this thread) parks
/// the greenlet instead of blocking its hub.
pub(super) struct Packet<T> {
    result: Mutex<Option<thread::Result<T>>>,
    done: Condvar,
}

impl<T> Packet<T> {
    pub(super) fn new() -> Packet<T> {
        Packet {
            result: Mutex::new(None),
            done: Condvar::new(),
        }
    }

    pub(super) fn put(&self, outcome: thread::Result<T>) {
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        self.done.notify_one();
    }

    /// Waits for the result and takes it.
    pub(super) fn take(&self) -> thread::Result<T> {
        let mut result = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(outcome) = result.take() {
                return outcome;
            }
            result = self
                .done
                .wait(result)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    pub(super) fn is_set(&self) -> bool {
        self.result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

/// An owned permission to join on a scoped greenlet; see
/// [`Scope::spawn`](crate::Scope::spawn).
pub struct ScopedJoinHandle<'scope, T> {
    pub(super) handle: JoinHandle<T>,
    pub(super) panicked: Arc<AtomicBool>,
    pub(super) scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the greenlet to finish and returns its result; see
    /// [`JoinHandle::join`]. A panic joined here is not reported again by
    /// the scope.
    ///
    /// # Errors
    ///
    /// As [`JoinHandle::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     green::scope(|s| {
    ///         let h = s.spawn(|| panic!("caught"));
    ///         assert!(h.join().unwrap_err().is_panic()); // the scope does not panic
    ///     });
    /// });
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        let result = self.handle.join();
        self.panicked.store(false, Ordering::Relaxed);
        result
    }

    /// Whether the greenlet has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     green::scope(|s| {
    ///         let h = s.spawn(|| ());
    ///         green::yield_now();
    ///         assert!(h.is_finished());
    ///     });
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Kills the greenlet and waits until it has died; see
    /// [`JoinHandle::kill`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     green::scope(|s| {
    ///         let h = s.spawn(|| green::sleep(Duration::from_secs(3600)));
    ///         h.kill();
    ///         assert!(h.join().unwrap_err().is_killed());
    ///     });
    /// });
    /// ```
    pub fn kill(&self) {
        self.handle.kill();
    }

    /// The greenlet's identifier.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     green::scope(|s| assert_ne!(s.spawn(|| ()).id(), green::current().id()));
    /// });
    /// ```
    pub fn id(&self) -> GreenletId {
        self.handle.id()
    }

    /// A handle to the greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     green::scope(|s| {
    ///         let h = s.spawn(|| ());
    ///         assert_eq!(h.greenlet().id(), h.id());
    ///     });
    /// });
    /// ```
    pub fn greenlet(&self) -> &Greenlet {
        self.handle.greenlet()
    }
}

/// An owned permission to join on a scoped greenlet or scoped OS thread; see
/// [`Scope::spawn_send`](crate::Scope::spawn_send). Its methods are those of
/// [`std::thread::ScopedJoinHandle`].
///
/// Like [`JoinHandle`], it is neither `Send` nor `Sync` (std's is, for a
/// `Send` result), whichever it holds:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: &T) {}
/// green::scope(|s| assert_send(&s.spawn_send(|| ())));
/// ```
pub struct ScopedSendJoinHandle<'scope, T> {
    pub(super) inner: SendInner<'scope, T>,
}

pub(super) enum SendInner<'scope, T> {
    Greenlet(ScopedJoinHandle<'scope, T>),
    Thread {
        thread: thread::Thread,
        packet: Arc<Packet<T>>,
        /// The child's flag in the scope.
        panicked: Arc<AtomicBool>,
        scope: PhantomData<&'scope ()>,
    },
}

impl<'scope, T> ScopedSendJoinHandle<'scope, T> {
    pub(crate) fn from_greenlet(handle: ScopedJoinHandle<'scope, T>) -> Self {
        ScopedSendJoinHandle {
            inner: SendInner::Greenlet(handle),
        }
    }

    /// Waits for the greenlet or thread to finish and returns its result,
    /// like [`std::thread::ScopedJoinHandle::join`]. A panic joined here is
    /// not reported again by the scope. Joining an OS thread of a scope made
    /// outside [`run`](crate::run()) from inside a `run` parks the greenlet,
    /// as any green wait does.
    ///
    /// # Errors
    ///
    /// The panic payload if it panicked. A greenlet that was killed gives a
    /// payload that is its [`JoinError`].
    ///
    /// # Examples
    ///
    /// ```
    /// fn first_error() -> String {
    ///     green::scope(|s| {
    ///         let ok = s.spawn_send(|| 1);
    ///         let bad = s.spawn_send(|| -> u8 { panic!("oops") });
    ///         assert_eq!(ok.join().unwrap(), 1);
    ///         let payload = bad.join().unwrap_err(); // the scope does not panic
    ///         payload.downcast_ref::<&str>().unwrap().to_string()
    ///     })
    /// }
    ///
    /// assert_eq!(first_error(), "oops"); // OS threads
    /// assert_eq!(green::run(first_error), "oops"); // greenlets
    /// ```
    pub fn join(self) -> thread::Result<T> {
        match self.inner {
            SendInner::Greenlet(handle) => handle.join().map_err(|e| match e.try_into_panic() {
                Ok(payload) => payload,
                Err(killed) => Box::new(killed),
            }),
            SendInner::Thread {
                packet, panicked, ..
            } => {
                let outcome = packet.take();
                panicked.store(false, Ordering::Relaxed);
                outcome
            }
        }
    }

    /// Whether the greenlet or thread has finished running its closure.
    /// Does not wait for it (at most for the moment a thread takes to
    /// store its result, under the lock both share).
    ///
    /// # Examples
    ///
    /// ```
    /// green::scope(|s| {
    ///     let h = s.spawn_send(|| ());
    ///     while !h.is_finished() {
    ///         std::thread::yield_now();
    ///     }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            SendInner::Greenlet(handle) => handle.is_finished(),
            SendInner::Thread { packet, .. } => packet.is_set(),
        }
    }

    /// The greenlet, when the scope was made inside [`run`](crate::run()).
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     green::scope(|s| {
    ///         let h = s.spawn_send(|| ());
    ///         assert!(h.greenlet().is_some() && h.thread().is_none());
    ///     });
    /// });
    /// ```
    pub fn greenlet(&self) -> Option<&Greenlet> {
        match &self.inner {
            SendInner::Greenlet(handle) => Some(handle.greenlet()),
            SendInner::Thread { .. } => None,
        }
    }

    /// The OS thread, when the scope was made outside [`run`](crate::run()).
    ///
    /// # Examples
    ///
    /// ```
    /// green::scope(|s| {
    ///     let h = s.spawn_send(|| std::thread::current().id());
    ///     let id = h.thread().unwrap().id();
    ///     assert_eq!(h.join().unwrap(), id);
    /// });
    /// ```
    pub fn thread(&self) -> Option<&thread::Thread> {
        match &self.inner {
            SendInner::Greenlet(_) => None,
            SendInner::Thread { thread, .. } => Some(thread),
        }
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ScopedJoinHandle")
            .field(self.handle.greenlet())
            .finish()
    }
}

impl<T> fmt::Debug for ScopedSendJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple("ScopedSendJoinHandle");
        match &self.inner {
            SendInner::Greenlet(handle) => t.field(handle.greenlet()),
            SendInner::Thread { thread, .. } => t.field(thread),
        };
        t.finish()
    }
}
