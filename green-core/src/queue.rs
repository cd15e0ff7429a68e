//! gevent's `gevent.queue`: [`Queue`] (FIFO), [`LifoQueue`],
//! [`PriorityQueue`] and [`JoinableQueue`], bounded or not.
//!
//! `put` waits while a bounded queue is full, `get` while it is empty;
//! both have `_timeout` and `try_` variants. Built on
//! [`green::sync`](crate::sync): waiting greenlets park, threads outside
//! `run` block, waiters are served in arrival order, and a greenlet killed
//! (or timed out) while waiting takes nothing with it: an item stays in the
//! queue until a `get` returns it.
//!
//! # Examples
//!
//! ```
//! use std::rc::Rc;
//! use green::queue::Queue;
//!
//! green::run(|| {
//!     let tasks = Rc::new(Queue::bounded(3));
//!     let workers: Vec<_> = (0..2)
//!         .map(|w| {
//!             let tasks = tasks.clone();
//!             green::spawn(move || {
//!                 let mut done = Vec::new();
//!                 while let Some(n) = tasks.get() {
//!                     done.push((w, n));
//!                     green::yield_now();
//!                 }
//!                 done
//!             })
//!         })
//!         .collect();
//!     for n in 1..=6 {
//!         tasks.put(Some(n)); // waits while 3 are queued
//!     }
//!     tasks.put(None);
//!     tasks.put(None);
//!     let done: usize = green::joinall(workers).into_iter().map(|d| d.unwrap().len()).sum();
//!     assert_eq!(done, 6);
//! });
//! ```

use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::{Condvar, Mutex, MutexGuard};

/// The error of `put_timeout` and `try_put`: the queue stayed full; the item
/// comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

/// The error of `get_timeout` and `try_get`: the queue stayed empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Empty;

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is full")
    }
}

impl fmt::Display for Empty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is empty")
    }
}

impl<T> std::error::Error for Full<T> {}
impl std::error::Error for Empty {}

/// How items come out.
pub trait Order<T>: Default {
    /// Adds an item.
    fn push(&mut self, item: T);
    /// Takes the next item.
    fn pop(&mut self) -> Option<T>;
    /// The number of items.
    fn len(&self) -> usize;
    /// Whether there is no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First in, first out.
#[derive(Debug)]
pub struct Fifo<T>(VecDeque<T>);

/// Last in, first out.
#[derive(Debug)]
pub struct Lifo<T>(Vec<T>);

/// Greatest first (a max-heap; wrap items in [`std::cmp::Reverse`] for
/// smallest first).
#[derive(Debug)]
pub struct Priority<T: Ord>(BinaryHeap<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority(BinaryHeap::new())
    }
}

impl<T> Order<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Order<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Order<T> for Priority<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A queue whose items come out in the [`Order`] `O`; see the module docs.
/// [`Queue`], [`LifoQueue`] and [`PriorityQueue`] name its flavours.
pub struct GenericQueue<T, O: Order<T> = Fifo<T>> {
    state: Mutex<State<T, O>>,
    not_empty: Condvar,
    not_full: Condvar,
    all_done: Condvar,
    cap: Option<usize>,
}

struct State<T, O> {
    items: O,
    /// Items put and not yet marked done (for [`JoinableQueue`]).
    unfinished: usize,
    /// How many times `unfinished` came down to 0: a `join` waiting then
    /// returns, even if an item is put before it runs.
    drained: u64,
    _item: std::marker::PhantomData<T>,
}

/// A FIFO queue.
pub type Queue<T> = GenericQueue<T, Fifo<T>>;
/// A LIFO queue (a stack).
pub type LifoQueue<T> = GenericQueue<T, Lifo<T>>;
/// A queue that hands out its greatest item first.
pub type PriorityQueue<T> = GenericQueue<T, Priority<T>>;
/// A FIFO queue that also counts unfinished tasks: [`task_done`] and
/// [`join`] (gevent's `JoinableQueue`). Every queue flavour has them.
///
/// [`task_done`]: GenericQueue::task_done
/// [`join`]: GenericQueue::join
pub type JoinableQueue<T> = GenericQueue<T, Fifo<T>>;

impl<T, O: Order<T>> GenericQueue<T, O> {
    /// A queue without a limit.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = green::queue::Queue::unbounded();
    /// q.put(1);
    /// assert_eq!(q.get(), 1);
    /// ```
    pub fn unbounded() -> Self {
        Self::with_cap(None)
    }

    /// A queue that holds at most `cap` items.
    ///
    /// # Panics
    ///
    /// Panics if `cap` is 0 (use a [rendezvous
    /// channel](crate::channel::channel) for hand-offs).
    ///
    /// # Examples
    ///
    /// ```
    /// use green::queue::{Full, LifoQueue};
    /// let q = LifoQueue::bounded(1);
    /// q.put('a');
    /// assert_eq!(q.try_put('b'), Err(Full('b')));
    /// ```
    pub fn bounded(cap: usize) -> Self {
        assert!(
            cap > 0,
            "green::queue: a bounded queue needs room for one item"
        );
        Self::with_cap(Some(cap))
    }

    fn with_cap(cap: Option<usize>) -> Self {
        GenericQueue {
            state: Mutex::new(State {
                items: O::default(),
                unfinished: 0,
                drained: 0,
                _item: std::marker::PhantomData,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_done: Condvar::new(),
            cap,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T, O>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn full(&self, state: &State<T, O>) -> bool {
        self.cap.is_some_and(|cap| state.items.len() >= cap)
    }

    /// Puts an item, waiting while the queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = green::queue::PriorityQueue::unbounded();
    /// q.put(1);
    /// q.put(3);
    /// q.put(2);
    /// assert_eq!((q.get(), q.get(), q.get()), (3, 2, 1));
    /// ```
    pub fn put(&self, item: T) {
        if let Err(Full(_)) = self.put_deadline(item, None) {
            unreachable!("no deadline");
        }
    }

    /// Puts an item, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`Full`] with the item when there was no room in time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = green::queue::Queue::bounded(1);
    /// q.put(1);
    /// assert!(q.put_timeout(2, Duration::from_millis(1)).is_err());
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), Full<T>> {
        self.put_deadline(item, Instant::now().checked_add(timeout))
    }

    /// Puts an item if there is room now.
    ///
    /// # Errors
    ///
    /// [`Full`] with the item.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = green::queue::Queue::bounded(1);
    /// assert!(q.try_put(1).is_ok());
    /// assert!(q.try_put(2).is_err());
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), Full<T>> {
        self.put_deadline(item, Some(Instant::now()))
    }

    fn put_deadline(&self, item: T, deadline: Option<Instant>) -> Result<(), Full<T>> {
        let mut state = self.lock();
        while self.full(&state) {
            state = match wait(&self.not_full, state, deadline) {
                Some(state) => state,
                None => return Err(Full(item)),
            };
        }
        state.items.push(item);
        state.unfinished += 1;
        drop(state);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Takes an item, waiting while the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = green::queue::LifoQueue::unbounded();
    /// q.put(1);
    /// q.put(2);
    /// assert_eq!(q.get(), 2);
    /// ```
    pub fn get(&self) -> T {
        self.get_deadline(None).expect("no deadline")
    }

    /// Takes an item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Empty`] when none came in time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let q = green::queue::Queue::<u8>::unbounded();
    /// assert_eq!(q.get_timeout(Duration::from_millis(1)), Err(green::queue::Empty));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Empty> {
        self.get_deadline(Instant::now().checked_add(timeout))
    }

    /// Takes an item if there is one.
    ///
    /// # Errors
    ///
    /// [`Empty`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = green::queue::Queue::unbounded();
    /// assert!(q.try_get().is_err());
    /// q.put(1);
    /// assert_eq!(q.try_get(), Ok(1));
    /// ```
    pub fn try_get(&self) -> Result<T, Empty> {
        self.get_deadline(Some(Instant::now()))
    }

    fn get_deadline(&self, deadline: Option<Instant>) -> Result<T, Empty> {
        let mut state = self.lock();
        loop {
            if let Some(item) = state.items.pop() {
                drop(state);
                self.not_full.notify_one();
                return Ok(item);
            }
            state = wait(&self.not_empty, state, deadline).ok_or(Empty)?;
        }
    }

    /// Marks one item taken with `get` as processed (for [`join`]).
    ///
    /// [`join`]: Self::join
    ///
    /// # Panics
    ///
    /// Panics if called more times than items were put, as gevent raises.
    ///
    /// # Examples
    ///
    /// See [`join`](Self::join).
    pub fn task_done(&self) {
        let mut state = self.lock();
        assert!(
            state.unfinished > 0,
            "green::queue::task_done called more times than items were put"
        );
        state.unfinished -= 1;
        if state.unfinished == 0 {
            state.drained += 1;
            drop(state);
            self.all_done.notify_all();
        }
    }

    /// Waits until every item put has been marked done with
    /// [`task_done`](Self::task_done). As gevent's, it returns once that
    /// happened after it began waiting, even if more items were put before
    /// it ran again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use green::queue::JoinableQueue;
    ///
    /// green::run(|| {
    ///     let q = Rc::new(JoinableQueue::unbounded());
    ///     for n in 0..5 {
    ///         q.put(n);
    ///     }
    ///     let worker = q.clone();
    ///     green::spawn(move || loop {
    ///         let _n = worker.get();
    ///         green::yield_now(); // "work"
    ///         worker.task_done();
    ///     });
    ///     q.join(); // returns once all five are done
    ///     assert!(q.is_empty());
    /// });
    /// ```
    pub fn join(&self) {
        let state = self.lock();
        let drained = state.drained;
        drop(
            self.all_done
                .wait_while(state, |s| s.unfinished > 0 && s.drained == drained),
        );
    }

    /// The number of items in the queue.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = green::queue::Queue::unbounded();
    /// q.put(());
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether the queue is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(green::queue::Queue::<()>::unbounded().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a `put` would wait now.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = green::queue::Queue::bounded(1);
    /// q.put(());
    /// assert!(q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.full(&self.lock())
    }

    /// The queue's limit, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::queue::Queue::<()>::bounded(4).capacity(), Some(4));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.cap
    }
}

/// Waits on `cv` until notified or `deadline`; `None` once it has passed.
fn wait<'a, S>(
    cv: &Condvar,
    guard: MutexGuard<'a, S>,
    deadline: Option<Instant>,
) -> Option<MutexGuard<'a, S>> {
    match deadline {
        None => Some(cv.wait(guard).unwrap_or_else(|p| p.into_inner())),
        Some(at) => {
            let now = Instant::now();
            if at <= now {
                return None;
            }
            let (guard, _) = cv
                .wait_timeout(guard, at - now)
                .unwrap_or_else(|p| p.into_inner());
            Some(guard)
        }
    }
}

impl<T, O: Order<T>> fmt::Debug for GenericQueue<T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("len", &self.len())
            .field("capacity", &self.cap)
            .finish()
    }
}
