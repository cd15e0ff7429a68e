//! [`Builder`], [`spawn`] and [`spawn_later`]: creating greenlets.

use std::cell::RefCell;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::coroutine::{stack, Coroutine};
use crate::hub;
use crate::join::JoinHandle;
use crate::scope::{Scope, ScopedJoinHandle, ScopedSendJoinHandle};

/// Greenlet factory, which can be used to configure the properties of a new
/// greenlet, like [`std::thread::Builder`].
///
/// # Examples
///
/// ```
/// green::run(|| {
///     let handle = green::Builder::new()
///         .name("worker".into())
///         .stack_size(64 * 1024)
///         .spawn(|| 6 * 7)
///         .unwrap();
///     assert_eq!(handle.name(), Some("worker"));
///     assert_eq!(handle.join().unwrap(), 42);
/// });
/// ```
#[derive(Debug, Default)]
#[must_use = "must eventually spawn the greenlet"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// Generates the base configuration for spawning a greenlet, from which
    /// configuration methods can be chained.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the greenlet-to-be. The name shows in its `Debug` output
    /// (`<Greenlet 3 "name">`), in panic messages and in deadlock reports.
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the size of the stack (in bytes) for the new greenlet.
    ///
    /// The size is rounded up to whole pages, and to at least 16 KiB. The
    /// default is 256 KiB, or what [`set_default_stack_size`] or the
    /// `GREEN_STACK_SIZE` environment variable (read once) say. Only the pages
    /// a greenlet touches become resident. Running past the end hits a guard
    /// page: the process aborts with a message naming the greenlet.
    ///
    /// [`set_default_stack_size`]: crate::set_default_stack_size
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Spawns a new greenlet by taking ownership of the `Builder`, and returns
    /// an [`io::Result`] to its [`JoinHandle`].
    ///
    /// The greenlet is queued at the back of the run queue and first runs
    /// when the caller next switches (blocks, sleeps or yields).
    ///
    /// # Errors
    ///
    /// Fails when its stack cannot be mapped: [`io::ErrorKind::OutOfMemory`]
    /// with a message that names the cause (memory, or the kernel's
    /// `vm.max_map_count`: a stack of other than the default size, or any
    /// stack before Linux 6.13, costs two mappings), or
    /// [`io::ErrorKind::InvalidInput`] for a size beyond the process's stack
    /// limit.
    ///
    /// # Panics
    ///
    /// Panics outside [`run`](crate::run()).
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let h = green::Builder::new().spawn(|| "hello").unwrap();
    ///     assert_eq!(h.join().unwrap(), "hello");
    ///     let err = green::Builder::new().stack_size(1 << 50).spawn(|| ()).unwrap_err();
    ///     assert!(err.to_string().contains("greenlet stack"));
    /// });
    /// ```
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.build(f, None)
    }

    /// Like [`spawn`](Self::spawn), but the greenlet starts only once `delay`
    /// has passed (gevent's `spawn_later`). Killing it before then drops `f`
    /// without running it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// green::run(|| {
    ///     let start = Instant::now();
    ///     let h = green::Builder::new()
    ///         .spawn_later(Duration::from_millis(20), move || start.elapsed())
    ///         .unwrap();
    ///     assert!(h.join().unwrap() >= Duration::from_millis(20));
    /// });
    /// ```
    pub fn spawn_later<F, T>(self, delay: Duration, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        // A delay too long for `Instant` waits a century (never, in effect).
        self.build(f, Some(crate::sleep::deadline_after(delay)))
    }

    /// Spawns a greenlet in `scope`, like [`std::thread::Builder::spawn_scoped`]:
    /// it may borrow from outside the scope, and the scope waits for it.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    ///
    /// # Panics
    ///
    /// If the scope was made outside [`run`](crate::run()) (its children are
    /// OS threads: use [`spawn_scoped_send`](Self::spawn_scoped_send)), or
    /// on another thread.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let data = vec![1, 2, 3];
    ///     let total = green::scope(|s| {
    ///         let h = green::Builder::new()
    ///             .name("summer".to_string())
    ///             .spawn_scoped(s, || data.iter().sum::<i32>())
    ///             .unwrap();
    ///         h.join().unwrap()
    ///     });
    ///     assert_eq!(total, 6);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        scope.spawn_greenlet(self, f)
    }

    /// Spawns a `Send` closure in `scope`: a greenlet if the scope was made
    /// inside [`run`](crate::run()), an OS thread (named and sized by this
    /// builder, as [`std::thread::Builder`] would) otherwise; see
    /// [`Scope::spawn_send`].
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn) for a greenlet, as
    /// [`std::thread::Builder::spawn_scoped`] for a thread.
    ///
    /// # Panics
    ///
    /// If the scope was made inside `run` but this is another thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = green::scope(|s| {
    ///     let h = green::Builder::new()
    ///         .name("worker".to_string())
    ///         .spawn_scoped_send(s, || std::thread::current().name().map(String::from))
    ///         .unwrap();
    ///     h.join().unwrap()
    /// });
    /// assert_eq!(name.as_deref(), Some("worker"));
    /// ```
    #[track_caller]
    pub fn spawn_scoped_send<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedSendJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        if scope.spawns_threads() {
            let mut builder = std::thread::Builder::new();
            if let Some(name) = self.name {
                builder = builder.name(name);
            }
            if let Some(size) = self.stack_size {
                builder = builder.stack_size(size);
            }
            scope.spawn_thread(builder, f)
        } else {
            scope
                .spawn_greenlet(self, f)
                .map(ScopedSendJoinHandle::from_greenlet)
        }
    }

    fn build<F, T>(self, f: F, start_at: Option<Instant>) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        // SAFETY: `f` and `T` are 'static: nothing borrowed can dangle.
        unsafe { self.build_unchecked(f, start_at, |_| {}) }
    }

    /// Spawns a greenlet on the calling thread's hub, whatever `f` and `T`
    /// borrow. `report` sees how it ended, on its own stack, before its
    /// joiners can.
    ///
    /// # Safety
    ///
    /// The greenlet must finish (or, if the hub loop unwinds, be leaked with
    /// the hub: never run or dropped again) before anything `f`, `T` or
    /// `report` borrows goes out of scope.
    pub(crate) unsafe fn build_unchecked<'a, F, T>(
        self,
        f: F,
        start_at: Option<Instant>,
        report: impl FnOnce(&std::thread::Result<T>) + 'a,
    ) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'a,
        T: 'a,
    {
        hub::with(|hub| {
            let packet = Rc::new(RefCell::new(None));
            let theirs = packet.clone();
            let body = move || {
                let outcome = ended(f);
                report(&outcome);
                *theirs.borrow_mut() = Some(outcome);
            };
            let size = self.stack_size.unwrap_or_else(stack::default_size);
            // SAFETY: forwarded to our caller.
            let co = unsafe { Coroutine::new_unchecked(size, body)? };
            let core = hub.spawn_core(self.name, co, start_at);
            Ok(JoinHandle::new(core, packet))
        })
    }
}

/// Every greenlet's body runs through this: it announces the greenlet to
/// the hub (`Hub::arrive`), runs `f`, then drops its greenlet-local values
/// (on its own stack), and returns how that ended. A local's destructor that panics is a
/// panic of the greenlet, like one in `f`; if `f` panicked first (or was
/// killed), that payload wins and the later one is dropped.
pub(crate) fn ended<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    crate::hub::arrive();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let value = f();
        crate::local::clear_current();
        value
    }));
    if outcome.is_err() {
        // What `f`'s unwind (or the panicking destructor) left behind.
        if let Err(payload) = panic::catch_unwind(crate::local::clear_current) {
            drop_payload(payload);
        }
    }
    outcome
}

/// Drops a panic payload nobody will see; one whose destructor panics in
/// turn is leaked instead.
fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// Spawns a new greenlet, returning a [`JoinHandle`] for it, like
/// [`std::thread::spawn`] (but without the `Send` bound: a greenlet never
/// leaves its hub's thread, so it may capture `Rc`s and `RefCell`s).
///
/// The new greenlet goes to the back of the run queue; it first runs when the
/// caller next blocks, sleeps or yields.
///
/// # Panics
///
/// Panics outside [`run`](crate::run()), and when the stack cannot be mapped
/// (use [`Builder::spawn`] to handle that as an error).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// green::run(|| {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let l = log.clone();
///     let h = green::spawn(move || l.borrow_mut().push("child"));
///     log.borrow_mut().push("parent");
///     h.join().unwrap();
///     assert_eq!(*log.borrow(), ["parent", "child"]);
/// });
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new()
        .spawn(f)
        .unwrap_or_else(|e| panic!("failed to spawn greenlet: {e}"))
}

/// Spawns a greenlet that starts after `delay` (gevent's `spawn_later`).
///
/// # Panics
///
/// As [`spawn`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// green::run(|| {
///     let late = green::spawn_later(Duration::from_millis(5), || 2);
///     let soon = green::spawn(|| 1);
///     assert_eq!(soon.join().unwrap() + late.join().unwrap(), 3);
/// });
/// ```
#[track_caller]
pub fn spawn_later<F, T>(delay: Duration, f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new()
        .spawn_later(delay, f)
        .unwrap_or_else(|e| panic!("failed to spawn greenlet: {e}"))
}
