//! The rendezvous point of one blocking [`Select`](super::Select).
//!
//! A blocked select registers a [`Packet`](super::packet::Packet) on every
//! channel it waits on; all its packets point to one `Signal`. The signal
//! and the packets live in the select's own frames (a greenlet's stack, or
//! the heap boxes its `Select` owns, stay where they are while it waits):
//! nothing is allocated per wait. Whoever completes the operation (a sender
//! handing over a value, a receiver taking one, a disconnection) first
//! *selects* the signal, and only the winner of that compare-and-swap may
//! touch the operation's packets; it does so under the channel's lock,
//! wakes the select and marks the signal [`done`](Signal::is_done) as its
//! last touch. A timeout or a kill *aborts* the signal the same way, so
//! exactly one of them happens.
//!
//! Everyone else who meets a packet whose signal is selected or aborted
//! (a *stale* one) only reads the signal's state, under that channel's
//! lock; so the select, before it leaves the frames, takes the lock of
//! every channel it registered on, but for the selected operation's once
//! the signal is done (its packet is out of its queue by then).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use crate::hub::Cut;
use crate::park::FrameWaiter;

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
    /// Set (`Release`) by the side that selected the signal, under its
    /// channel's lock, as its last touch of the signal and its packets.
    done: AtomicBool,
    waiter: FrameWaiter,
}

impl Signal {
    /// A signal for an operation of the running greenlet (or thread), to
    /// live in its frame while it waits.
    pub(crate) fn new() -> Signal {
        Signal {
            state: AtomicUsize::new(WAITING),
            done: AtomicBool::new(false),
            waiter: FrameWaiter::current(),
        }
    }

    /// Claims the operation for its operation `op`. Only the caller that gets
    /// `true` may complete it; it must then wake the select and mark the
    /// signal done, both under the lock it holds
    /// ([`Packet::complete`](super::packet::Packet::complete)).
    pub(crate) fn try_select(&self, op: usize) -> bool {
        self.state
            .compare_exchange(WAITING, FIRST + op, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The select's waiter, for [`Packet::complete`](super::packet::Packet::complete).
    pub(crate) fn waiter(&self) -> &FrameWaiter {
        &self.waiter
    }

    /// Marks the signal done: the side that selected it is through with it.
    /// The last touch of the signal by that side.
    pub(crate) fn set_done(&self) {
        self.done.store(true, Ordering::Release);
    }

    /// The side that selected the signal is through with it and its packets
    /// (see the module docs).
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
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
    /// is selected and done, or `deadline` passes; then the outcome (on a
    /// deadline, an operation selected meanwhile may not be done yet).
    /// `reason` names the wait in deadlock reports. A kill or a fired
    /// timeout that ends the wait is returned, still pending, for the
    /// caller to raise (see `FrameWaiter::block_or_cut`).
    pub(crate) fn wait(
        &self,
        reason: &'static str,
        deadline: Option<Instant>,
    ) -> Result<Outcome, Cut> {
        loop {
            if self.is_done() {
                return Ok(self.outcome().expect("a done signal is selected"));
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                return Ok(self.abort());
            }
            match self.waiter.block_or_cut(reason, deadline) {
                Cut::No => {}
                cut => return Err(cut),
            }
        }
    }
}

fn decode(state: usize) -> Outcome {
    match state {
        ABORTED => Outcome::Aborted,
        selected => Outcome::Selected(selected - FIRST),
    }
}
