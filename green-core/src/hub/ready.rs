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
//!
//! # How
//!
//! The queue is a plain `Vec` that greenlets are pushed onto. At the start of
//! an iteration the hub loop swaps it for an empty one ([`take_batch`]) and
//! runs the batch it got in queue order (reversed, then popped from the
//! back); whatever becomes ready meanwhile is pushed onto the fresh `Vec`,
//! which is the next batch. Two `Vec`s serve forever (the emptied batch
//! comes back as the next spare), and popping from the batch needs no borrow
//! of the hub's queue. Measured with callgrind on two greenlets yielding to
//! each other, per yield: this 202 instructions; `Vec::drain` (its drop is
//! out of line) 213; slots of `Option` taken in order 211; `VecDeque` for
//! both 212.
//!
//! [`take_batch`]: ReadyQueue::take_batch

use std::rc::Rc;

use crate::greenlet::Core;

#[derive(Default)]
pub(crate) struct ReadyQueue {
    queue: Batch,
}

/// What [`ReadyQueue::take_batch`] hands out: the greenlets in queue order.
pub(crate) type Batch = Vec<Rc<Core>>;

impl ReadyQueue {
    #[inline]
    pub(crate) fn push(&mut self, g: Rc<Core>) {
        self.queue.push(g);
    }

    /// Hands out everything queued so far, in order, and keeps `spare` (which
    /// must be empty) as the queue.
    #[inline]
    pub(crate) fn take_batch(&mut self, spare: Batch) -> Batch {
        debug_assert!(spare.is_empty());
        std::mem::replace(&mut self.queue, spare)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}
