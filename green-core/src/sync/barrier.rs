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
    pub fn wait(&self) -> BarrierWaitResult {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let generation = state.generation;
        state.count += 1;
        if state.count < self.n {
            let _state = self
                .cvar
                .wait_while(state, |s| s.generation == generation)
                .unwrap_or_else(|p| p.into_inner());
            BarrierWaitResult(false)
        } else {
            state.count = 0;
            state.generation = state.generation.wrapping_add(1);
            self.cvar.notify_all();
            BarrierWaitResult(true)
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
