//! [`Event`] and [`AsyncResult`]: gevent's `gevent.event`.
//!
//! Both are built on [`green::sync`](crate::sync)'s fair `Mutex` and
//! `Condvar`, so waiting greenlets park, threads outside `run` block, and
//! both are `Send + Sync` when their contents are `Send`.

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::{Condvar, Mutex};

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
#[derive(Default)]
pub struct Event {
    flag: Mutex<Flag>,
    changed: Condvar,
}

/// The flag, and how many times it was set: a waiter that sees the count
/// move was there for a `set`, even if the flag is clear again.
#[derive(Default)]
struct Flag {
    set: bool,
    sets: u64,
}

impl Flag {
    /// Whether a waiter that began when the count was `sets` goes on
    /// waiting.
    fn waits(&self, sets: u64) -> bool {
        !self.set && self.sets == sets
    }
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
            flag: Mutex::new(Flag {
                set: false,
                sets: 0,
            }),
            changed: Condvar::new(),
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
        let mut flag = self.lock();
        flag.set = true;
        flag.sets = flag.sets.wrapping_add(1);
        drop(flag);
        self.changed.notify_all();
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
        self.lock().set = false;
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!green::event::Event::new().is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.lock().set
    }

    /// Waits until the flag is set: returns at once if it is, else once
    /// [`set`](Self::set) runs, even if the flag is cleared again first.
    ///
    /// # Examples
    ///
    /// See the type's example.
    pub fn wait(&self) {
        let flag = self.lock();
        let sets = flag.sets;
        drop(self.changed.wait_while(flag, |f| f.waits(sets)));
    }

    /// Waits at most `timeout` for the flag; returns whether it is set, or
    /// was set while this waited (true even if it was cleared since, as
    /// gevent's and Python's).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = green::event::Event::new();
    /// assert!(!e.wait_timeout(Duration::from_millis(1)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let flag = self.lock();
        let sets = flag.sets;
        let (flag, _) = self
            .changed
            .wait_timeout_while(flag, timeout, |f| f.waits(sets))
            .unwrap_or_else(|p| p.into_inner());
        !flag.waits(sets)
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, Flag> {
        self.flag.lock().unwrap_or_else(|p| p.into_inner())
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
    slot: Mutex<Option<Result<T, E>>>,
    ready: Condvar,
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
            slot: Mutex::new(None),
            ready: Condvar::new(),
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
        let mut slot = self.lock();
        assert!(
            slot.is_none(),
            "green::event::AsyncResult::set: already set"
        );
        *slot = Some(outcome);
        drop(slot);
        self.ready.notify_all();
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
        self.lock().is_some()
    }

    /// Waits for the outcome and returns a copy of it.
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
        let slot = self.lock();
        let slot = self
            .ready
            .wait_while(slot, |s| s.is_none())
            .unwrap_or_else(|p| p.into_inner());
        slot.clone().expect("set")
    }

    /// Waits at most `timeout`; `None` if it is still unset.
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
        let mut slot = self.lock();
        while slot.is_none() {
            let now = Instant::now();
            let left = match deadline {
                Some(at) if at > now => at - now,
                Some(_) => return None,
                None => Duration::MAX,
            };
            slot = self
                .ready
                .wait_timeout(slot, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        slot.clone()
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
        self.lock().clone()
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, Option<Result<T, E>>> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
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
