//! The operations of a [`Select`](super::Select) and the loop that waits
//! for any of them. (A plain `recv` or `send` waits without this machinery:
//! see [`single`](super::single).)
//!
//! The loop: try every operation in order; if none can complete, register a
//! packet on each channel, all sharing one [`Signal`], and wait until the
//! other side selects one (or the deadline aborts the signal); unregister
//! all; finish the selected one. If the selected operation turns out to have
//! nothing to do (the sender it was matched with gave up meanwhile), start
//! over.

use std::sync::mpsc::{RecvError, SendError, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use super::chan::{Chan, Entry, Packet};
use super::signal::{Outcome, Signal};

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
    fn try_now(&mut self) -> bool;
    /// Registers on the channel as operation `index` of `signal`; if the
    /// channel is ready, selects `signal` for `index` and completes instead.
    fn register(&mut self, signal: &Arc<Signal>, index: usize) -> Registration;
    /// Removes the registration; a receive selected by a sender takes the
    /// value delivered to its packet.
    fn unregister(&mut self);
    /// After being selected and unregistered: completes with what the other
    /// side delivered. Returns `false` if there was nothing after all.
    fn finish(&mut self) -> bool;
    /// Being unwound (killed) after being selected, instead of
    /// [`unregister`](Self::unregister): removes the registration and hands
    /// a delivered value back to the channel, under one lock, so that it is
    /// not lost.
    fn give_back(&mut self);
}

/// Waits until one of `ops` completes and returns its index, or returns
/// `None` when `deadline` passes first (at once, if `deadline` has passed).
pub(crate) fn wait_any(
    ops: &mut [&mut dyn Op],
    deadline: Option<Instant>,
    reason: &'static str,
) -> Option<usize> {
    loop {
        if let Some(i) = ops.iter_mut().position(|op| op.try_now()) {
            return Some(i);
        }
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return None;
        }
        let signal = Arc::new(Signal::new());
        let mut registered = Registered {
            ops: &mut *ops,
            count: 0,
            signal: &signal,
        };
        let mut waiting = true;
        for i in 0..registered.ops.len() {
            let r = registered.ops[i].register(&signal, i);
            registered.count = i + 1;
            if let Registration::Stop = r {
                waiting = false;
                break;
            }
        }
        let outcome = if waiting {
            signal.wait(reason, deadline)
        } else {
            signal.outcome().expect("register stops only once selected")
        };
        registered.unregister();
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
struct Registered<'a, 'o> {
    ops: &'a mut [&'o mut dyn Op],
    count: usize,
    signal: &'a Signal,
}

impl Registered<'_, '_> {
    fn unregister(&mut self) {
        for op in &mut self.ops[..self.count] {
            op.unregister();
        }
        self.count = 0;
    }
}

impl Drop for Registered<'_, '_> {
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
        self.unregister();
    }
}

/// A receive on `chan`.
pub(crate) struct RecvOp<'a, T> {
    chan: &'a Chan<T>,
    packet: Option<Arc<Packet<T>>>,
    pub(crate) result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvOp<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>) -> Self {
        RecvOp {
            chan,
            packet: None,
            result: None,
        }
    }

    fn store(&mut self, r: Result<T, TryRecvError>) -> bool {
        match r {
            Ok(v) => self.result = Some(Ok(v)),
            Err(TryRecvError::Disconnected) => self.result = Some(Err(RecvError)),
            Err(TryRecvError::Empty) => return false,
        }
        true
    }
}

impl<T> Op for RecvOp<'_, T> {
    fn try_now(&mut self) -> bool {
        let r = self.chan.lock().try_recv(None);
        self.store(r)
    }

    fn register(&mut self, signal: &Arc<Signal>, index: usize) -> Registration {
        let mut inner = self.chan.lock();
        if inner.recv_ready(signal) {
            if signal.try_select(index) {
                let r = inner.try_recv(Some(signal));
                drop(inner);
                self.store(r);
            }
            return Registration::Stop;
        }
        let packet = Packet::new(signal, index, None);
        inner.wait_recv(Entry::Select(packet.clone()));
        self.packet = Some(packet);
        Registration::Waiting
    }

    fn unregister(&mut self) {
        if let Some(p) = self.packet.take() {
            let mut inner = self.chan.lock();
            inner.forget(&p);
            // Only a packet selected for this operation can hold a value.
            if p.signal.outcome() == Some(Outcome::Selected(p.op)) {
                if let Some(value) = inner.take_handed(&p) {
                    self.result = Some(Ok(value));
                }
            }
        }
    }

    fn finish(&mut self) -> bool {
        // A value delivered to the packet is in `result` (`unregister`);
        // none means a disconnection woke us, or a sender gave up: look.
        self.result.is_some() || self.try_now()
    }

    fn give_back(&mut self) {
        let mut inner = self.chan.lock();
        if let Some(p) = self.packet.take() {
            inner.forget(&p);
            if let Some(value) = inner.take_handed(&p) {
                self.result = Some(Ok(value));
            }
        }
        if let Some(Ok(value)) = self.result.take() {
            inner.give_back(value);
        }
    }
}

/// A send of `value` on `chan`.
pub(crate) struct SendOp<'a, T> {
    chan: &'a Chan<T>,
    value: Option<T>,
    packet: Option<Arc<Packet<T>>>,
    pub(crate) result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendOp<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>, value: T) -> Self {
        SendOp {
            chan,
            value: Some(value),
            packet: None,
            result: None,
        }
    }

    fn store(&mut self, r: Result<(), TrySendError<T>>) -> bool {
        match r {
            Ok(()) => self.result = Some(Ok(())),
            Err(TrySendError::Disconnected(v)) => self.result = Some(Err(SendError(v))),
            Err(TrySendError::Full(v)) => {
                self.value = Some(v);
                return false;
            }
        }
        true
    }
}

impl<T> Op for SendOp<'_, T> {
    fn try_now(&mut self) -> bool {
        let Some(value) = self.value.take() else {
            return self.result.is_some();
        };
        let r = self.chan.lock().try_send(value, None);
        self.store(r)
    }

    fn register(&mut self, signal: &Arc<Signal>, index: usize) -> Registration {
        let mut inner = self.chan.lock();
        if inner.send_ready(signal) {
            if signal.try_select(index) {
                let value = self.value.take().expect("an unsent value");
                let r = inner.try_send(value, Some(signal));
                drop(inner);
                self.store(r);
            }
            return Registration::Stop;
        }
        let packet = Packet::new(signal, index, self.value.take());
        inner.wait_send(Entry::Select(packet.clone()));
        self.packet = Some(packet);
        Registration::Waiting
    }

    fn unregister(&mut self) {
        if let Some(p) = self.packet.take() {
            self.chan.lock().forget(&p);
            // Not taken by a receiver: the value comes back to us.
            if let Some(value) = p.take() {
                self.value = Some(value);
            }
        }
    }

    fn finish(&mut self) -> bool {
        if self.result.is_some() {
            return true;
        }
        if self.value.is_none() {
            // A receiver took it.
            self.result = Some(Ok(()));
            return true;
        }
        self.try_now()
    }

    fn give_back(&mut self) {}
}
