//! The hub's inbox for wake-ups sent from other threads.
//!
//! [`Greenlet::unpark`](crate::Greenlet::unpark) (or the crate's own
//! `Greenlet::signal`) called from a thread other than the greenlet's hub
//! pushes `(slot, id, kind)` here and notifies the poller,
//! at most once per hub loop iteration. The hub drains the inbox at the top
//! of every iteration. [`Remote`] is `Send + Sync` and outlives its hub:
//! pushes after the hub is gone are dropped.
//!
//! A blocking job (see `unblock`) ends with [`Remote::job_done`]: its
//! caller's wake-up and the news that the job is over arrive together, so
//! the hub, which counts its jobs out itself, counts one back exactly when
//! it takes that wake-up in. Until then the job is out, and its wake-up is
//! still to come and will notify the poller: a hub with nothing else to do
//! may block for it without a timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::epoll::Epoll;
use crate::greenlet::{GreenletId, WaitKind};

pub(crate) struct Remote {
    poller: Arc<Epoll>,
    inbox: Mutex<Inbox>,
    /// Something was pushed since the hub last drained (and the poller has
    /// been notified).
    pending: AtomicBool,
    closed: AtomicBool,
}

#[derive(Default)]
struct Inbox {
    wakeups: Vec<(u32, GreenletId, WaitKind)>,
    /// Blocking jobs that finished since the hub last drained.
    jobs_done: usize,
}

impl Remote {
    pub(crate) fn new(poller: Arc<Epoll>) -> Self {
        Remote {
            poller,
            inbox: Mutex::new(Inbox::default()),
            pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// Queues a wake-up for the greenlet in `slot` with identifier `id`.
    pub(crate) fn push(&self, slot: u32, id: GreenletId, kind: WaitKind) {
        self.deliver(slot, id, kind, 0);
    }

    /// Queues the wake-up of the greenlet in `slot` with identifier `id`,
    /// whose blocking job is done, and counts the job finished.
    pub(crate) fn job_done(&self, slot: u32, id: GreenletId) {
        self.deliver(slot, id, WaitKind::Signal, 1);
    }

    fn deliver(&self, slot: u32, id: GreenletId, kind: WaitKind, jobs_done: usize) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        {
            let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
            inbox.wakeups.push((slot, id, kind));
            inbox.jobs_done += jobs_done;
        }
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

    /// Moves every queued wake-up into `out`; returns how many blocking jobs
    /// finished meanwhile.
    pub(crate) fn drain(&self, out: &mut Vec<(u32, GreenletId, WaitKind)>) -> usize {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return 0;
        }
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        out.append(&mut inbox.wakeups);
        std::mem::take(&mut inbox.jobs_done)
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        *inbox = Inbox::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_job_comes_with_its_wake_up() {
        let remote = Remote::new(Arc::new(Epoll::new().unwrap()));
        let mut out = Vec::new();
        assert_eq!(remote.drain(&mut out), 0);
        remote.push(1, GreenletId::new(0, 1), WaitKind::Token);
        remote.job_done(2, GreenletId::new(0, 2));
        assert!(remote.has_pending());
        assert_eq!(remote.drain(&mut out), 1, "one job done");
        assert_eq!(out.len(), 2, "both wake-ups");
        assert_eq!(out[0].2, WaitKind::Token, "an unpark ends a park");
        assert_eq!(out[1].2, WaitKind::Signal, "a job's end ends a signal wait");
        assert!(!remote.has_pending());
        assert_eq!(remote.drain(&mut out), 0, "counted once");
    }
}
