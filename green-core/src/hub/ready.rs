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
//! Two `Vec`s: the queue, which greenlets are pushed onto, and the batch
//! being run. At the start of an iteration the hub loop (or the greenlet
//! that ends a batch, see `Hub::start_next_batch_here`) swaps them
//! ([`start_batch`]) and reverses the batch, so that popping from its back
//! runs it in queue order; whatever becomes ready meanwhile is pushed onto
//! the queue, which is the next batch. The two `Vec`s serve forever.
//! Measured with callgrind on two greenlets yielding to each other, per
//! yield (when the loop kept the batch on its own stack): this 202
//! instructions; `Vec::drain` (its drop is out of line) 213; slots of
//! `Option` taken in order 211; `VecDeque` for both 212.
//!
//! The batch lives in the hub rather than on the loop's stack because a
//! greenlet that suspends takes the next one of the batch itself and
//! switches to it straight away (see `Hub::suspend_running`): running a
//! batch is then one resume from the loop, not one per greenlet.
//!
//! [`start_batch`]: ReadyQueue::start_batch

use std::rc::Rc;

use crate::greenlet::Core;

#[derive(Default)]
pub(crate) struct ReadyQueue {
    /// The next batch, in queue order.
    queue: Vec<Rc<Core>>,
    /// The batch being run, last first.
    batch: Vec<Rc<Core>>,
}

impl ReadyQueue {
    #[inline]
    pub(crate) fn push(&mut self, g: Rc<Core>) {
        self.queue.push(g);
    }

    /// Makes everything queued so far the batch (which must be done).
    #[inline]
    pub(crate) fn start_batch(&mut self) {
        debug_assert!(self.batch.is_empty());
        std::mem::swap(&mut self.queue, &mut self.batch);
        match self.batch.len() {
            0 | 1 => {}
            // `reverse`'s set-up costs more than this whole swap
            2 => self.batch.swap(0, 1),
            _ => self.batch.reverse(),
        }
    }

    /// The next greenlet of the batch. It may no longer be ready (killed
    /// before it started, say): the caller checks.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Rc<Core>> {
        self.batch.pop()
    }

    /// Pushes `g` (if any), then pops: one borrow of the hub's queue for a
    /// greenlet that yields and hands the thread on.
    #[inline]
    pub(crate) fn push_pop(&mut self, g: Option<Rc<Core>>) -> Option<Rc<Core>> {
        if let Some(g) = g {
            self.queue.push(g);
        }
        self.batch.pop()
    }

    /// The greenlet of the batch the next [`pop`](Self::pop) returns, if
    /// any.
    #[inline(always)]
    pub(crate) fn upcoming(&self) -> Option<&Rc<Core>> {
        self.batch.last()
    }

    /// Whether nothing is queued for the next batch.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether the batch being run is done.
    pub(crate) fn batch_done(&self) -> bool {
        self.batch.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coroutine::Coroutine;
    use crate::greenlet::GreenletId;

    #[test]
    fn upcoming_names_the_greenlet_the_next_pop_returns() {
        let cores: Vec<Rc<Core>> = (0..3u32)
            .map(|i| {
                let mut co = Coroutine::new(64 * 1024, || {}).unwrap();
                co.resume_alone(); // done: a record that may be dropped
                Rc::new(Core::new(GreenletId::new(0, i.into()), None, i, co))
            })
            .collect();
        let mut q = ReadyQueue::default();
        for c in &cores {
            q.push(c.clone());
        }
        assert!(q.upcoming().is_none(), "queued, not a batch yet");
        q.start_batch();
        for c in &cores {
            assert!(Rc::ptr_eq(q.upcoming().unwrap(), c));
            assert!(Rc::ptr_eq(&q.pop().unwrap(), c));
        }
        assert!(q.upcoming().is_none());
    }
}
