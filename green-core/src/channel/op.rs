//! The operations of a [`Select`](super::Select) and the loop that waits
//! for any of them. (A plain `recv` or `send` waits without this machinery:
//! see [`single`](super::single).)
//!
//! The loop: register every operation in order, each under its channel's
//! lock, and stop at the first that is ready (it completes at once: the
//! first added wins when several are ready); if none is, wait until the
//! other side selects one (or the deadline aborts the signal); unregister
//! the others; finish the selected one. If the selected operation turns out
//! to have nothing to do (the sender it was matched with gave up
//! meanwhile), start over. With a deadline already past (a default), the
//! operations are only tried, in order.
//!
//! The [`Signal`] lives in this loop's frame and each operation's
//! [`Packet`] in the operation, which the select keeps in place while it
//! waits: nothing is allocated per wait. The operations are used through
//! shared references only, since other threads reach their packets while
//! they are registered.

use std::cell::Cell;
use std::sync::mpsc::{RecvError, SendError, TryRecvError, TrySendError};
use std::time::Instant;

use super::chan::Chan;
use super::packet::Packet;
use super::signal::{Outcome, Signal};
use crate::hub::Cut;

/// What [`Op::register`] did.
pub(crate) enum Registration {
    /// The packet is in place; wait.
    Waiting,
    /// The signal is already selected (by this operation, which may have
    /// completed, or by another side for an earlier one): stop registering.
    Stop,
}

/// One operation of a select (see the module docs).
pub(crate) trait Op {
    /// Completes the operation now if it can, storing its result.
    fn try_now(&self) -> bool;
    /// Registers on the channel for `signal`'s wait; if the channel is
    /// ready, selects `signal` for this operation and completes instead.
    ///
    /// # Safety
    ///
    /// The operation is not registered (never was, or was unregistered or
    /// taken out with [`take_selected`](Self::take_selected) since). It
    /// stays where it is, and `signal` alive, until one of those two has
    /// been called for it: its packet may be in a queue until then.
    unsafe fn register(&self, signal: &Signal) -> Registration;
    /// Removes the registration, if there is one; a receive selected by a
    /// sender takes the value delivered to its packet.
    fn unregister(&self);
    /// Once `signal` is done and selected for this operation (its packet
    /// is out of its queue): takes what the other side left in the packet,
    /// without the channel's lock.
    fn take_selected(&self, signal: &Signal);
    /// After being selected and unregistered: completes with what the other
    /// side delivered. Returns `false` if there was nothing after all.
    fn finish(&self) -> bool;
    /// Being unwound (killed) after being selected, instead of
    /// [`unregister`](Self::unregister): removes the registration and hands
    /// a delivered value back to the channel, under one lock, so that it is
    /// not lost.
    fn give_back(&self);
    /// A send: once selected, its value may be the other side's already,
    /// so a timeout that fires then does not undo it (see `wait_any`).
    fn is_send(&self) -> bool;
}

/// Waits until one of `ops` completes and returns its index, or returns
/// `None` when `deadline` passes first (at once, if `deadline` has passed).
/// `ops[i]` must have been made for index `i`.
pub(crate) fn wait_any<O: Op + ?Sized>(
    ops: &[Box<O>],
    deadline: Option<Instant>,
    reason: &'static str,
) -> Option<usize> {
    loop {
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return ops.iter().position(|op| op.try_now());
        }
        let signal = Signal::new();
        let mut registered = Registered {
            ops,
            count: 0,
            signal: &signal,
        };
        let mut waiting = true;
        for (i, op) in ops.iter().enumerate() {
            // Counted first: whatever happens, `registered` unregisters it.
            registered.count = i + 1;
            // SAFETY: each operation registers once per signal (every one
            // was unregistered, or taken out, before the previous signal
            // went); `ops` is borrowed, its boxes in place, until this call
            // returns, and `signal`, declared before `registered`, outlives
            // it: `registered` unregisters the first `count` operations (or
            // takes out the selected one) before either goes, unwinding or
            // not.
            let r = unsafe { op.register(&signal) };
            if let Registration::Stop = r {
                waiting = false;
                break;
            }
        }
        let outcome = if waiting {
            match signal.wait(reason, deadline) {
                Ok(outcome) => outcome,
                // A timeout fired: abort, unless a send was selected first
                // (its value is the receiver's): then it completes, and the
                // timeout waits for the next switch point. A receive
                // selected first gives its value back as it unwinds.
                Err(Cut::Timeout) => match signal.abort() {
                    Outcome::Selected(i) if ops[i].is_send() => Outcome::Selected(i),
                    _ => {
                        crate::park::raise_pending();
                        unreachable!("a wait cut by a timeout raises it");
                    }
                },
                Err(_) => {
                    crate::park::raise_pending();
                    unreachable!("a wait cut by a kill raises it");
                }
            }
        } else {
            signal.outcome().expect("register stops only once selected")
        };
        registered.unregister(outcome);
        drop(registered);
        match outcome {
            Outcome::Aborted => return None,
            Outcome::Selected(i) => {
                if ops[i].finish() {
                    return Some(i);
                }
            }
        }
    }
}

/// The registered prefix of a select's operations. Dropped without
/// [`unregister`](Self::unregister) only when the waiting greenlet is
/// unwound (killed): then it aborts the signal, or, if the other side got
/// there first, gives the delivered value back.
struct Registered<'a, O: Op + ?Sized> {
    ops: &'a [Box<O>],
    count: usize,
    signal: &'a Signal,
}

impl<O: Op + ?Sized> Registered<'_, O> {
    /// After the wait ended with `outcome`: takes every packet out of its
    /// queue, the selected one without the lock if its selector is done
    /// (it took it out), the others under their channel's lock (the
    /// selector may still be at work under it, or a stale packet be met).
    fn unregister(&mut self, outcome: Outcome) {
        for (i, op) in self.ops[..self.count].iter().enumerate() {
            if outcome == Outcome::Selected(i) && self.signal.is_done() {
                op.take_selected(self.signal);
            } else {
                op.unregister();
            }
        }
        self.count = 0;
    }
}

impl<O: Op + ?Sized> Drop for Registered<'_, O> {
    fn drop(&mut self) {
        if self.count == 0 {
            return;
        }
        // Give back first: the selected receive takes its value out of its
        // packet and returns it to the channel under one lock, so no other
        // receiver sees the channel without it in between (and reports a
        // disconnection the value would then belie).
        if let Outcome::Selected(i) = self.signal.abort() {
            self.ops[i].give_back();
        }
        for op in &self.ops[..self.count] {
            op.unregister();
        }
    }
}

/// A receive on `chan`.
pub(crate) struct RecvOp<'a, T> {
    chan: &'a Chan<T>,
    packet: Packet<T>,
    /// The packet is (or may still be) in the channel's queue.
    registered: Cell<bool>,
    result: Cell<Option<Result<T, RecvError>>>,
}

impl<'a, T> RecvOp<'a, T> {
    /// A receive, operation `index` of its select.
    pub(crate) fn new(chan: &'a Chan<T>, index: usize) -> Self {
        RecvOp {
            chan,
            packet: Packet::new(index),
            registered: Cell::new(false),
            result: Cell::new(None),
        }
    }

    /// The result of the completed receive.
    pub(crate) fn result(&self) -> Option<Result<T, RecvError>> {
        self.result.take()
    }

    fn store(&self, r: Result<T, TryRecvError>) -> bool {
        match r {
            Ok(v) => self.result.set(Some(Ok(v))),
            Err(TryRecvError::Disconnected) => self.result.set(Some(Err(RecvError))),
            Err(TryRecvError::Empty) => return false,
        }
        true
    }
}

impl<T> Op for RecvOp<'_, T> {
    fn try_now(&self) -> bool {
        let r = self.chan.lock().try_recv(None);
        self.store(r)
    }

    unsafe fn register(&self, signal: &Signal) -> Registration {
        let mut inner = self.chan.lock();
        if inner.recv_ready(signal) {
            if signal.try_select(self.packet.op) {
                let r = inner.try_recv(Some(signal));
                drop(inner);
                self.store(r);
            }
            return Registration::Stop;
        }
        // SAFETY: the packet is in no queue and only registers on `chan`;
        // it stays in place, and `signal` alive, until it is unregistered
        // or taken out (our caller's contract).
        unsafe { inner.register_recv(&self.packet, signal) };
        self.registered.set(true);
        Registration::Waiting
    }

    fn unregister(&self) {
        if self.registered.replace(false) {
            // SAFETY: the packet only registers on `chan`, as a receive.
            let value = unsafe { self.chan.lock().unregister(&self.packet, true) };
            if let Some(value) = value {
                self.result.set(Some(Ok(value)));
            }
        }
    }

    fn take_selected(&self, signal: &Signal) {
        self.registered.set(false);
        if let Some(value) = self.packet.take_selected(signal) {
            self.chan.took_handed();
            self.result.set(Some(Ok(value)));
        }
    }

    fn finish(&self) -> bool {
        // A value delivered to the packet is in `result` (`unregister`);
        // none means a disconnection woke us, or a sender gave up: look.
        is_some(&self.result) || self.try_now()
    }

    fn give_back(&self) {
        let mut inner = self.chan.lock();
        if self.registered.replace(false) {
            // SAFETY: the packet only registers on `chan`, as a receive.
            if let Some(value) = unsafe { inner.unregister(&self.packet, true) } {
                self.result.set(Some(Ok(value)));
            }
        }
        if let Some(Ok(value)) = self.result.take() {
            inner.give_back(value);
        }
    }

    fn is_send(&self) -> bool {
        false
    }
}

/// A send of `value` on `chan`.
pub(crate) struct SendOp<'a, T> {
    chan: &'a Chan<T>,
    packet: Packet<T>,
    /// The packet is (or may still be) in the channel's queue, with the
    /// value.
    registered: Cell<bool>,
    /// The value, while it is not registered nor sent.
    value: Cell<Option<T>>,
    result: Cell<Option<Result<(), SendError<T>>>>,
}

impl<'a, T> SendOp<'a, T> {
    /// A send of `value`, operation `index` of its select.
    pub(crate) fn new(chan: &'a Chan<T>, value: T, index: usize) -> Self {
        SendOp {
            chan,
            packet: Packet::new(index),
            registered: Cell::new(false),
            value: Cell::new(Some(value)),
            result: Cell::new(None),
        }
    }

    /// The result of the completed send.
    pub(crate) fn result(&self) -> Option<Result<(), SendError<T>>> {
        self.result.take()
    }

    fn store(&self, r: Result<(), TrySendError<T>>) -> bool {
        match r {
            Ok(()) => self.result.set(Some(Ok(()))),
            Err(TrySendError::Disconnected(v)) => self.result.set(Some(Err(SendError(v)))),
            Err(TrySendError::Full(v)) => {
                self.value.set(Some(v));
                return false;
            }
        }
        true
    }
}

impl<T> Op for SendOp<'_, T> {
    fn try_now(&self) -> bool {
        let Some(value) = self.value.take() else {
            return is_some(&self.result);
        };
        let r = self.chan.lock().try_send(value, None);
        self.store(r)
    }

    unsafe fn register(&self, signal: &Signal) -> Registration {
        let mut inner = self.chan.lock();
        if inner.send_ready(signal) {
            if signal.try_select(self.packet.op) {
                let value = self.value.take().expect("an unsent value");
                let r = inner.try_send(value, Some(signal));
                drop(inner);
                self.store(r);
            }
            return Registration::Stop;
        }
        let value = self.value.take().expect("an unsent value");
        // SAFETY: as in `RecvOp::register`.
        unsafe { inner.register_send(&self.packet, signal, value) };
        self.registered.set(true);
        Registration::Waiting
    }

    fn unregister(&self) {
        if self.registered.replace(false) {
            // Not taken by a receiver: the value comes back to us.
            // SAFETY: the packet only registers on `chan`, as a send.
            let value = unsafe { self.chan.lock().unregister(&self.packet, false) };
            self.value.set(value);
        }
    }

    fn take_selected(&self, signal: &Signal) {
        self.registered.set(false);
        // Still there: a disconnection woke us to look.
        self.value.set(self.packet.take_selected(signal));
    }

    fn finish(&self) -> bool {
        if is_some(&self.result) {
            return true;
        }
        if !is_some(&self.value) {
            // A receiver took it.
            self.result.set(Some(Ok(())));
            return true;
        }
        self.try_now()
    }

    fn give_back(&self) {}

    fn is_send(&self) -> bool {
        true
    }
}

/// Whether `cell` holds a value (a `Cell` of a non-`Copy` value is only
/// read by taking it out).
fn is_some<T>(cell: &Cell<Option<T>>) -> bool {
    let value = cell.take();
    let some = value.is_some();
    cell.set(value);
    some
}
