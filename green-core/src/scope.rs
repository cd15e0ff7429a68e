//! [`scope`]: greenlets that borrow from their spawner's stack, like
//! [`std::thread::scope`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use crate::greenlet::{Core, GreenletId};
use crate::hub;
use crate::join::{JoinError, JoinHandle};
use crate::kill::is_exit;
use crate::Builder;

/// Creates a scope for spawning greenlets that may borrow non-`'static`
/// data, like [`std::thread::scope`].
///
/// Every greenlet spawned in the scope has finished when `scope` returns:
/// those not joined by hand are joined automatically. If one of those
/// panicked, `scope` panics after they are all done.
///
/// If the greenlet running the scope is killed, the scope first kills its
/// greenlets and waits for them to unwind (they borrow from it), then goes
/// on unwinding.
///
/// # Panics
///
/// Panics outside [`run`](crate::run) (use [`std::thread::scope`] there),
/// if `f` panics (after all greenlets are done), or as said above.
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
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    hub::with(|_| ()); // outside `run`: the usual clear panic
    let scope = Scope {
        children: RefCell::new(Vec::new()),
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
            let panicked = scope.children.borrow().iter().any(|c| c.panicked.get());
            assert!(!panicked, "a scoped greenlet panicked");
            value
        }
    }
}

/// A scope to spawn scoped greenlets in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    children: RefCell<Vec<Child>>,
    /// Invariance over 'scope, so that it cannot be shrunk.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// A greenlet of the scope, and whether it panicked without anyone joining
/// it (to report).
struct Child {
    core: Rc<Core>,
    panicked: Rc<Cell<bool>>,
}

/// An owned permission to join on a scoped greenlet; see
/// [`Scope::spawn`].
pub struct ScopedJoinHandle<'scope, T> {
    handle: JoinHandle<T>,
    panicked: Rc<Cell<bool>>,
    scope: PhantomData<&'scope ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a greenlet in the scope. Unlike [`spawn`](crate::spawn), it
    /// may borrow anything that outlives the scope.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn).
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

    pub(crate) fn adopt<T>(
        &'scope self,
        handle: JoinHandle<T>,
        panicked: Rc<Cell<bool>>,
    ) -> ScopedJoinHandle<'scope, T> {
        self.children.borrow_mut().push(Child {
            core: handle.core().clone(),
            panicked: panicked.clone(),
        });
        ScopedJoinHandle {
            handle,
            panicked,
            scope: PhantomData,
        }
    }

    /// Waits until every child has finished, killing them all if `kill` or
    /// if the waiting greenlet is killed meanwhile (it keeps waiting then,
    /// and returns the kill to go on with).
    fn finish_all(&self, mut kill: bool) -> Option<Box<dyn std::any::Any + Send>> {
        let mut exit = None;
        loop {
            let next = self
                .children
                .borrow()
                .iter()
                .find(|c| !c.core.is_finished())
                .map(|c| c.core.clone());
            let Some(core) = next else {
                return exit;
            };
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
                // Only a kill can interrupt a wait; keep the first.
                kill = true;
                exit.get_or_insert(payload);
            }
        }
    }
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
        self.panicked.set(false);
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
    pub fn greenlet(&self) -> &crate::Greenlet {
        self.handle.greenlet()
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("greenlets", &self.children.borrow().len())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ScopedJoinHandle")
            .field(self.handle.greenlet())
            .finish()
    }
}
