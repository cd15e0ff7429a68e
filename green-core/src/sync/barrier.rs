//! [`Barrier`]: `std::sync::Barrier` whose wait parks the greenlet.

use std::fmt;

use super::{Condvar, Mutex};

/// A barrier enables multiple greenlets (or threads) to synchronize the
/// beginning of some computation, with the API of [`std::sync::Barrier`].
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use green::sync::Barrier;
///
/// green::run(|| {
///     let barrier = Rc::new(Barrier::new(10));
///     let handles: Vec<_> = (0..10)
///         .map(|_| {
///             let b = barrier.clone();
///             // All "before wait"s are printed before any "after wait".
///             green::spawn(move || {
///                 println!("before wait");
///                 let leader = b.wait().is_leader();
///                 println!("after wait");
///                 leader
///             })
///         })
///         .collect();
///     let results = green::joinall(handles);
///     let leaders = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
///     assert_eq!(leaders, 1);
/// });
/// ```
pub struct Barrier {
    state: Mutex<State>,
    cvar: Condvar,
    n: usize,
}

struct State {
    count: usize,
    generation: u64,
}

/// Returned by [`Barrier::wait`] to each waiter; exactly one per
/// generation is the leader. std's type cannot be made outside std; this
/// one prints as std's does (`BarrierWaitResult { is_leader: true }`).
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this waiter is the leader (the last to arrive).
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = green::sync::Barrier::new(1);
    /// assert!(barrier.wait().is_leader());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// Creates a new barrier that can block a given number of greenlets or
    /// threads. A barrier of 0 or 1 never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = green::sync::Barrier::new(10);
    /// # drop(barrier);
    /// ```
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            state: Mutex::new(State {
                count: 0,
                generation: 0,
            }),
            cvar: Condvar::new(),
            n,
        }
    }

    /// Waits until all `n` have called `wait`, then lets them all go on.
    /// The barrier is reusable after that.
    ///
    /// A waiter unwound while it waits (its greenlet
    /// [killed](crate::JoinHandle::kill), a [`timeout`](crate::timeout())
    /// fired, or a panic) withdraws its arrival: the barrier still waits
    /// for `n` live parties, in this generation and the next. (std's
    /// threads cannot be killed, so std's barrier has no such case.) If the
    /// barrier was released before the waiter could withdraw, the release
    /// stands: the others go on, and the unwound waiter simply does not
    /// see it. A waiter the barrier released keeps its release if it is
    /// killed before it runs again: it unwinds at its next switch point.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use green::sync::Barrier;
    ///
    /// // Works between threads too.
    /// let barrier = Arc::new(Barrier::new(3));
    /// let threads: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let b = barrier.clone();
    ///         std::thread::spawn(move || b.wait().is_leader())
    ///     })
    ///     .collect();
    /// let leaders = threads.into_iter().map(|t| t.join().unwrap());
    /// assert_eq!(leaders.filter(|&l| l).count(), 1);
    /// ```
    ///
    /// A killed waiter, and one that timed out, withdraw:
    ///
    /// ```
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use green::sync::Barrier;
    ///
    /// green::run(|| {
    ///     let barrier = Rc::new(Barrier::new(2));
    ///     let b = barrier.clone();
    ///     let killed = green::spawn(move || b.wait().is_leader());
    ///     green::yield_now(); // it waits
    ///     killed.kill(); // and withdraws
    ///     // Alone, this one waits too, until its timeout withdraws it.
    ///     assert!(green::timeout(Duration::from_millis(5), || barrier.wait()).is_err());
    ///     let b = barrier.clone();
    ///     let other = green::spawn(move || b.wait().is_leader());
    ///     green::yield_now(); // it waits
    ///     assert!(barrier.wait().is_leader()); // the second live party: all pass
    ///     assert!(!other.join().unwrap());
    /// });
    /// ```
    pub fn wait(&self) -> BarrierWaitResult {
        let mut state = self.lock();
        let generation = state.generation;
        state.count += 1;
        if state.count < self.n {
            let arrived = Arrived {
                barrier: self,
                generation,
            };
            let state = self
                .cvar
                .wait_while(state, |s| s.generation == generation)
                .unwrap_or_else(|p| p.into_inner());
            // Released: nothing to withdraw (and the lock is held).
            std::mem::forget(arrived);
            drop(state);
            BarrierWaitResult(false)
        } else {
            state.count = 0;
            state.generation = state.generation.wrapping_add(1);
            self.cvar.notify_all();
            BarrierWaitResult(true)
        }
    }

    fn lock(&self) -> super::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A waiter's arrival. Dropped only when the wait unwinds (a kill, a
/// timeout, a panic), which happens with the lock released: it withdraws
/// the arrival unless the generation has been released meanwhile.
struct Arrived<'a> {
    barrier: &'a Barrier,
    generation: u64,
}

impl Drop for Arrived<'_> {
    fn drop(&mut self) {
        let mut state = self.barrier.lock();
        if state.generation == self.generation {
            // Counted in this generation, which is not complete: count >= 1.
            state.count -= 1;
        }
    }
}

impl fmt::Debug for BarrierWaitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult")
            .field("is_leader", &self.is_leader())
            .finish()
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}
