//! [`JoinHandle`], [`JoinError`] and [`joinall`]: waiting for greenlets.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::greenlet::{Core, Greenlet, GreenletId};
use crate::hub;
use crate::kill::is_exit;

/// What the body left behind: `None` if it never ran.
type Packet<T> = Rc<RefCell<Option<std::thread::Result<T>>>>;

/// An owned permission to join on a greenlet (wait for it to finish) or to
/// kill it, like [`std::thread::JoinHandle`].
///
/// Dropping the handle detaches the greenlet: it keeps running.
///
/// A `JoinHandle` is bound to its hub's thread; it is neither `Send` nor
/// `Sync`:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// green::run(|| assert_send(green::spawn(|| ())));
/// ```
pub struct JoinHandle<T> {
    core: Rc<Core>,
    packet: Packet<T>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(core: Rc<Core>, packet: Packet<T>) -> Self {
        JoinHandle { core, packet }
    }

    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// Whether it is the greenlet running this code (false outside `run`).
    pub(crate) fn is_current(&self) -> bool {
        hub::try_with(|hub| hub.current_core_opt())
            .flatten()
            .is_some_and(|me| Rc::ptr_eq(&me, &self.core))
    }

    /// A handle that can wait for and kill the greenlet, without its result.
    pub(crate) fn watcher(&self) -> JoinHandle<()> {
        JoinHandle {
            core: self.core.clone(),
            packet: Rc::new(RefCell::new(None)),
        }
    }

    /// Waits for the greenlet to finish and returns its result.
    ///
    /// The calling greenlet is parked meanwhile; other greenlets run.
    ///
    /// To bound the wait, use [`wait_timeout`](Self::wait_timeout), which
    /// keeps the handle (gevent's `g.join(timeout)`), then `join` once it
    /// returns true: a [`green::timeout`](crate::timeout()) around `join`
    /// drops the handle when it fires, detaching the greenlet.
    ///
    /// # Errors
    ///
    /// A [`JoinError`] if the greenlet panicked (with its payload) or was
    /// killed.
    ///
    /// # Panics
    ///
    /// Panics if a greenlet joins itself, and outside [`run`](crate::run()) if
    /// the greenlet has not finished.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let ok = green::spawn(|| 1 + 1);
    ///     let bad = green::spawn(|| -> u8 { panic!("boom") });
    ///     assert_eq!(ok.join().unwrap(), 2);
    ///     let err = bad.join().unwrap_err();
    ///     assert!(err.is_panic());
    ///     assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
    /// });
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
        let JoinHandle { core, packet } = self;
        if !core.is_finished() {
            hub::with(|hub| hub.wait_finished(&core, "join"));
        }
        let id = core.id();
        // Outside `run` (a greenlet that finished before its hub went away)
        // there is no hub to keep it.
        let _ = hub::try_with(|hub| hub.recycle_core(core));
        let outcome = packet.borrow_mut().take(); // the borrow ends before `packet`
        match outcome {
            Some(Ok(value)) => Ok(value),
            Some(Err(payload)) if is_exit(&*payload) => Err(JoinError::killed(id)),
            Some(Err(payload)) => Err(JoinError {
                id,
                repr: Repr::Panicked(payload),
            }),
            None => Err(JoinError::killed(id)),
        }
    }

    /// Waits at most `timeout` for the greenlet to finish; returns whether
    /// it has (then [`join`](Self::join) returns at once). The handle is
    /// kept either way, as gevent's `g.join(timeout)` keeps `g`: the
    /// greenlet is still there to join, kill or wait for again.
    ///
    /// A finished greenlet returns true at once. Otherwise even a zero
    /// `timeout` lets the other ready greenlets run once before it answers,
    /// as [`park_timeout`](crate::park_timeout) does, so a loop of short
    /// waits cannot starve the greenlet it waits for. A `timeout` too large
    /// for an [`Instant`] waits as long as it takes.
    ///
    /// # Panics
    ///
    /// Panics if a greenlet waits for itself, as [`join`](Self::join) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let worker = green::spawn(|| {
    ///         green::sleep(Duration::from_millis(50));
    ///         "done"
    ///     });
    ///     // Not done within 1 ms: the handle is still ours.
    ///     assert!(!worker.wait_timeout(Duration::from_millis(1)));
    ///     assert!(!worker.is_finished());
    ///     // Done within a minute: join returns at once.
    ///     assert!(worker.wait_timeout(Duration::from_secs(60)));
    ///     assert_eq!(worker.join().unwrap(), "done");
    /// });
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        if self.core.is_finished() {
            return true;
        }
        let deadline = Instant::now().checked_add(timeout);
        hub::with(|hub| hub.wait_finished_until(&self.core, deadline, "JoinHandle::wait_timeout"))
    }

    /// Whether the greenlet has finished (returned, panicked or been
    /// killed). Does not block.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let h = green::spawn(|| ());
    ///     assert!(!h.is_finished());
    ///     green::yield_now();
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.core.is_finished()
    }

    /// Kills the greenlet and waits until it has died, like gevent's
    /// `Greenlet.kill(block=True)`.
    ///
    /// The greenlet unwinds from the point where it is suspended (a sleep, a
    /// channel, a socket, a join…), so its destructors run and what it holds
    /// (sockets, locks, guards) is released; [`join`](Self::join) then
    /// returns an error for which [`JoinError::is_killed`] is true.
    ///
    /// - A greenlet that has not started yet never runs: its closure is
    ///   dropped, here, by the caller. It counts as finished once every
    ///   capture is dropped (a destructor may switch meanwhile).
    /// - Killing a finished greenlet does nothing (its result stays).
    /// - A greenlet that was already woken with a value (say, a channel
    ///   message) keeps it: it unwinds at its next switch point instead.
    /// - A greenlet killing itself unwinds at once.
    /// - A greenlet that is unwinding already (a destructor that waits,
    ///   during a panic or an earlier kill) is not unwound a second time,
    ///   which would abort the process: its wait returns early and it goes
    ///   on unwinding; `kill` still returns only once it has died.
    /// - The unwind is a Rust panic's: a destructor that panics on the way
    ///   aborts the process ("panic in a destructor during cleanup"), as
    ///   it does during any panic. (tokio's `abort` drops a task's future
    ///   instead, and reports such a panic through its `JoinError`.) The
    ///   same holds for a [`timeout`](crate::timeout()) firing and for the
    ///   kills at the end of [`run`](crate::run()).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let sleeper = green::spawn(|| green::sleep(Duration::from_secs(3600)));
    ///     green::yield_now(); // let it start sleeping
    ///     sleeper.kill();
    ///     assert!(sleeper.join().unwrap_err().is_killed());
    /// });
    /// ```
    pub fn kill(&self) {
        if !self.core.is_finished() {
            hub::with(|hub| hub.kill(&self.core));
        }
    }

    /// Marks the greenlet to be killed without waiting for it to die
    /// (gevent's `kill(block=False)`). Not for the calling greenlet.
    pub(crate) fn kill_nowait(&self) {
        if self.core.is_finished() {
            return;
        }
        hub::with(|hub| {
            if !Rc::ptr_eq(&hub.current_core(), &self.core) {
                hub.mark_killed(&self.core);
            }
        });
    }

    /// Runs `callback` in a new greenlet once this one has finished, however
    /// it ends (gevent's `link`). Returns the handle of that greenlet.
    ///
    /// # Panics
    ///
    /// Panics outside [`run`](crate::run()).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// green::run(|| {
    ///     let told = Rc::new(Cell::new(false));
    ///     let t = told.clone();
    ///     let worker = green::spawn(|| green::yield_now());
    ///     let link = worker.link(move || t.set(true));
    ///     link.join().unwrap();
    ///     assert!(told.get());
    /// });
    /// ```
    pub fn link(&self, callback: impl FnOnce() + 'static) -> JoinHandle<()> {
        let target = self.core.clone();
        crate::spawn(move || {
            if !target.is_finished() {
                hub::with(|hub| hub.wait_finished(&target, "link"));
            }
            callback();
        })
    }

    /// The greenlet's identifier.
    pub fn id(&self) -> GreenletId {
        self.core.id()
    }

    /// The greenlet's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.core.name()
    }

    /// A handle to the greenlet (to [`unpark`](Greenlet::unpark) it, say).
    pub fn greenlet(&self) -> &Greenlet {
        self.core.handle()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinHandle")
            .field(self.core.handle())
            .finish()
    }
}

/// Waits for every greenlet in `handles` and returns their results in the
/// same order (gevent's `joinall`).
///
/// `handles` is drained before the first wait, so an iterator that spawns
/// as it goes (`(0..n).map(|i| green::spawn(..))`) starts every greenlet
/// first and they run together, as gevent's list does.
///
/// # Examples
///
/// ```
/// green::run(|| {
///     let handles: Vec<_> = (0..3).map(|i| green::spawn(move || i * 10)).collect();
///     let results: Vec<u32> = green::joinall(handles).into_iter().map(Result::unwrap).collect();
///     assert_eq!(results, [0, 10, 20]);
/// });
/// ```
pub fn joinall<T, I>(handles: I) -> Vec<Result<T, JoinError>>
where
    I: IntoIterator<Item = JoinHandle<T>>,
{
    // Collected first: a lazy map of spawns would otherwise start each
    // greenlet only once the one before it had been joined.
    let handles: Vec<JoinHandle<T>> = handles.into_iter().collect();
    handles.into_iter().map(JoinHandle::join).collect()
}

/// Why a greenlet did not return a value: it panicked or it was killed.
pub struct JoinError {
    id: GreenletId,
    repr: Repr,
}

enum Repr {
    Panicked(Box<dyn Any + Send + 'static>),
    Killed,
}

impl JoinError {
    fn killed(id: GreenletId) -> Self {
        JoinError {
            id,
            repr: Repr::Killed,
        }
    }

    /// Whether the greenlet panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panicked(_))
    }

    /// Whether the greenlet was killed (by [`JoinHandle::kill`], or because
    /// [`run`](crate::run()) ended while it was still alive).
    pub fn is_killed(&self) -> bool {
        matches!(self.repr, Repr::Killed)
    }

    /// The greenlet's identifier.
    pub fn id(&self) -> GreenletId {
        self.id
    }

    /// The panic payload, to re-raise with [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// Panics if the greenlet was killed rather than panicking.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .unwrap_or_else(|e| panic!("`JoinError::into_panic` called on a killed greenlet ({e})"))
    }

    /// The panic payload, or the error itself if the greenlet was killed.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panicked(p) => Ok(p),
            Repr::Killed => Err(self),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Killed => write!(f, "greenlet {} was killed", self.id),
            Repr::Panicked(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| p.downcast_ref::<String>().map(String::as_str));
                match msg {
                    Some(msg) => write!(f, "greenlet {} panicked: {msg}", self.id),
                    None => write!(f, "greenlet {} panicked", self.id),
                }
            }
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Killed => write!(f, "JoinError::Killed({})", self.id),
            Repr::Panicked(_) => write!(f, "JoinError::Panicked({}, ..)", self.id),
        }
    }
}

impl std::error::Error for JoinError {}

#[cfg(test)]
mod tests {
    use crate::hub::spare_cores as spare;

    #[test]
    fn a_finished_greenlets_record_serves_the_next_spawn() {
        crate::run(|| {
            let before = spare();
            // joined: kept, then taken by the next spawn
            crate::spawn(|| ()).join().unwrap();
            assert_eq!(spare(), before + 1, "a joined greenlet's record is kept");
            let h = crate::spawn(|| ());
            assert_eq!(spare(), before, "a spawn takes a kept record");
            // detached: kept when it finishes
            drop(h);
            crate::yield_now();
            assert_eq!(spare(), before + 1, "a detached greenlet's record is kept");
            // still referred to by its handle: not kept
            let h = crate::spawn(|| ());
            crate::yield_now();
            assert!(h.is_finished());
            assert_eq!(spare(), before);
            h.join().unwrap();
            assert_eq!(spare(), before + 1);
        });
    }

    #[test]
    fn a_wait_timeout_that_gives_up_leaves_the_greenlets_joiners() {
        crate::run(|| {
            // Outlasts the cut however late the machine runs it; killed at
            // the end.
            let slow = crate::spawn(|| crate::sleep(std::time::Duration::from_secs(60)));
            let joiners = || slow.core().extras().map_or(0, |e| e.joiners.len());
            for _ in 0..3 {
                assert!(!slow.wait_timeout(std::time::Duration::from_millis(1)));
                assert_eq!(joiners(), 0, "a wait that gave up is still a joiner");
            }
            // Cut short from outside too.
            let cut = crate::timeout(std::time::Duration::from_millis(1), || {
                slow.wait_timeout(std::time::Duration::from_secs(60))
            });
            assert!(cut.is_err());
            assert_eq!(joiners(), 0, "a wait cut short is still a joiner");
            assert!(slow.wait_timeout(std::time::Duration::from_secs(60)));
        });
    }

    #[test]
    fn a_join_cut_short_leaves_the_greenlets_joiners() {
        crate::run(|| {
            let slow = crate::spawn(|| crate::sleep(std::time::Duration::from_millis(50)));
            let joiners = || slow.core().extras().map_or(0, |e| e.joiners.len());
            let watcher = slow.watcher();
            let cut = crate::timeout(std::time::Duration::from_millis(1), || watcher.join());
            assert!(cut.is_err());
            assert_eq!(joiners(), 0, "a join cut short is still a joiner");
            let waits_for = crate::hub::with(|hub| hub.current_core().waits_for.get());
            assert_eq!(waits_for, None, "a join cut short still waits for it");
            slow.kill();
            assert!(slow.join().is_err_and(|e| e.is_killed()));
        });
    }
}
