//! The hub's inbox for wake-ups sent from other threads.
//!
//! [`Greenlet::unpark`](crate::Greenlet::unpark) called from a thread other
//! than the greenlet's hub pushes `(slot, id)` here and notifies the poller,
//! at most once per hub loop iteration. The hub drains the inbox at the top
//! of every iteration. [`Remote`] is `Send + Sync` and outlives its hub:
//! pushes after the hub is gone are dropped.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::epoll::Epoll;
use crate::greenlet::GreenletId;

pub(crate) struct Remote {
    poller: Arc<Epoll>,
    inbox: Mutex<Vec<(u32, GreenletId)>>,
    /// Something was pushed since the hub last drained (and the poller has
    /// been notified).
    pending: AtomicBool,
    closed: AtomicBool,
    /// Blocking jobs (see `unblock`) started by this hub's greenlets and not
    /// finished yet: while any is out, the hub is not deadlocked.
    jobs: AtomicUsize,
}

impl Remote {
    pub(crate) fn new(poller: Arc<Epoll>) -> Self {
        Remote {
            poller,
            inbox: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            jobs: AtomicUsize::new(0),
        }
    }

    /// Queues a wake-up for the greenlet in `slot` with identifier `id`.
    pub(crate) fn push(&self, slot: u32, id: GreenletId) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        self.inbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((slot, id));
        if !self.pending.swap(true, Ordering::AcqRel) {
            // A failed notify leaves the wake-up queued: the hub still drains
            // it at its next iteration.
            let _ = self.poller.notify();
        }
    }

    /// Whether wake-ups may be waiting.
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Moves every queued wake-up into `out`.
    pub(crate) fn drain(&self, out: &mut Vec<(u32, GreenletId)>) {
        if self.pending.swap(false, Ordering::AcqRel) {
            out.append(&mut self.inbox.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.inbox.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub(crate) fn job_started(&self) {
        self.jobs.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn job_finished(&self) {
        self.jobs.fetch_sub(1, Ordering::AcqRel);
    }

    /// What other threads may still do for this hub: whether blocking jobs
    /// are out, and whether wake-ups are waiting in the inbox.
    ///
    /// The count is read first. A job queues its wake-up and then counts
    /// itself finished, so a count of zero comes with its wake-up visible
    /// (Acquire on the count, Release in `job_finished` after `push`). Read
    /// the other way round, a job could queue and finish between the two
    /// reads: neither a job out nor a wake-up waiting, and its greenlet
    /// would be declared deadlocked (it happened, about once in a million
    /// jobs).
    pub(crate) fn outstanding(&self) -> (bool, bool) {
        let jobs = self.jobs.load(Ordering::Acquire) > 0;
        #[cfg(test)]
        tests::between_the_reads(self);
        (jobs, self.has_pending())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Run by `outstanding` between its two reads, in these tests.
        static BETWEEN: Cell<Option<fn(&Remote)>> = const { Cell::new(None) };
    }

    pub(super) fn between_the_reads(remote: &Remote) {
        if let Some(f) = BETWEEN.take() {
            f(remote);
        }
    }

    #[test]
    fn a_job_that_finishes_between_the_reads_still_shows() {
        let remote = Remote::new(Arc::new(Epoll::new().unwrap()));
        remote.job_started();
        assert_eq!(remote.outstanding(), (true, false), "out, no wake-up yet");
        // What the pool thread does, at the worst moment.
        BETWEEN.set(Some(|remote| {
            remote.push(0, GreenletId::new(0, 0));
            remote.job_finished();
        }));
        assert_ne!(remote.outstanding(), (false, false), "it shows somewhere");
        assert_eq!(remote.outstanding(), (false, true), "its wake-up waits");
    }
}
