//! [`scope`], [`Scope`], [`ScopedJoinHandle`] and [`Builder::spawn_scoped`]:
//! scoped greenlets inside [`green::run`], std's scoped threads outside.
//!
//! All of it is [`green::scope`], which chooses once, when the scope is made:
//! inside `run` its children are greenlets of the calling hub (killed and
//! waited for if the greenlet that made the scope is killed); outside, OS
//! threads, joined exactly as [`std::thread::scope`] joins them.
//!
//! [`Scope`] is a `#[repr(transparent)]` wrapper around [`green::Scope`], so
//! the `&'scope green::Scope` that `green::scope` hands out is also the
//! `&'scope Scope` that `f` needs, for the same `'scope`: nothing is copied,
//! boxed or leaked.

use std::fmt;
use std::io;

use super::current::Thread;
use super::spawn::Builder;

/// Creates a scope for spawning scoped threads, like
/// [`std::thread::scope`]: inside [`green::run`] the threads are greenlets
/// of the calling hub; outside, OS threads.
///
/// The function passed to `scope` is given a [`Scope`] to spawn scoped
/// threads with. Unlike non-scoped threads, scoped threads can borrow
/// non-`'static` data, as the scope guarantees all of them are joined at its
/// end: every thread that was not joined by hand is joined before `scope`
/// returns.
///
/// # Panics
///
/// If any of the automatically joined threads panicked, `scope` panics
/// after all of them are done (`"a scoped thread panicked"`, or `"a scoped
/// greenlet panicked"` inside `run`). If `f` panics, the panic goes on
/// after all threads are joined.
///
/// # Notes
///
/// Inside `run`, if the greenlet that made the scope is killed, the scope
/// kills its greenlets and waits for them to unwind before the kill goes on.
///
/// # Examples
///
/// ```
/// use green_std::thread;
///
/// fn count(a: &mut Vec<i32>) -> i32 {
///     let mut x = 0;
///     thread::scope(|s| {
///         s.spawn(|| {
///             println!("hello from the first scoped thread");
///             // We can borrow `a` here.
///             dbg!(&a);
///         });
///         s.spawn(|| {
///             println!("hello from the second scoped thread");
///             // We can even mutably borrow `x` here,
///             // because no other threads are using it.
///             x += a[0] + a[2];
///         });
///         println!("hello from the main thread");
///     });
///     // After the scope, we can modify and access our variables again:
///     a.push(4);
///     x
/// }
///
/// assert_eq!(count(&mut vec![1, 2, 3]), 4); // OS threads
/// assert_eq!(green::run(|| count(&mut vec![1, 2, 3])), 4); // greenlets
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    green::scope(|s| f(Scope::from_green(s)))
}

/// A scope to spawn scoped threads in, like [`std::thread::Scope`]; see
/// [`scope`].
///
/// It is `Send` and `Sync`: scoped threads may capture `&Scope` and spawn
/// more threads in it.
#[repr(transparent)]
pub struct Scope<'scope, 'env> {
    inner: green::Scope<'scope, 'env>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// The green-std view of a [`green::Scope`], for the same `'scope`.
    fn from_green(scope: &'scope green::Scope<'scope, 'env>) -> &'scope Self {
        let ptr: *const green::Scope<'scope, 'env> = scope;
        // SAFETY: `Scope` is `repr(transparent)` over exactly
        // `green::Scope<'scope, 'env>` (same lifetimes), so the pointer is
        // to a valid, aligned `Scope`; the result borrows the same object,
        // shared, for the same 'scope, as `scope` did.
        unsafe { &*ptr.cast::<Scope<'scope, 'env>>() }
    }

    /// Spawns a new thread within a scope, returning a [`ScopedJoinHandle`]
    /// for it, like [`std::thread::Scope::spawn`]: a greenlet inside
    /// [`green::run`], an OS thread outside.
    ///
    /// Unlike non-scoped threads, threads spawned with this function may
    /// borrow non-`'static` data from outside the scope. See [`scope`] for
    /// details.
    ///
    /// The join handle provides a [`join`] method that can be used to join
    /// the spawned thread. If the spawned thread panics, [`join`] will
    /// return an [`Err`] containing the panic payload.
    ///
    /// If the join handle is dropped, the spawned thread will be implicitly
    /// joined at the end of the scope. In that case, if the spawned thread
    /// panics, [`scope`] will panic after all threads are joined.
    ///
    /// # Panics
    ///
    /// Panics if the OS fails to create a thread (or the greenlet's stack
    /// cannot be mapped); use [`Builder::spawn_scoped`] to recover from such
    /// errors. Also panics when a scope made inside `run` is used from
    /// another OS thread (its greenlets run on its own hub).
    ///
    /// [`join`]: ScopedJoinHandle::join
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::thread;
    ///
    /// green::run(|| {
    ///     let words = ["a", "bb", "ccc"];
    ///     let lengths = thread::scope(|s| {
    ///         let handles: Vec<_> = words.iter().map(|w| s.spawn(move || w.len())).collect();
    ///         handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    ///     });
    ///     assert_eq!(lengths, [1, 2, 3]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .expect("failed to spawn thread")
    }
}

impl Builder {
    /// Spawns a new scoped thread using the settings set through this
    /// `Builder`, like [`std::thread::Builder::spawn_scoped`]: a greenlet
    /// inside [`green::run`], an OS thread outside.
    ///
    /// # Errors
    ///
    /// As std's: the OS error when the thread, or the greenlet's stack,
    /// cannot be created.
    ///
    /// # Panics
    ///
    /// When a scope made inside `run` is used from another OS thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::thread;
    ///
    /// let mut a = vec![1, 2, 3];
    /// let mut x = 0;
    ///
    /// thread::scope(|s| {
    ///     thread::Builder::new()
    ///         .name("first".to_string())
    ///         .spawn_scoped(s, || {
    ///             println!("hello from the {:?} scoped thread", thread::current().name());
    ///             // We can borrow `a` here.
    ///             dbg!(&a);
    ///         })
    ///         .unwrap();
    ///     thread::Builder::new()
    ///         .name("second".to_string())
    ///         .spawn_scoped(s, || {
    ///             println!("hello from the {:?} scoped thread", thread::current().name());
    ///             // We can even mutably borrow `x` here,
    ///             // because no other threads are using it.
    ///             x += a[0] + a[2];
    ///         })
    ///         .unwrap();
    ///     println!("hello from the main thread");
    /// });
    ///
    /// // After the scope, we can modify and access our variables again:
    /// a.push(4);
    /// assert_eq!(x, a.len());
    /// ```
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let inner = self.into_green().spawn_scoped_send(&scope.inner, f)?;
        let thread = match (inner.greenlet(), inner.thread()) {
            (Some(greenlet), _) => Thread::green(greenlet.clone()),
            (None, Some(thread)) => Thread::os(thread.clone()),
            (None, None) => unreachable!("a scoped child is a greenlet or a thread"),
        };
        Ok(ScopedJoinHandle { inner, thread })
    }
}

/// An owned permission to join on a scoped thread (block on its
/// termination), like [`std::thread::ScopedJoinHandle`]; see
/// [`Scope::spawn`].
///
/// # Notes
///
/// Unlike std's, and like this crate's [`JoinHandle`](super::JoinHandle), it
/// is neither `Send` nor `Sync` (a handle to a greenlet is bound to its
/// hub's thread), so it cannot be moved into another scoped thread:
///
/// ```compile_fail
/// green_std::thread::scope(|s| {
///     let first = s.spawn(|| 1);
///     s.spawn(move || first.join());
/// });
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    inner: green::ScopedSendJoinHandle<'scope, T>,
    thread: Thread,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Extracts a handle to the underlying thread (greenlet).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::thread;
    ///
    /// thread::scope(|s| {
    ///     let t = s.spawn(|| thread::current().id());
    ///     let id = t.thread().id();
    ///     assert_eq!(t.join().unwrap(), id);
    /// });
    /// ```
    #[must_use]
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Waits for the associated thread to finish, like
    /// [`std::thread::ScopedJoinHandle::join`]. A panic joined here is not
    /// reported again by the scope.
    ///
    /// # Errors
    ///
    /// If the associated thread panics, [`Err`] is returned with the panic
    /// payload. A greenlet that was killed gives a payload that is its
    /// [`green::JoinError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::thread;
    ///
    /// thread::scope(|s| {
    ///     let t = s.spawn(|| {
    ///         panic!("oh no");
    ///     });
    ///     assert!(t.join().is_err());
    /// });
    /// ```
    pub fn join(self) -> std::thread::Result<T> {
        self.inner.join()
    }

    /// Checks if the associated thread has finished running its main
    /// function, like [`std::thread::ScopedJoinHandle::is_finished`]. Does
    /// not block.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::thread;
    ///
    /// green::run(|| {
    ///     thread::scope(|s| {
    ///         let t = s.spawn(|| ());
    ///         assert!(!t.is_finished());
    ///         thread::yield_now(); // the greenlet runs
    ///         assert!(t.is_finished());
    ///     });
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// As std's: `ScopedJoinHandle { .. }`.
impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle").finish_non_exhaustive()
    }
}
