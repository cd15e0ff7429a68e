//! The rendezvous point of one blocking [`Select`](super::Select).
//!
//! A blocked select registers a [`Packet`](super::chan::Packet) on every
//! channel it waits on; all its packets share one `Signal`. Whoever completes
//! the operation (a sender handing over a value, a receiver taking one, a
//! disconnection) first *selects* the signal, and only the winner of that
//! compare-and-swap may touch the operation's packets. A timeout or a kill
//! *aborts* the signal the same way, so exactly one of them happens.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::park::{block, Waiter};

/// Not selected yet.
const WAITING: usize = 0;
/// Timed out or killed: nobody may complete the operation any more.
const ABORTED: usize = 1;
/// `FIRST + i` means operation `i` was selected.
const FIRST: usize = 2;

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Operation `i` was selected by the other side.
    Selected(usize),
    /// The deadline passed first.
    Aborted,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Signal {
    state: AtomicUsize,
    waiter: Waiter,
}

impl Signal {
    /// A signal for an operation of the running greenlet (or thread).
    pub(crate) fn new() -> Signal {
        Signal {
            state: AtomicUsize::new(WAITING),
            waiter: Waiter::current(),
        }
    }

    /// Claims the operation for its operation `op`. Only the caller that gets
    /// `true` may complete it; it must then call [`wake`](Self::wake).
    pub(crate) fn try_select(&self, op: usize) -> bool {
        self.state
            .compare_exchange(WAITING, FIRST + op, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Wakes the blocked side after a successful [`try_select`](Self::try_select).
    pub(crate) fn wake(&self) {
        self.waiter.wake();
    }

    /// Gives up waiting. If the other side selected the operation first,
    /// returns what it selected instead.
    pub(crate) fn abort(&self) -> Outcome {
        match self
            .state
            .compare_exchange(WAITING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Outcome::Aborted,
            Err(state) => decode(state),
        }
    }

    /// The outcome, if there is one yet.
    pub(crate) fn outcome(&self) -> Option<Outcome> {
        match self.state.load(Ordering::Acquire) {
            WAITING => None,
            state => Some(decode(state)),
        }
    }

    /// Blocks the greenlet (or the thread outside `run`) until the operation
    /// is selected or `deadline` passes. `reason` names the wait in deadlock
    /// reports.
    pub(crate) fn wait(&self, reason: &'static str, deadline: Option<Instant>) -> Outcome {
        loop {
            if let Some(outcome) = self.outcome() {
                return outcome;
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                return self.abort();
            }
            block(reason, deadline);
        }
    }
}

fn decode(state: usize) -> Outcome {
    match state {
        ABORTED => Outcome::Aborted,
        selected => Outcome::Selected(selected - FIRST),
    }
}
