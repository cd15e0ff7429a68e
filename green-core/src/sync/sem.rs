//! [`RawSemaphore`]: the fair, counting wait queue that every lock of this
//! module is built on.
//!
//! Waiters are served strictly first come, first served: a release hands
//! permits to the waiter at the head of the queue (waking it) before anyone
//! else may take them, so nobody barges past a waiter and nobody starves
//! (a waiting writer holds back later readers of an
//! [`RwLock`](super::RwLock)). A greenlet waits by parking, letting its hub
//! run others; a thread outside `run` blocks; either may release permits
//! that the other waits for.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::park::Waiter;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct RawSemaphore {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    permits: usize,
    queue: VecDeque<Arc<Node>>,
}

/// A waiting acquirer.
#[derive(Debug)]
struct Node {
    want: usize,
    /// Set (under the state lock) when the permits were handed over.
    granted: AtomicBool,
    waiter: Waiter,
}

impl RawSemaphore {
    pub(crate) const fn new(permits: usize) -> RawSemaphore {
        RawSemaphore {
            state: Mutex::new(State {
                permits,
                queue: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `n` permits if they are free and nobody waits before us.
    pub(crate) fn try_acquire(&self, n: usize) -> bool {
        let mut state = self.lock();
        if state.queue.is_empty() && state.permits >= n {
            state.permits -= n;
            true
        } else {
            false
        }
    }

    /// Takes `n` permits, waiting in line for them until `deadline`.
    /// Returns `false` if the deadline passed first. A greenlet killed while
    /// waiting leaves the line (handing on permits granted meanwhile).
    pub(crate) fn acquire(
        &self,
        n: usize,
        reason: &'static str,
        deadline: Option<Instant>,
    ) -> bool {
        let node = {
            let mut state = self.lock();
            if state.queue.is_empty() && state.permits >= n {
                state.permits -= n;
                return true;
            }
            let node = Arc::new(Node {
                want: n,
                granted: AtomicBool::new(false),
                waiter: Waiter::current(),
            });
            state.queue.push_back(node.clone());
            node
        };
        let waiting = InLine {
            sem: self,
            node,
            armed: true,
        };
        loop {
            if waiting.node.granted.load(Ordering::Acquire) {
                waiting.done();
                return true;
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                // Leave the line, unless the permits came meanwhile.
                return waiting.leave();
            }
            waiting.node.waiter.block(reason, deadline);
        }
    }

    /// Returns `n` permits, handing them to the waiters at the head of the
    /// line as far as they go.
    pub(crate) fn release(&self, n: usize) {
        let mut state = self.lock();
        state.permits += n;
        state.serve();
    }
}

impl State {
    fn serve(&mut self) {
        while let Some(head) = self.queue.front() {
            if self.permits < head.want {
                break;
            }
            self.permits -= head.want;
            let node = self.queue.pop_front().expect("a head");
            node.granted.store(true, Ordering::Release);
            node.waiter.wake();
        }
    }
}

/// A place in line; dropped while still `armed` (a kill unwinding the
/// waiter), it leaves the line and hands back permits granted meanwhile.
struct InLine<'a> {
    sem: &'a RawSemaphore,
    node: Arc<Node>,
    armed: bool,
}

impl InLine<'_> {
    /// Granted: nothing to undo.
    fn done(mut self) {
        self.armed = false;
    }

    /// Leaves the line; returns whether the permits had been granted (then
    /// the caller keeps them).
    fn leave(mut self) -> bool {
        self.armed = false;
        let mut state = self.sem.lock();
        let granted = self.node.granted.load(Ordering::Acquire);
        if !granted {
            state.queue.retain(|n| !Arc::ptr_eq(n, &self.node));
            // Our leaving may let smaller requests behind us through.
            state.serve();
        }
        granted
    }
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.sem.lock();
        if self.node.granted.load(Ordering::Acquire) {
            state.permits += self.node.want;
        } else {
            state.queue.retain(|n| !Arc::ptr_eq(n, &self.node));
        }
        state.serve();
    }
}

/// `n` permits of a [`RawSemaphore`], returned when dropped.
#[derive(Debug)]
pub(crate) struct Permit<'a>(pub(crate) &'a RawSemaphore, pub(crate) usize);

impl Permit<'_> {
    /// Keeps `n` of the permits and returns the others at once, serving
    /// the waiters they are enough for.
    pub(crate) fn keep(mut self, n: usize) -> Self {
        let rest = self.1 - n;
        self.1 = n;
        self.0.release(rest);
        self
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}
