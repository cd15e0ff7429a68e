//! [`scope`]: greenlets (or, outside [`run`](crate::run()), OS threads) that
//! borrow from their spawner's stack, like [`std::thread::scope`].
//!
//! # Two modes
//!
//! [`scope`] looks at the calling thread once, when it makes the [`Scope`]:
//!
//! - **Greenlets**, when made inside `run`: every child is a greenlet of the
//!   owner's hub. [`Scope::spawn`] takes any closure, [`Scope::spawn_send`]
//!   a `Send` one; both must be called on that hub's thread.
//! - **Threads**, when made outside `run`: every child is an OS thread,
//!   spawned by [`Scope::spawn_send`] from any thread, with
//!   [`std::thread::scope`]'s semantics. [`Scope::spawn`], whose closure need
//!   not be `Send`, panics.
//!
//! green-std's `thread::scope` is this function: std's scoped threads
//! outside `run`, scoped greenlets inside it.
//!
//! # Why borrowing is sound
//!
//! A child's closure and result may borrow anything that outlives `'scope`;
//! spawning erases that lifetime (the two `unsafe` blocks of this file). It
//! rests on one promise that [`scope`] keeps: **every child has finished (a
//! greenlet) or been joined (a thread) before `scope` returns or unwinds past
//! the borrows**, whatever `f` does.
//!
//! 1. A child is registered in `Scope::children` before its spawn returns:
//!    the lock is held across the spawn, with room reserved before it, so
//!    nothing can unwind between spawning and registering.
//! 2. `scope` catches `f`'s panic, then `finish_all` waits for the
//!    registered children until none is left, including those spawned
//!    meanwhile. Only code running for `f` or for a child can spawn:
//!    `'scope` is higher-ranked and `Scope` is invariant in it, so nothing
//!    that outlives them can keep the `&'scope Scope`.
//! 3. `finish_all` does not unwind before it is done. A kill (or a
//!    [`Timeout`](crate::Timeout)) interrupting its wait is caught: the
//!    remaining greenlets are killed and still waited for, and the kill (or
//!    timeout) goes on afterwards. The lock ignores poison, and a failed thread join is
//!    recorded, not raised. Greenlets still alive when `run` ends are
//!    unwound newest first, so children before their owners; an owner whose
//!    wait is abandoned there (its frames never unwound) keeps its stack
//!    mapped for good.
//! 4. A greenlet is waited for by the hub that runs it: in the greenlets
//!    mode, a spawn from any other thread panics before spawning.
//! 5. The owner of a threads-mode scope is outside `run`, on its thread's own
//!    stack, which is never freed without unwinding. A greenlets-mode scope
//!    never has OS children: should the hub loop itself unwind, `run` leaks
//!    the hub with every greenlet (none runs or is dropped again, their
//!    stacks stay mapped), but a thread would still be running.

use std::any::Any;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use crate::greenlet::{Core, Greenlet};
use crate::hub;
use crate::kill::is_exit;
use crate::Builder;

mod handle;

use handle::{Packet, SendInner};
pub use handle::{ScopedJoinHandle, ScopedSendJoinHandle};

/// Creates a scope for spawning greenlets (or OS threads) that may borrow
/// non-`'static` data, like [`std::thread::scope`].
///
/// Inside [`run`](crate::run()), the scope's children are greenlets of the
/// calling hub; outside it, they are OS threads, spawned with
/// [`Scope::spawn_send`], and `scope` behaves exactly like
/// [`std::thread::scope`].
///
/// Every child has finished when `scope` returns: those not joined by hand
/// are joined automatically. If one of those panicked, `scope` panics after
/// they are all done.
///
/// If the greenlet running the scope is killed, the scope first kills its
/// greenlets and waits for them to unwind (they borrow from it), then goes
/// on unwinding.
///
/// # Panics
///
/// If `f` panics (after all children are done), or if a child that was not
/// joined panicked: with `"a scoped greenlet panicked"`, or std's `"a scoped
/// thread panicked"` outside `run`.
///
/// # Examples
///
/// ```
/// green::run(|| {
///     let mut a = vec![1, 2, 3];
///     let mut x = 0;
///     green::scope(|s| {
///         s.spawn(|| {
///             println!("hello from the first scoped greenlet");
///             dbg!(&a); // borrow `a`
///         });
///         s.spawn(|| {
///             println!("hello from the second scoped greenlet");
///             x += a[0] + a[2]; // borrow `x` mutably, and `a`
///         });
///         println!("hello from the main greenlet");
///     });
///     // After the scope, we can modify and access our variables again:
///     a.push(4);
///     assert_eq!(x, a.len());
/// });
/// ```
///
/// Outside `run`, the same borrows work with OS threads:
///
/// ```
/// let data = [1, 2, 3, 4];
/// let (left, right) = data.split_at(2);
/// let total = green::scope(|s| {
///     let l = s.spawn_send(|| left.iter().sum::<i32>());
///     let r = s.spawn_send(|| right.iter().sum::<i32>());
///     assert!(l.thread().is_some()); // an OS thread
///     l.join().unwrap() + r.join().unwrap()
/// });
/// assert_eq!(total, 10);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let (mode, owner) = match hub::current_id() {
        Some(hub) => (Mode::Greenlets { hub }, Owner::Greenlet(crate::current())),
        None => (Mode::Threads, Owner::Thread(thread::current())),
    };
    let scope = Scope {
        mode,
        owner,
        children: Mutex::new(Vec::new()),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let killed = matches!(&result, Err(payload) if is_exit(&**payload));
    let exit = scope.finish_all(killed);
    match (exit, result) {
        (Some(exit), _) => panic::resume_unwind(exit),
        (None, Err(payload)) => panic::resume_unwind(payload),
        (None, Ok(value)) => {
            let panicked = scope
                .children()
                .iter()
                .any(|c| c.panicked.load(Ordering::Relaxed));
            if panicked {
                match scope.mode {
                    Mode::Greenlets { .. } => panic!("a scoped greenlet panicked"),
                    Mode::Threads => panic!("a scoped thread panicked"),
                }
            }
            value
        }
    }
}

/// A scope to spawn scoped greenlets (or OS threads) in; see [`scope`].
///
/// It is `Sync`: children may capture the `&Scope` to spawn more children
/// (from an OS thread, with [`spawn_send`](Scope::spawn_send)).
pub struct Scope<'scope, 'env: 'scope> {
    /// # Invariant
    /// `Greenlets { hub }`: the owner is a greenlet of hub `hub`, and so is
    /// every child (spawns from another thread panic). `Threads`: the owner
    /// is outside `run`, on its thread's own stack, and every child is an OS
    /// thread.
    mode: Mode,
    /// Who made the scope, for `Debug` (std's `main_thread`).
    owner: Owner,
    /// # Invariant
    /// Every child is in here before its spawn returns, and [`scope`] waits
    /// until each has finished or been joined before it returns or unwinds
    /// (see the module docs).
    children: Mutex<Vec<Child>>,
    /// Invariance over 'scope, so that it cannot be shrunk.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Made inside `run`, on the hub with this identity.
    Greenlets { hub: u64 },
    /// Made outside `run`.
    Threads,
}

/// The greenlet or the thread that made a scope.
enum Owner {
    Greenlet(Greenlet),
    Thread(thread::Thread),
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Greenlet(g) => fmt::Debug::fmt(g, f),
            Owner::Thread(t) => fmt::Debug::fmt(t, f),
        }
    }
}

/// A child of the scope.
struct Child {
    kind: ChildKind,
    /// Set when it panicked, cleared when its handle joins it: a panic that
    /// `scope` must report. `Relaxed` suffices: each write happens before
    /// `scope` reads it, through the hub's single thread, the packet's lock
    /// or the thread's join.
    panicked: Arc<AtomicBool>,
}

enum ChildKind {
    /// Waited for through the hub's record of it.
    Greenlet(Greenlet),
    /// `None` once the scope has joined it (only the scope joins it).
    Thread(Option<thread::JoinHandle<()>>),
}

/// What `finish_all` waits for next.
enum Next {
    Greenlet(Rc<Core>),
    Thread(thread::JoinHandle<()>, Arc<AtomicBool>),
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a greenlet in the scope. Unlike [`spawn`](crate::spawn), it
    /// may borrow anything that outlives the scope.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn), and if the scope was made outside
    /// [`run`](crate::run()) (use [`spawn_send`](Self::spawn_send) there) or
    /// on another thread.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let words = ["a", "bb", "ccc"];
    ///     let lengths = green::scope(|s| {
    ///         let handles: Vec<_> = words.iter().map(|w| s.spawn(move || w.len())).collect();
    ///         handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    ///     });
    ///     assert_eq!(lengths, [1, 2, 3]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .unwrap_or_else(|e| panic!("failed to spawn greenlet: {e}"))
    }

    /// Spawns a `Send` closure in the scope: as a greenlet if the scope was
    /// made inside [`run`](crate::run()), as an OS thread otherwise. This is
    /// `std::thread::Scope::spawn` for code that must work both ways
    /// (green-std's scoped threads are made with it).
    ///
    /// In the threads mode it may be called from any thread, children
    /// included; in the greenlets mode, from the scope's hub only.
    ///
    /// # Panics
    ///
    /// If the greenlet or the thread cannot be spawned (use
    /// [`Builder::spawn_scoped_send`] to handle that as an error), and if the
    /// scope was made inside `run` but this is another thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// fn count_to(n: usize) -> usize {
    ///     let count = AtomicUsize::new(0);
    ///     green::scope(|s| {
    ///         for _ in 0..n {
    ///             s.spawn_send(|| count.fetch_add(1, Ordering::Relaxed));
    ///         }
    ///     });
    ///     count.into_inner()
    /// }
    ///
    /// assert_eq!(count_to(4), 4); // OS threads
    /// assert_eq!(green::run(|| count_to(4)), 4); // greenlets
    /// ```
    #[track_caller]
    pub fn spawn_send<F, T>(&'scope self, f: F) -> ScopedSendJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped_send(self, f)
            .unwrap_or_else(|e| match self.mode {
                Mode::Greenlets { .. } => panic!("failed to spawn greenlet: {e}"),
                Mode::Threads => panic!("failed to spawn thread: {e}"),
            })
    }

    /// Whether the children are OS threads (the scope was made outside
    /// `run`).
    pub(crate) fn spawns_threads(&self) -> bool {
        self.mode == Mode::Threads
    }

    /// Spawns `f` as a greenlet of the scope, configured by `builder`.
    #[track_caller]
    pub(crate) fn spawn_greenlet<F, T>(
        &'scope self,
        builder: Builder,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        match self.mode {
            Mode::Threads => panic!(
                "green::Scope::spawn: this scope was made outside green::run, so its children are \
                 OS threads, and a closure that is not `Send` cannot go to one; use \
                 Scope::spawn_send, or make the scope inside green::run"
            ),
            Mode::Greenlets { hub: owner } => assert!(
                hub::current_id() == Some(owner),
                "green: a scope made inside green::run spawns greenlets of its own hub, so only \
                 from that hub's thread; this spawn comes from another thread"
            ),
        }
        let panicked = Arc::new(AtomicBool::new(false));
        let flag = panicked.clone();
        // Sees the panics of its greenlet-local destructors too.
        let report = move |outcome: &thread::Result<T>| {
            if matches!(outcome, Err(payload) if !is_exit(&**payload)) {
                flag.store(true, Ordering::Relaxed);
            }
        };
        let mut children = self.children();
        children.reserve(1);
        // SAFETY: `build_unchecked` needs the greenlet to finish before
        // anything `f`, `T` or `report` borrows ('scope) goes away. The check
        // above makes it a greenlet of the hub that runs the owner; it is
        // registered below before the lock is released (room is reserved,
        // so the push cannot unwind); and `scope` waits until every
        // registered greenlet has finished (killing them first if the owner
        // is killed) before it returns or unwinds, and 'scope ends after
        // that (module docs, points 1-4). If the hub loop unwinds, `run`
        // leaks the hub: no greenlet of this thread runs or is dropped again.
        let handle = unsafe { builder.build_unchecked(f, None, report)? };
        children.push(Child {
            kind: ChildKind::Greenlet(handle.greenlet().clone()),
            panicked: panicked.clone(),
        });
        Ok(ScopedJoinHandle {
            handle,
            panicked,
            scope: PhantomData,
        })
    }

    /// Spawns `f` on an OS thread of the scope, configured by `builder`.
    pub(crate) fn spawn_thread<F, T>(
        &'scope self,
        builder: thread::Builder,
        f: F,
    ) -> io::Result<ScopedSendJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        debug_assert_eq!(self.mode, Mode::Threads);
        let packet = Arc::new(Packet::new());
        let panicked = Arc::new(AtomicBool::new(false));
        let (theirs, flag) = (packet.clone(), panicked.clone());
        let body = move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(f));
            if outcome.is_err() {
                flag.store(true, Ordering::Relaxed);
            }
            theirs.put(outcome);
        };
        let mut children = self.children();
        children.reserve(1);
        // SAFETY: `spawn_unchecked` needs the thread not to outlive anything
        // `body` borrows (`f` and `T`, for 'scope). The handle is registered
        // below before the lock is released (room is reserved, so the push
        // cannot unwind), and `scope` joins every registered thread, in a
        // `finish_all` that cannot unwind in this mode, before it returns or
        // resumes `f`'s panic; 'scope ends after that. The owner of a
        // threads-mode scope is outside `run`, on its own thread's stack,
        // which is never freed without unwinding (module docs, points 1-3
        // and 5).
        let handle = unsafe { builder.spawn_unchecked(body)? };
        let thread = handle.thread().clone();
        children.push(Child {
            kind: ChildKind::Thread(Some(handle)),
            panicked: panicked.clone(),
        });
        Ok(ScopedSendJoinHandle {
            inner: SendInner::Thread {
                thread,
                packet,
                panicked,
                scope: PhantomData,
            },
        })
    }

    /// The children, whatever a panic elsewhere did to the lock: waiting for
    /// them must never fail.
    fn children(&self) -> MutexGuard<'_, Vec<Child>> {
        self.children.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until every child has finished or been joined, including those
    /// spawned meanwhile. Greenlets are killed if `kill`, or if the waiting
    /// greenlet is killed meanwhile (it keeps waiting then, and returns the
    /// kill to go on with). Never unwinds.
    fn finish_all(&self, mut kill: bool) -> Option<Box<dyn Any + Send>> {
        let mut exit = None;
        // Children before `done` have finished or been joined.
        let mut done = 0;
        loop {
            let next = {
                let mut children = self.children();
                loop {
                    let Some(child) = children.get_mut(done) else {
                        break None;
                    };
                    match &mut child.kind {
                        ChildKind::Thread(handle) => {
                            done += 1;
                            if let Some(handle) = handle.take() {
                                break Some(Next::Thread(handle, child.panicked.clone()));
                            }
                        }
                        // Only in the greenlets mode: the hub is this thread's.
                        ChildKind::Greenlet(g) => match hub::with(|hub| hub.core_of(g)) {
                            Some(core) => break Some(Next::Greenlet(core)),
                            None => done += 1,
                        },
                    }
                }
            };
            match next {
                None => return exit,
                Some(Next::Thread(handle, panicked)) => {
                    // Its body catches its own panics, so an `Err` is a panic
                    // in dropping its unjoined result there. Report it, and
                    // forget the payload: a destructor of it that panicked
                    // would unwind out of here (std aborts in that case).
                    if let Err(payload) = handle.join() {
                        panicked.store(true, Ordering::Relaxed);
                        std::mem::forget(payload);
                    }
                }
                Some(Next::Greenlet(core)) => {
                    let waited = panic::catch_unwind(AssertUnwindSafe(|| {
                        hub::with(|hub| {
                            if kill {
                                hub.kill(&core);
                            } else {
                                hub.wait_finished(&core, "scope");
                            }
                        });
                    }));
                    if let Err(payload) = waited {
                        // A kill or a timeout interrupted the wait; keep the
                        // first, kill the rest and still wait for them.
                        // generator's cancel (`run`'s shutdown unwinding a
                        // leftover) is caught too: the shutdown unwinds
                        // scoped greenlets before their owners, so none is
                        // left to wait for then; were one left, parking here
                        // abandons the owner's frames, and its stack is
                        // leaked instead of freed (`Coroutine::force_unwind`),
                        // where letting the cancel through would unwind them
                        // under the child's borrows.
                        kill = true;
                        if exit.is_none() {
                            exit = Some(payload);
                        }
                    }
                }
            }
        }
    }
}

/// std's fields: the children still running, whether one panicked with
/// nobody joining it (`scope` will report it), and who made the scope (a
/// greenlet inside `run`).
impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (running, panicked) = {
            let children = self.children();
            let running = children.iter().filter(|c| c.is_running()).count();
            let panicked = children.iter().any(|c| c.panicked.load(Ordering::Relaxed));
            (running, panicked)
        };
        f.debug_struct("Scope")
            .field("num_running_threads", &running)
            .field("a_thread_panicked", &panicked)
            .field("main_thread", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Child {
    /// Whether it has not finished yet (a greenlet that another thread
    /// than its hub's asks about counts as running).
    fn is_running(&self) -> bool {
        match &self.kind {
            ChildKind::Thread(handle) => handle.as_ref().is_some_and(|h| !h.is_finished()),
            ChildKind::Greenlet(g) => hub::try_with(|hub| hub.core_of(g))
                .is_none_or(|core| core.is_some_and(|c| !c.is_finished())),
        }
    }
}
