//! The run queue.
//!
//! # The ordering users may rely on
//!
//! The queue is strictly FIFO, and one hub loop iteration runs exactly the
//! greenlets that were in the queue when the iteration began, in queue order.
//! A greenlet that becomes ready during an iteration (spawned, woken, or
//! yielding with [`yield_now`](crate::yield_now)) goes to the back and runs in
//! the next iteration, after the hub has fired due timers and (every few
//! iterations, or when nothing is ready) polled for IO.
//!
//! So, with no IO and no timers involved, execution order is fully
//! deterministic: `spawn(a); spawn(b); yield_now()` runs `a`, then `b`, then
//! the caller again; two greenlets that `yield_now` in a loop alternate.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::greenlet::Core;

#[derive(Default)]
pub(crate) struct ReadyQueue {
    queue: VecDeque<Rc<Core>>,
}

impl ReadyQueue {
    #[inline]
    pub(crate) fn push(&mut self, g: Rc<Core>) {
        self.queue.push_back(g);
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Rc<Core>> {
        self.queue.pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}
