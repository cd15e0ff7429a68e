//! [`spawn`], [`Builder`] and [`JoinHandle`]: a greenlet inside
//! [`green::run`], an OS thread outside.

use std::any::Any;
use std::fmt;
use std::io;
use std::sync::Arc;

use green::event::Event;

use super::current::Thread;

/// Spawns a new thread, returning a [`JoinHandle`] for it, like
/// [`std::thread::spawn`]: inside [`green::run`] the "thread" is a greenlet
/// on the calling hub; outside, an OS thread.
///
/// # Panics
///
/// As std's: if the thread (greenlet) cannot be created; use
/// [`Builder::spawn`] to handle that as an error.
///
/// # Examples
///
/// ```
/// use green_std::thread;
///
/// green::run(|| {
///     let handle = thread::spawn(|| "hello from a greenlet");
///     assert_eq!(handle.join().unwrap(), "hello from a greenlet");
/// });
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(f)
        .unwrap_or_else(|e| panic!("failed to spawn thread: {e}"))
}

/// Thread factory, like [`std::thread::Builder`]: configures the name and
/// stack size of a thread (a greenlet inside [`green::run`]).
///
/// # Examples
///
/// ```
/// use green_std::thread;
///
/// let handler = thread::Builder::new()
///     .name("named thread".into())
///     .spawn(|| thread::current().name().map(String::from))
///     .unwrap();
/// assert_eq!(handler.join().unwrap().as_deref(), Some("named thread"));
/// ```
#[derive(Default)]
#[must_use = "must eventually spawn the thread"]
pub struct Builder {
    pub(crate) name: Option<String>,
    pub(crate) stack_size: Option<usize>,
}

impl Builder {
    /// Generates the base configuration for spawning a thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = green_std::thread::Builder::new().name("foo".into()).stack_size(32 * 1024);
    /// builder.spawn(|| {}).unwrap().join().unwrap();
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread-to-be.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = green_std::thread::Builder::new().name("x".into()).spawn(|| ()).unwrap();
    /// assert_eq!(h.thread().name(), Some("x"));
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the size of the stack (in bytes) for the new thread or greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = green_std::thread::Builder::new().stack_size(64 * 1024).spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Spawns a new thread (a greenlet inside [`green::run`]) by taking
    /// ownership of the `Builder`.
    ///
    /// # Errors
    ///
    /// As std's: the OS error when the thread, or the greenlet's stack,
    /// cannot be created.
    ///
    /// # Panics
    ///
    /// As std's: if a name was set and it contains a NUL byte.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let h = green_std::thread::Builder::new().spawn(|| 6 * 7).unwrap();
    ///     assert_eq!(h.join().unwrap(), 42);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if green::is_running() {
            let handle = self.into_green().spawn(f)?;
            let thread = Thread::green(handle.greenlet().clone());
            Ok(JoinHandle {
                inner: Inner::Green(handle),
                thread,
            })
        } else {
            let mut b = std::thread::Builder::new();
            if let Some(name) = self.name {
                b = b.name(name);
            }
            if let Some(size) = self.stack_size {
                b = b.stack_size(size);
            }
            let ended = Arc::new(Event::new());
            let on_end = SetOnDrop(ended.clone());
            let handle = b.spawn(move || {
                // Dropped once `f` has returned its value, or as it unwinds.
                let _on_end = on_end;
                f()
            })?;
            let thread = Thread::os(handle.thread().clone());
            Ok(JoinHandle {
                inner: Inner::Os(handle, ended, join_os::<T>),
                thread,
            })
        }
    }
}

impl Builder {
    /// The greenlet builder of this configuration.
    ///
    /// # Panics
    ///
    /// With std's message if the name contains a NUL byte: std's threads
    /// cannot carry one, so neither do ours, inside `run` or out.
    #[track_caller]
    pub(crate) fn into_green(self) -> green::Builder {
        let mut b = green::Builder::new();
        if let Some(name) = self.name {
            if name.contains('\0') {
                // std's panic, word for word (it names the `NulError`).
                let _ = std::ffi::CString::new(name)
                    .expect("thread name may not contain interior null bytes");
                unreachable!("a name with a NUL byte");
            }
            b = b.name(name);
        }
        if let Some(size) = self.stack_size {
            b = b.stack_size(size);
        }
        b
    }
}

/// An owned permission to join on a thread (a greenlet inside
/// [`green::run`]), like [`std::thread::JoinHandle`].
///
/// Unlike std's, a handle to a greenlet is bound to its hub's thread: it is
/// not `Send`.
///
/// # Examples
///
/// ```
/// green::run(|| {
///     let h = green_std::thread::spawn(|| 1);
///     assert_eq!(h.join().unwrap(), 1);
/// });
/// ```
pub struct JoinHandle<T> {
    inner: Inner<T>,
    thread: Thread,
}

enum Inner<T> {
    Green(green::JoinHandle<T>),
    /// With the event the thread sets as its closure ends, and [`join_os`]
    /// for its `T`, which is `Send` (`join` cannot say so).
    Os(
        std::thread::JoinHandle<T>,
        Arc<Event>,
        fn(std::thread::JoinHandle<T>, &Event) -> std::thread::Result<T>,
    ),
}

/// Sets its event when dropped: at the end of an OS thread's closure, by
/// return or by unwind.
struct SetOnDrop(Arc<Event>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Joins an OS thread whose closure sets `ended` as it ends. Inside `run`
/// the greenlet parks on `ended`, holding no thread of green's blocking
/// pool while the thread runs (one that did could starve the thread
/// itself of the pool, and deadlock). What is left then is std's own end
/// of the thread: it stores the value, runs the thread's thread-local
/// destructors and exits; only that short wait is a pool job
/// ([`green::unblock`]), as a destructor may still block.
fn join_os<T: Send + 'static>(
    h: std::thread::JoinHandle<T>,
    ended: &Event,
) -> std::thread::Result<T> {
    if !green::is_running() {
        return h.join();
    }
    ended.wait();
    green::unblock(move || h.join())
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish, like std's: `Err` carries the panic
    /// payload. A greenlet that was killed ([`green::JoinHandle::kill`])
    /// gives an `Err` whose payload is the [`green::JoinError`]. Inside
    /// [`green::run`], joining an OS thread (spawned before `run`) parks
    /// the greenlet too, until the thread has ended and run its
    /// thread-local destructors, as std's; the thread's closure wakes it,
    /// so no thread of green's blocking pool waits for it meanwhile.
    ///
    /// # Errors
    ///
    /// The panic payload, as said.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let h = green_std::thread::spawn(|| panic!("oops"));
    ///     let payload = h.join().unwrap_err();
    ///     assert_eq!(payload.downcast_ref::<&str>(), Some(&"oops"));
    /// });
    /// ```
    pub fn join(self) -> std::thread::Result<T> {
        match self.inner {
            Inner::Green(h) => h.join().map_err(|e| -> Box<dyn Any + Send> {
                match e.try_into_panic() {
                    Ok(payload) => payload,
                    Err(killed) => Box::new(killed),
                }
            }),
            Inner::Os(h, ended, join) => join(h, &ended),
        }
    }

    /// Extracts a handle to the underlying thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = green_std::thread::spawn(|| ());
    /// let id = h.thread().id();
    /// h.join().unwrap();
    /// # let _ = id;
    /// ```
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Checks if the associated thread has finished running its main
    /// function.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let h = green_std::thread::spawn(|| ());
    ///     green_std::thread::yield_now();
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            Inner::Green(h) => h.is_finished(),
            Inner::Os(h, ..) => h.is_finished(),
        }
    }
}

/// As std's: `JoinHandle { .. }`.
impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
}

/// As std's, which prints a field of its own (`no_hooks`) too: a std
/// builder with the same settings prints it.
impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut std = std::thread::Builder::new();
        if let Some(name) = &self.name {
            std = std.name(name.clone());
        }
        if let Some(size) = self.stack_size {
            std = std.stack_size(size);
        }
        fmt::Debug::fmt(&std, f)
    }
}
