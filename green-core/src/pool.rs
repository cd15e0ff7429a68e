//! gevent's `gevent.pool`: a [`Group`] tracks a set of greenlets, a
//! [`Pool`] is a group with a cap on how many run at once, and both map
//! work over their greenlets ([`Group::map`], [`Group::imap`],
//! [`Group::imap_unordered`], and the same on [`Pool`], at most its size at
//! once).
//!
//! Both belong to their hub's thread (they hold greenlets).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::panic;
use std::rc::Rc;
use std::time::Duration;

use crate::channel;
use crate::join::JoinHandle;
use crate::lock::Semaphore;

/// A set of greenlets to wait for or kill together.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use green::pool::Group;
///
/// green::run(|| {
///     let group = Group::new();
///     for ms in [3u64, 1, 2] {
///         group.spawn(move || green::sleep(Duration::from_millis(ms)));
///     }
///     assert_eq!(group.len(), 3);
///     group.join();
///     assert_eq!(group.len(), 0);
/// });
/// ```
#[derive(Default)]
pub struct Group {
    members: RefCell<Vec<JoinHandle<()>>>,
}

impl Group {
    /// An empty group.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(green::pool::Group::new().is_empty());
    /// ```
    pub fn new() -> Group {
        Group::default()
    }

    /// Spawns a greenlet in the group; its result goes to the returned
    /// handle (the group keeps a handle that only waits).
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let group = green::pool::Group::new();
    ///     let h = group.spawn(|| 7);
    ///     assert_eq!(h.join().unwrap(), 7);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
        let handle = crate::spawn(f);
        self.add(&handle);
        handle
    }

    /// Adds a greenlet spawned elsewhere.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let group = green::pool::Group::new();
    ///     let h = green::spawn(|| ());
    ///     group.add(&h);
    ///     assert_eq!(group.len(), 1);
    /// });
    /// ```
    pub fn add<T>(&self, handle: &JoinHandle<T>) {
        self.prune();
        self.members.borrow_mut().push(handle.watcher());
    }

    fn prune(&self) {
        self.members.borrow_mut().retain(|h| !h.is_finished());
    }

    /// The number of greenlets of the group still running.
    ///
    /// # Examples
    ///
    /// See the type's example.
    pub fn len(&self) -> usize {
        self.prune();
        self.members.borrow().len()
    }

    /// Whether no greenlet of the group is running.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(green::pool::Group::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until every greenlet of the group (including those added
    /// meanwhile) has finished.
    ///
    /// A greenlet stays in the group until it finishes: a join cut short
    /// (by [`join_timeout`](Self::join_timeout), a [`timeout`](crate::timeout())
    /// or a kill) leaves the group as it was, as gevent's does.
    ///
    /// # Examples
    ///
    /// See the type's example.
    pub fn join(&self) {
        loop {
            self.prune();
            let next = self.members.borrow().last().map(|h| h.core().clone());
            match next {
                // Leaves the member's joiners however the wait ends: a
                // loop of join_timeouts piled entries up there otherwise.
                Some(core) => crate::hub::with(|hub| hub.wait_finished(&core, "join")),
                None => return,
            }
        }
    }

    /// Like [`join`](Self::join), but gives up after `timeout`; returns
    /// whether all finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let group = green::pool::Group::new();
    ///     group.spawn(|| green::sleep(Duration::from_secs(60)));
    ///     assert!(!group.join_timeout(Duration::from_millis(1)));
    ///     assert_eq!(group.len(), 1); // still running, still tracked
    ///     group.kill();
    ///     assert!(group.is_empty());
    /// });
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        crate::timeout(timeout, || self.join()).is_ok()
    }

    /// Kills every greenlet of the group and waits until they are gone
    /// (those added meanwhile too), killing each once, as
    /// [`killall`](crate::killall) does.
    ///
    /// A greenlet stays in the group until it finishes: a kill cut short (by
    /// a [`timeout`](crate::timeout()), say, while a greenlet that caught the
    /// kill carries on) leaves the ones still running in the group, as
    /// gevent's does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let group = green::pool::Group::new();
    ///     group.spawn(|| green::sleep(Duration::from_secs(60)));
    ///     group.kill();
    ///     assert!(group.is_empty());
    /// });
    /// ```
    pub fn kill(&self) {
        // The caller, if it is a member, is killed last and once (as by
        // killall), after the loop: a member that calls this while it
        // unwinds (a destructor's) is only marked by a kill and stays
        // unfinished, so a loop that waited for it went round for ever.
        let mut me = None;
        loop {
            self.prune();
            let mut members: Vec<JoinHandle<()>> = self
                .members
                .borrow()
                .iter()
                .map(JoinHandle::watcher)
                .collect();
            if let Some(i) = members.iter().position(JoinHandle::is_current) {
                me = Some(members.swap_remove(i));
            }
            if members.is_empty() {
                break;
            }
            crate::killall(&members);
        }
        if let Some(me) = me {
            me.kill();
        }
    }
}

impl Group {
    /// Applies `f` to every item, each call in a greenlet of the group, all
    /// at once (gevent's `Group.map`; a [`Pool`] caps how many), and
    /// returns the results in order.
    ///
    /// # Panics
    ///
    /// If a call panics, the panic continues here once its result is
    /// reached in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// green::run(|| {
    ///     let group = green::pool::Group::new();
    ///     let finished = Rc::new(RefCell::new(Vec::new()));
    ///     let log = finished.clone();
    ///     // Each call takes as many turns of the hub as it says.
    ///     let turns = group.map(
    ///         move |turns: u32| {
    ///             (0..turns).for_each(|_| green::yield_now());
    ///             log.borrow_mut().push(turns);
    ///             turns
    ///         },
    ///         [3, 1, 2],
    ///     );
    ///     assert_eq!(turns, [3, 1, 2]); // input order
    ///     assert_eq!(*finished.borrow(), [1, 2, 3]); // together
    /// });
    /// ```
    pub fn map<X, R, F, I>(&self, f: F, items: I) -> Vec<R>
    where
        X: 'static,
        R: 'static,
        F: Fn(X) -> R + 'static,
        I: IntoIterator<Item = X>,
    {
        self.imap(f, items).collect()
    }

    /// Like [`map`](Self::map), lazily: the first result asked for starts
    /// every call; results come in input order.
    ///
    /// # Panics
    ///
    /// As [`map`](Self::map).
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let group = green::pool::Group::new();
    ///     let mut doubled = group.imap(|n: u32| n * 2, 1..=3);
    ///     assert_eq!(doubled.next(), Some(2));
    ///     assert_eq!(doubled.collect::<Vec<_>>(), [4, 6]);
    /// });
    /// ```
    pub fn imap<'a, X, R, F, I>(&'a self, f: F, items: I) -> impl Iterator<Item = R> + 'a
    where
        X: 'static,
        R: 'static,
        F: Fn(X) -> R + 'static,
        I: IntoIterator<Item = X>,
        I::IntoIter: 'a,
    {
        imap_on(self, f, items)
    }

    /// Like [`imap`](Self::imap), but yields results as the calls finish.
    ///
    /// # Panics
    ///
    /// As [`map`](Self::map), when the panicking call finishes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let group = green::pool::Group::new();
    ///     let fastest_first = group.imap_unordered(
    ///         |ms: u64| {
    ///             green::sleep(Duration::from_millis(ms));
    ///             ms
    ///         },
    ///         [30, 10, 20],
    ///     );
    ///     assert_eq!(fastest_first.collect::<Vec<_>>(), [10, 20, 30]);
    /// });
    /// ```
    pub fn imap_unordered<'a, X, R, F, I>(&'a self, f: F, items: I) -> impl Iterator<Item = R> + 'a
    where
        X: 'static,
        R: 'static,
        F: Fn(X) -> R + 'static,
        I: IntoIterator<Item = X>,
        I::IntoIter: 'a,
    {
        imap_unordered_on(self, f, items)
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("len", &self.len()).finish()
    }
}

/// A [`Group`] that runs at most `size` greenlets at once:
/// [`spawn`](Self::spawn) waits for a free slot.
///
/// # Examples
///
/// ```
/// use green::pool::Pool;
///
/// green::run(|| {
///     let pool = Pool::new(3);
///     let squares = pool.map(|n: u64| n * n, 1..=5);
///     assert_eq!(squares, [1, 4, 9, 16, 25]);
/// });
/// ```
pub struct Pool {
    group: Group,
    slots: Rc<Semaphore>,
    size: usize,
}

/// A slot of a pool, held by its greenlet until it ends (or by its closure
/// until it is dropped unrun).
struct Slot(Rc<Semaphore>);

impl Drop for Slot {
    fn drop(&mut self) {
        // The permit taken in spawn, not a new one (add_permits would grow
        // the semaphore's count of permits, past usize::MAX in Pool::new(usize::MAX)).
        self.0.give_back(1);
    }
}

impl Pool {
    /// A pool of `size` slots.
    ///
    /// # Panics
    ///
    /// Panics if `size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::pool::Pool::new(4).free_count(), 4);
    /// ```
    pub fn new(size: usize) -> Pool {
        assert!(
            size > 0,
            "green::pool::Pool::new: a pool needs at least one slot"
        );
        Pool {
            group: Group::new(),
            slots: Rc::new(Semaphore::new(size)),
            size,
        }
    }

    /// Spawns a greenlet once a slot is free, waiting for one.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let pool = green::pool::Pool::new(1);
    ///     let a = pool.spawn(|| green::yield_now());
    ///     let b = pool.spawn(|| ()); // waits until `a` has finished
    ///     assert!(a.is_finished());
    ///     b.join().unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
        self.slots.acquire().forget();
        let slot = Slot(self.slots.clone());
        self.group.spawn(move || {
            let _slot = slot;
            f()
        })
    }

    /// The number of free slots.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let pool = green::pool::Pool::new(2);
    ///     let _h = pool.spawn(|| ());
    ///     assert_eq!(pool.free_count(), 1);
    /// });
    /// ```
    pub fn free_count(&self) -> usize {
        self.slots.available_permits()
    }

    /// The number of greenlets running in the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::pool::Pool::new(2).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.group.len()
    }

    /// Whether no greenlet runs in the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(green::pool::Pool::new(2).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.group.is_empty()
    }

    /// Waits for every greenlet of the pool; see [`Group::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let pool = green::pool::Pool::new(2);
    ///     pool.spawn(|| green::yield_now());
    ///     pool.join();
    ///     assert!(pool.is_empty());
    /// });
    /// ```
    pub fn join(&self) {
        self.group.join();
    }

    /// Kills every greenlet of the pool; see [`Group::kill`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let pool = green::pool::Pool::new(2);
    ///     pool.spawn(|| green::sleep(Duration::from_secs(60)));
    ///     pool.kill();
    ///     assert_eq!(pool.free_count(), 2);
    /// });
    /// ```
    pub fn kill(&self) {
        self.group.kill();
    }

    /// Applies `f` to every item, at most `size` at once, and returns the
    /// results in order.
    ///
    /// # Panics
    ///
    /// If a call panics, the panic continues here once its result is
    /// reached in order (the calls still in flight carry on, detached).
    ///
    /// # Examples
    ///
    /// See the type's example.
    pub fn map<X, R, F, I>(&self, f: F, items: I) -> Vec<R>
    where
        X: 'static,
        R: 'static,
        F: Fn(X) -> R + 'static,
        I: IntoIterator<Item = X>,
    {
        self.imap(f, items).collect()
    }

    /// Like [`map`](Self::map), lazily: results come in order, as the
    /// iterator is driven, with at most `size` calls in flight.
    ///
    /// # Panics
    ///
    /// As [`map`](Self::map), when the panicking call's result is reached.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let pool = green::pool::Pool::new(2);
    ///     let slow_first = pool.imap(
    ///         |ms: u64| {
    ///             green::sleep(Duration::from_millis(ms));
    ///             ms
    ///         },
    ///         [5, 1, 3],
    ///     );
    ///     assert_eq!(slow_first.collect::<Vec<_>>(), [5, 1, 3]); // input order
    /// });
    /// ```
    pub fn imap<'a, X, R, F, I>(&'a self, f: F, items: I) -> impl Iterator<Item = R> + 'a
    where
        X: 'static,
        R: 'static,
        F: Fn(X) -> R + 'static,
        I: IntoIterator<Item = X>,
        I::IntoIter: 'a,
    {
        imap_on(self, f, items)
    }

    /// Like [`imap`](Self::imap), but yields results as the calls finish.
    ///
    /// # Panics
    ///
    /// As [`map`](Self::map).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let pool = green::pool::Pool::new(3);
    ///     let fastest_first = pool.imap_unordered(
    ///         |ms: u64| {
    ///             green::sleep(Duration::from_millis(ms));
    ///             ms
    ///         },
    ///         [30, 10, 20],
    ///     );
    ///     assert_eq!(fastest_first.collect::<Vec<_>>(), [10, 20, 30]);
    /// });
    /// ```
    pub fn imap_unordered<'a, X, R, F, I>(&'a self, f: F, items: I) -> impl Iterator<Item = R> + 'a
    where
        X: 'static,
        R: 'static,
        F: Fn(X) -> R + 'static,
        I: IntoIterator<Item = X>,
        I::IntoIter: 'a,
    {
        imap_unordered_on(self, f, items)
    }
}

/// What [`map`](Pool::map) and its lazy forms need of a pool or a group: a
/// spawn that tracks the greenlet, and how many calls may be in flight at
/// once (a pool's size; a group's, any number).
trait Spawner {
    fn spawn_call<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> JoinHandle<T>;
    fn in_flight_max(&self) -> usize;
}

impl Spawner for Group {
    fn spawn_call<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
        self.spawn(f)
    }

    fn in_flight_max(&self) -> usize {
        usize::MAX
    }
}

impl Spawner for Pool {
    fn spawn_call<T: 'static>(&self, f: impl FnOnce() -> T + 'static) -> JoinHandle<T> {
        self.spawn(f)
    }

    fn in_flight_max(&self) -> usize {
        self.size
    }
}

/// [`Pool::imap`] and [`Group::imap`]: results in input order.
fn imap_on<'a, S, X, R, F, I>(on: &'a S, f: F, items: I) -> impl Iterator<Item = R> + 'a
where
    S: Spawner,
    X: 'static,
    R: 'static,
    F: Fn(X) -> R + 'static,
    I: IntoIterator<Item = X>,
    I::IntoIter: 'a,
{
    let f = Rc::new(f);
    let mut items = items.into_iter();
    let mut in_flight: VecDeque<JoinHandle<R>> = VecDeque::new();
    std::iter::from_fn(move || {
        while in_flight.len() < on.in_flight_max() {
            let Some(x) = items.next() else { break };
            let f = f.clone();
            in_flight.push_back(on.spawn_call(move || f(x)));
        }
        let next = in_flight.pop_front()?;
        Some(take(next.join()))
    })
}

/// [`Pool::imap_unordered`] and [`Group::imap_unordered`]: results as the
/// calls finish.
///
/// Each call's closure owns a [`Finished`] that reports the call's index
/// when it is dropped: at the call's end, unwinding or not, and also when a
/// kill drops the closure before it ran. The iterator then joins that call
/// and takes its result as [`imap`](imap_on) does: its value, its panic
/// continued, or a panic saying it was killed. (A call that caught its
/// own unwind to send it, as before, handed a kill's unwind on to the
/// consumer, which then unwound as if killed itself; and a call killed
/// before it started never sent, so the consumer waited for ever.)
fn imap_unordered_on<'a, S, X, R, F, I>(on: &'a S, f: F, items: I) -> impl Iterator<Item = R> + 'a
where
    S: Spawner,
    X: 'static,
    R: 'static,
    F: Fn(X) -> R + 'static,
    I: IntoIterator<Item = X>,
    I::IntoIter: 'a,
{
    let f = Rc::new(f);
    let mut items = items.into_iter();
    let (tx, rx) = channel::unbounded::<usize>();
    // Slots of calls whose result was taken are reused (`free`), so the
    // table stays as long as the most calls ever in flight at once, not as
    // long as the input.
    let mut in_flight: Vec<Option<JoinHandle<R>>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut running = 0usize;
    std::iter::from_fn(move || {
        while running < on.in_flight_max() {
            let Some(x) = items.next() else { break };
            let f = f.clone();
            let slot = free.pop().unwrap_or(in_flight.len());
            let finished = Finished(tx.clone(), slot);
            let call = Some(on.spawn_call(move || {
                let _finished = finished;
                f(x)
            }));
            if slot == in_flight.len() {
                in_flight.push(call);
            } else {
                in_flight[slot] = call;
            }
            running += 1;
        }
        if running == 0 {
            return None;
        }
        running -= 1;
        let i = rx.recv().expect("the iterator keeps a sender");
        let call = in_flight[i].take().expect("each call reports once");
        free.push(i);
        Some(take(call.join()))
    })
}

/// Sends its call's index when dropped (see [`imap_unordered_on`]).
struct Finished(channel::Sender<usize>, usize);

impl Drop for Finished {
    fn drop(&mut self) {
        let _ = self.0.send(self.1);
    }
}

/// A call's value, or its panic continued.
fn take<R>(result: Result<R, crate::JoinError>) -> R {
    match result {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => panic::resume_unwind(payload),
            Err(killed) => panic!("green::pool: a call was killed ({killed:?})"),
        },
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size)
            .field("free", &self.free_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Group;

    #[test]
    fn a_group_join_cut_short_leaves_the_members_joiners() {
        crate::run(|| {
            let group = Group::new();
            // Outlasts the cuts however late the machine runs them.
            let slow = group.spawn(|| crate::sleep(Duration::from_secs(60)));
            let joiners = || slow.core().extras().map_or(0, |e| e.joiners.len());
            for _ in 0..3 {
                assert!(!group.join_timeout(Duration::from_millis(1)));
                assert_eq!(joiners(), 0, "a join that timed out is still a joiner");
            }
            group.kill();
            assert!(group.join_timeout(Duration::from_secs(60)));
            assert!(slow.is_finished());
        });
    }
}
