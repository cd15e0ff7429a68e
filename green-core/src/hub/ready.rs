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
//! One ring (`VecDeque`) holds the batch being run at its front and the next
//! batch behind it, and a count says how many entries at the front are the
//! batch. Starting a batch ([`start_batch`]) is setting that count to the
//! ring's length; whatever becomes ready meanwhile is pushed at the back,
//! behind the count. The ring keeps its capacity forever.
//!
//! The batch lives in the hub rather than on the loop's stack because a
//! greenlet that suspends takes the next one of the batch itself and
//! switches to it straight away (see `Hub::suspend_running`): running a
//! batch is then one resume from the loop, not one per greenlet.
//!
//! Until 2026-12-03 the queue was two `Vec`s, swapped at each batch and the
//! batch reversed, so that popping from its back ran it in queue order.
//! Callgrind counted fewer instructions for that (155 per yield between two
//! greenlets against the ring's 171), but the reversal of a batch of two,
//! which LLVM turns into one 16-byte load of two pointers stored apart a
//! moment before, could not be served from the store buffer: `perf` put
//! two thirds of the batch start's samples on that load, and the ring
//! yields 18% faster (median of ten interleaved runs, 19.2 ns against
//! 15.7 ns, the ring ahead in ten of ten).
//!
//! [`start_batch`]: ReadyQueue::start_batch

use std::collections::VecDeque;
use std::rc::Rc;

use crate::greenlet::Core;

#[derive(Default)]
pub(crate) struct ReadyQueue {
    /// The batch being run (its first `batch` entries), then the next one.
    ring: VecDeque<Rc<Core>>,
    /// How many entries at the front belong to the batch being run.
    batch: usize,
}

impl ReadyQueue {
    #[inline]
    pub(crate) fn push(&mut self, g: Rc<Core>) {
        self.ring.push_back(g);
    }

    /// Makes everything queued so far the batch (which must be done).
    #[inline]
    pub(crate) fn start_batch(&mut self) {
        debug_assert_eq!(self.batch, 0);
        self.batch = self.ring.len();
    }

    /// The next greenlet of the batch. It may no longer be ready (killed
    /// before it started, say): the caller checks.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Rc<Core>> {
        if self.batch == 0 {
            return None;
        }
        self.batch -= 1;
        self.ring.pop_front()
    }

    /// Pushes `g` (if any), then pops: one borrow of the hub's queue for a
    /// greenlet that yields and hands the thread on.
    #[inline]
    pub(crate) fn push_pop(&mut self, g: Option<Rc<Core>>) -> Option<Rc<Core>> {
        if let Some(g) = g {
            self.push(g);
        }
        self.pop()
    }

    /// The greenlet that runs `i` places after the one the next
    /// [`pop`](Self::pop) of this batch returns (`upcoming(0)` is that one),
    /// in this batch or the next: the ring is in the order they run. For
    /// prefetching: an entry may turn out stale when its turn comes, and
    /// greenlets queued meanwhile run after all of these.
    #[inline(always)]
    pub(crate) fn upcoming(&self, i: usize) -> Option<&Rc<Core>> {
        self.ring.get(i)
    }

    /// Whether nothing is queued for the next batch.
    pub(crate) fn is_empty(&self) -> bool {
        self.ring.len() == self.batch
    }

    /// Whether the batch being run is done.
    pub(crate) fn batch_done(&self) -> bool {
        self.batch == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::greenlet::finished_cores as cores;

    #[test]
    fn what_is_pushed_during_a_batch_waits_for_the_next() {
        let c = cores(4);
        let mut q = ReadyQueue::default();
        q.push(c[0].clone());
        q.push(c[1].clone());
        assert!(q.pop().is_none(), "no batch started");
        q.start_batch();
        assert!(q.is_empty(), "all of it is the batch");
        assert!(Rc::ptr_eq(&q.pop().unwrap(), &c[0]));
        q.push(c[2].clone());
        assert!(!q.is_empty());
        assert!(Rc::ptr_eq(&q.push_pop(Some(c[3].clone())).unwrap(), &c[1]));
        assert!(q.pop().is_none(), "the batch is over");
        assert!(q.batch_done());
        q.start_batch();
        for want in [&c[2], &c[3]] {
            assert!(Rc::ptr_eq(&q.pop().unwrap(), want));
        }
        assert!(q.pop().is_none() && q.is_empty());
    }

    #[test]
    fn upcoming_names_the_greenlets_in_the_order_they_run() {
        let cores = cores(4);
        let mut q = ReadyQueue::default();
        for c in &cores[..3] {
            q.push(c.clone());
        }
        q.start_batch();
        assert!(Rc::ptr_eq(q.upcoming(0).unwrap(), &cores[0]));
        assert!(Rc::ptr_eq(&q.pop().unwrap(), &cores[0]));
        // queued during the batch: after the batch's own
        q.push(cores[3].clone());
        for (i, want) in cores[1..].iter().enumerate() {
            assert!(Rc::ptr_eq(q.upcoming(i).unwrap(), want));
        }
        assert!(q.upcoming(3).is_none());
        assert!(Rc::ptr_eq(&q.pop().unwrap(), &cores[1]));
        assert!(Rc::ptr_eq(&q.pop().unwrap(), &cores[2]));
        assert!(q.pop().is_none(), "the batch is over");
        // the next batch's first, before it starts
        assert!(Rc::ptr_eq(q.upcoming(0).unwrap(), &cores[3]));
        q.start_batch();
        assert!(Rc::ptr_eq(&q.pop().unwrap(), &cores[3]));
        assert!(q.upcoming(0).is_none());
    }
}
