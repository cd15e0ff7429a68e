//! [`Event`] and [`AsyncResult`]: gevent's `gevent.event`.
//!
//! Both are built on [`green::sync`](crate::sync)'s fair `Mutex` and
//! `Condvar`, so waiting greenlets park, threads outside `run` block, and
//! both are `Send + Sync` when their contents are `Send`.
//!
//! As in gevent, the waiters a set wakes go in the order they began to
//! wait, and a greenlet's wait that finds the event set (the result ready)
//! while some of them have not run yet comes after them instead of going
//! first (gevent's issue 1520): `set(); wait();` in one greenlet lets the
//! greenlets of its hub that were waiting run before it carries on. It
//! yields once for that, so it never waits longer; a thread outside `run`
//! returns at once.

use std::fmt;
use std::mem;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use crate::sync::{Condvar, Mutex, MutexGuard};

/// A flag that greenlets can wait on: [`set`](Self::set) wakes every
/// waiter, and waits return at once while it stays set, until
/// [`clear`](Self::clear).
///
/// As gevent's (and Python's `threading.Event`), a `set` wakes every
/// greenlet or thread waiting when it ran, even if a `clear` follows before
/// they run again: `set(); clear();` is a pulse that lets the current
/// waiters through and holds back later ones.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use green::event::Event;
///
/// green::run(|| {
///     let ready = Rc::new(Event::new());
///     let waiters: Vec<_> = (0..3)
///         .map(|i| {
///             let ready = ready.clone();
///             green::spawn(move || {
///                 ready.wait();
///                 i
///             })
///         })
///         .collect();
///     green::yield_now(); // all three wait
///     ready.set();
///     let got: Vec<i32> = green::joinall(waiters).into_iter().map(Result::unwrap).collect();
///     assert_eq!(got, [0, 1, 2]);
/// });
/// ```
///
/// A wait on the event while the waiters its `set` woke have not run yet
/// comes after them, as in gevent:
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use green::event::Event;
///
/// green::run(|| {
///     let ready = Rc::new(Event::new());
///     let log = Rc::new(RefCell::new(Vec::new()));
///     for i in 1..=2 {
///         let (ready, log) = (ready.clone(), log.clone());
///         green::spawn(move || {
///             ready.wait();
///             log.borrow_mut().push(i);
///         });
///     }
///     green::yield_now(); // both wait
///     ready.set();
///     ready.wait(); // set, but the two woken greenlets go first
///     log.borrow_mut().push(3);
///     assert_eq!(*log.borrow(), [1, 2, 3]);
/// });
/// ```
pub struct Event {
    inner: Waitable<bool>,
}

impl Event {
    /// A cleared event.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!green::event::Event::new().is_set());
    /// ```
    pub const fn new() -> Event {
        Event {
            inner: Waitable::new(false),
        }
    }

    /// Sets the flag and wakes every waiter; each of them returns (true,
    /// from [`wait_timeout`](Self::wait_timeout)) even if the flag is
    /// cleared before it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = green::event::Event::new();
    /// e.set();
    /// assert!(e.is_set());
    /// e.wait(); // returns at once
    /// ```
    ///
    /// A pulse:
    ///
    /// ```
    /// use std::rc::Rc;
    /// use green::event::Event;
    ///
    /// green::run(|| {
    ///     let e = Rc::new(Event::new());
    ///     let waiter = green::spawn({
    ///         let e = e.clone();
    ///         move || e.wait_timeout(std::time::Duration::from_secs(60))
    ///     });
    ///     green::yield_now(); // it waits
    ///     e.set();
    ///     e.clear();
    ///     assert!(waiter.join().unwrap()); // woken by the set, at once
    /// });
    /// ```
    pub fn set(&self) {
        let mut state = self.inner.lock();
        state.value = true;
        self.inner.wake_all(state);
    }

    /// Clears the flag: later waits wait again.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = green::event::Event::new();
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// ```
    pub fn clear(&self) {
        self.inner.lock().value = false;
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!green::event::Event::new().is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.inner.lock().value
    }

    /// Waits until the flag is set: returns at once if it is, else once
    /// [`set`](Self::set) runs, even if the flag is cleared again first.
    ///
    /// If the flag is set but waiters that `set` woke have not run yet, a
    /// greenlet yields once first, so that those of its hub run before it,
    /// as gevent's does (see the type's second example).
    ///
    /// # Examples
    ///
    /// See the type's examples.
    pub fn wait(&self) {
        drop(self.inner.wait(None, |&set| set));
    }

    /// Waits at most `timeout` for the flag; returns whether it is set, or
    /// was set while this waited (true even if it was cleared since, as
    /// gevent's and Python's).
    ///
    /// A set flag whose woken waiters have not run yet lets them run first,
    /// as [`wait`](Self::wait) does (whatever `timeout`, zero included, as
    /// gevent's): true.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = green::event::Event::new();
    /// assert!(!e.wait_timeout(Duration::from_millis(1)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        self.inner.wait(deadline, |&set| set).1
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

/// A value (or an error) that is set once and that any number of greenlets
/// can wait for, like gevent's `AsyncResult`.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use green::event::AsyncResult;
///
/// green::run(|| {
///     let result: Rc<AsyncResult<u32, String>> = Rc::new(AsyncResult::new());
///     let r = result.clone();
///     green::spawn(move || r.set(Ok(42)));
///     assert_eq!(result.get(), Ok(42)); // waits
///     assert_eq!(result.get(), Ok(42)); // and again, at once
/// });
/// ```
pub struct AsyncResult<T, E> {
    inner: Waitable<Option<Result<T, E>>>,
}

impl<T, E> AsyncResult<T, E> {
    /// An unset result.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = green::event::AsyncResult::<u8, ()>::new();
    /// assert!(!r.ready());
    /// ```
    pub const fn new() -> Self {
        AsyncResult {
            inner: Waitable::new(None),
        }
    }

    /// Sets the outcome, once, and wakes the waiters.
    ///
    /// # Panics
    ///
    /// Panics if it was already set (gevent lets a second set replace the
    /// first; here it is a bug the caller hears about).
    ///
    /// # Examples
    ///
    /// ```
    /// let r = green::event::AsyncResult::<u8, &str>::new();
    /// r.set(Err("failed"));
    /// assert_eq!(r.get(), Err("failed"));
    /// ```
    pub fn set(&self, outcome: Result<T, E>) {
        let mut state = self.inner.lock();
        assert!(
            state.value.is_none(),
            "green::event::AsyncResult::set: already set"
        );
        state.value = Some(outcome);
        self.inner.wake_all(state);
    }

    /// Whether it is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = green::event::AsyncResult::<u8, ()>::new();
    /// r.set(Ok(1));
    /// assert!(r.ready());
    /// ```
    pub fn ready(&self) -> bool {
        self.inner.lock().value.is_some()
    }

    /// Waits for the outcome and returns a copy of it.
    ///
    /// If it is set but getters that [`set`](Self::set) woke have not run
    /// yet, a greenlet yields once first, so that those of its hub run
    /// before it, as gevent's does.
    ///
    /// # Errors
    ///
    /// The error it was set with.
    ///
    /// # Examples
    ///
    /// See the type's example.
    pub fn get(&self) -> Result<T, E>
    where
        T: Clone,
        E: Clone,
    {
        let (state, _) = self.inner.wait(None, Option::is_some);
        state.value.clone().expect("set")
    }

    /// Waits at most `timeout`; `None` if it is still unset.
    ///
    /// A set result whose woken getters have not run yet lets them run
    /// first, as [`get`](Self::get) does (whatever `timeout`, zero
    /// included): the outcome.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = green::event::AsyncResult::<u8, ()>::new();
    /// assert_eq!(r.get_timeout(Duration::from_millis(1)), None);
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Option<Result<T, E>>
    where
        T: Clone,
        E: Clone,
    {
        let deadline = Instant::now().checked_add(timeout);
        self.inner.wait(deadline, Option::is_some).0.value.clone()
    }

    /// The outcome, if it is set, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = green::event::AsyncResult::<u8, ()>::new();
    /// assert_eq!(r.try_get(), None);
    /// ```
    pub fn try_get(&self) -> Option<Result<T, E>>
    where
        T: Clone,
        E: Clone,
    {
        self.inner.lock().value.clone()
    }
}

impl<T, E> Default for AsyncResult<T, E> {
    fn default() -> Self {
        AsyncResult::new()
    }
}

impl<T, E> fmt::Debug for AsyncResult<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish()
    }
}

/// What [`Event`] and [`AsyncResult`] share (gevent's `AbstractLinkable`):
/// a value behind a lock, and waiters that wait for it to be set.
///
/// A set wakes every waiter waiting then and counts them until each has
/// left its wait (run, or unwound by a kill or a timeout). A greenlet that
/// finds the value ready while that count is not zero yields once before
/// it returns: the greenlets of its hub that the set woke are ahead of it
/// in the run queue, so they run first, as gevent's notifier runs them
/// before such a waiter. One yield, not a wait for the count: it cannot
/// hang (a woken waiter whose stack is leaked at a hub's shutdown never
/// leaves the count) nor starve behind later sets, and a thread outside
/// `run`, or a greenlet that unwinds, returns at once (across threads
/// there is no order to keep). A waiter that finds the value ready and
/// nobody still to leave, the common case, only locks and looks.
struct Waitable<S> {
    state: Mutex<State<S>>,
    /// Where waiters wait for the next set.
    changed: Condvar,
}

struct State<S> {
    value: S,
    /// How many times it was set: a waiter that sees the count move was
    /// woken by a set, even if the value is not ready any more (a pulse).
    sets: u64,
    /// Waiters waiting for the next set.
    waiting: usize,
    /// Waiters woken by a set that have not left their wait yet.
    woken: usize,
}

impl<S> State<S> {
    /// A waiter that began waiting when the count of sets was `ticket`
    /// leaves.
    fn leave(&mut self, ticket: u64) {
        if self.sets == ticket {
            self.waiting -= 1;
        } else {
            self.woken -= 1;
        }
    }
}

impl<S> Waitable<S> {
    const fn new(value: S) -> Self {
        Waitable {
            state: Mutex::new(State {
                value,
                sets: 0,
                waiting: 0,
                woken: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<S>> {
        // Nothing panics while holding it but `AsyncResult::set`'s
        // "already set", which changes nothing.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a set (the caller changed the value under `state`): wakes
    /// every waiter, counted as woken until it leaves its wait.
    fn wake_all(&self, mut state: MutexGuard<'_, State<S>>) {
        state.sets = state.sets.wrapping_add(1);
        state.woken += mem::take(&mut state.waiting);
        drop(state);
        self.changed.notify_all();
    }

    /// Waits, until `deadline` at most, for the value to be set, unless
    /// `ready` says it is already; returns the state, locked, and whether
    /// it was ready or set meanwhile (false: the deadline passed first).
    /// Found ready while woken waiters have not left their wait, a
    /// greenlet lets them run first (see the type).
    fn wait(
        &self,
        deadline: Option<Instant>,
        ready: impl FnOnce(&S) -> bool,
    ) -> (MutexGuard<'_, State<S>>, bool) {
        let mut state = self.lock();
        if ready(&state.value) {
            if state.woken > 0 && crate::is_running() && !crate::sync::poison::panicking() {
                drop(state);
                crate::yield_now();
                state = self.lock();
            }
            return (state, true);
        }
        let ticket = state.sets;
        state.waiting += 1;
        let waiting = Waiting {
            on: self,
            ticket,
            armed: true,
        };
        let set = loop {
            if state.sets != ticket {
                break true;
            }
            if passed(deadline) {
                break false;
            }
            state = relock(self.changed.wait_until(state, deadline).0);
        };
        waiting.done();
        state.leave(ticket);
        (state, set)
    }
}

/// A waiter's place in a [`Waitable`]'s counts; dropped while still
/// `armed` (a kill, a [`timeout`](crate::timeout()) or a panic unwinding
/// the waiter, the state unlocked meanwhile: it is only held across
/// `Condvar::wait_until`, which consumes it) it leaves them, so that a
/// woken waiter unwound before it ran does not make later waits yield.
struct Waiting<'a, S> {
    on: &'a Waitable<S>,
    /// The count of sets it began at.
    ticket: u64,
    armed: bool,
}

impl<S> Waiting<'_, S> {
    /// Left the wait: the caller updates the counts itself.
    fn done(mut self) {
        self.armed = false;
    }
}

impl<S> Drop for Waiting<'_, S> {
    fn drop(&mut self) {
        if self.armed {
            self.on.lock().leave(self.ticket);
        }
    }
}

fn relock<G>(relocked: Result<G, PoisonError<G>>) -> G {
    relocked.unwrap_or_else(PoisonError::into_inner)
}

fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|at| Instant::now() >= at)
}
