//! [`Thread`], [`ThreadId`], [`current`], [`park`]: a greenlet or an OS
//! thread behind std's names.

use std::fmt;
use std::time::Duration;

/// A handle to a thread, like [`std::thread::Thread`]: a greenlet inside
/// [`green::run`], an OS thread outside.
///
/// # Examples
///
/// ```
/// green::run(|| {
///     let t = green_std::thread::Builder::new()
///         .name("worker".into())
///         .spawn(|| green_std::thread::current().name().map(String::from))
///         .unwrap();
///     assert_eq!(t.thread().name(), Some("worker"));
///     assert_eq!(t.join().unwrap().as_deref(), Some("worker"));
/// });
/// ```
#[derive(Clone)]
pub struct Thread(Inner);

#[derive(Clone)]
enum Inner {
    Green(green::Greenlet),
    Os(std::thread::Thread),
}

/// A unique identifier for a running thread or greenlet, like
/// [`std::thread::ThreadId`].
///
/// Its `Debug` output is std's for an OS thread (`ThreadId(1)`), and names
/// the hub and the number of a greenlet
/// (`ThreadId(GreenletId { hub: 1, seq: 0 })`): distinct ids never print
/// the same.
///
/// # Examples
///
/// ```
/// use green_std::thread;
///
/// green::run(|| {
///     let other = thread::spawn(|| thread::current().id());
///     assert_ne!(other.join().unwrap(), thread::current().id());
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ThreadId(IdInner);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum IdInner {
    Green(green::GreenletId),
    Os(std::thread::ThreadId),
}

impl Thread {
    pub(crate) fn green(g: green::Greenlet) -> Thread {
        Thread(Inner::Green(g))
    }

    pub(crate) fn os(t: std::thread::Thread) -> Thread {
        Thread(Inner::Os(t))
    }

    /// Gets the thread's unique identifier.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = green_std::thread::current();
    /// assert_eq!(t.id(), green_std::thread::current().id());
    /// ```
    pub fn id(&self) -> ThreadId {
        match &self.0 {
            Inner::Green(g) => ThreadId(IdInner::Green(g.id())),
            Inner::Os(t) => ThreadId(IdInner::Os(t.id())),
        }
    }

    /// Gets the thread's name. The main greenlet of a hub is named like the
    /// thread that runs the hub (`"main"` for the main thread), as std's
    /// main thread is.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let h = green_std::thread::spawn(|| ());
    ///     assert_eq!(h.thread().name(), None);
    /// });
    /// ```
    pub fn name(&self) -> Option<&str> {
        match &self.0 {
            Inner::Green(g) => g.name(),
            Inner::Os(t) => t.name(),
        }
    }

    /// Atomically makes the handle's token available if it is not already,
    /// waking the thread (greenlet) if it is parked. Works from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::thread;
    ///
    /// green::run(|| {
    ///     let parked = thread::spawn(|| thread::park());
    ///     thread::yield_now(); // it parks
    ///     parked.thread().unpark();
    ///     parked.join().unwrap();
    /// });
    /// ```
    pub fn unpark(&self) {
        match &self.0 {
            Inner::Green(g) => g.unpark(),
            Inner::Os(t) => t.unpark(),
        }
    }
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            IdInner::Os(id) => fmt::Debug::fmt(id, f),
            IdInner::Green(id) => f.debug_tuple("ThreadId").field(id).finish(),
        }
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id())
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// Gets a handle to the thread that invokes it: the running greenlet inside
/// [`green::run`], the OS thread outside.
///
/// # Examples
///
/// ```
/// let outside = green_std::thread::current();
/// let inside = green::run(green_std::thread::current);
/// assert_ne!(outside.id(), inside.id());
/// ```
pub fn current() -> Thread {
    if green::is_running() {
        Thread::green(green::current())
    } else {
        Thread::os(std::thread::current())
    }
}

/// Blocks unless or until the current thread's token is made available,
/// like [`std::thread::park`]; a greenlet parks and lets the others run.
///
/// # Examples
///
/// ```
/// use green_std::thread;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let flag = Arc::new(AtomicBool::new(false));
/// let f = flag.clone();
/// let t = thread::spawn(move || {
///     while !f.load(Ordering::Acquire) {
///         thread::park();
///     }
/// });
/// flag.store(true, Ordering::Release);
/// t.thread().unpark();
/// t.join().unwrap();
/// ```
pub fn park() {
    if green::is_running() {
        green::park();
    } else {
        std::thread::park();
    }
}

/// Like [`park`], but returns after `dur` at the latest.
///
/// # Examples
///
/// ```
/// green_std::thread::park_timeout(std::time::Duration::from_millis(1));
/// ```
pub fn park_timeout(dur: Duration) {
    if green::is_running() {
        green::park_timeout(dur);
    } else {
        std::thread::park_timeout(dur);
    }
}

/// Like [`park`], but returns after `ms` milliseconds at the latest, as
/// std's deprecated [`std::thread::park_timeout_ms`]; a greenlet parks and
/// lets the others run.
///
/// # Examples
///
/// ```
/// #[allow(deprecated)]
/// green_std::thread::park_timeout_ms(1);
/// ```
#[deprecated(
    since = "1.6.0",
    note = "replaced by `green_std::thread::park_timeout`"
)]
pub fn park_timeout_ms(ms: u32) {
    park_timeout(Duration::from_millis(u64::from(ms)));
}
