//! The state one channel's senders and receivers share, behind one mutex.
//!
//! Values wait in `queue` (at most `cap` of them; a rendezvous channel has
//! `cap == 0`). Blocked receivers wait in `recvs`, blocked senders in
//! `sends` with the value they offer. Values are handed over *directly*: a
//! sender that finds a blocked receiver puts the value in the receiver's
//! packet and wakes it, so a woken receiver never finds its value stolen,
//! and the order of blocked receivers (FIFO) is the order they are served.
//!
//! Packets whose [`Signal`] has already been selected or aborted (the other
//! operations of a [`Select`](super::Select), a timed-out wait) are *stale*:
//! whoever meets one drops it.
//!
//! A value handed to a receiver's packet is still the channel's until that
//! receiver takes it out (under the lock, as it unregisters): if it is
//! killed first, the value comes back ([`Inner::give_back`]). `handed`
//! counts those values, and while it is not zero the channel is not
//! disconnected for the other receivers even with every sender gone: they
//! wait (or get `Empty`) until the value is taken or given back, so that
//! `Disconnected` always means that no value will ever come, as std's.

use std::collections::VecDeque;
use std::sync::mpsc::{TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::signal::Signal;

/// One operation's registration on one channel (see the module docs).
#[derive(Debug)]
pub(crate) struct Packet<T> {
    pub(crate) signal: Arc<Signal>,
    /// The operation's index within its signal's operations.
    pub(crate) op: usize,
    /// A blocked receiver's delivered value, or a blocked sender's offer.
    pub(crate) slot: Mutex<Option<T>>,
}

impl<T> Packet<T> {
    pub(crate) fn new(signal: &Arc<Signal>, op: usize, value: Option<T>) -> Arc<Packet<T>> {
        Arc::new(Packet {
            signal: signal.clone(),
            op,
            slot: Mutex::new(value),
        })
    }

    pub(crate) fn take(&self) -> Option<T> {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn put(&self, value: T) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    fn is_from(&self, signal: Option<&Arc<Signal>>) -> bool {
        signal.is_some_and(|s| Arc::ptr_eq(s, &self.signal))
    }

    /// Still waiting, and not one of `own`'s (a select must not meet itself).
    fn is_live_for(&self, own: Option<&Arc<Signal>>) -> bool {
        !self.is_from(own) && self.signal.outcome().is_none()
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Chan<T> {
    inner: Mutex<Inner<T>>,
}

#[derive(Debug)]
pub(crate) struct Inner<T> {
    queue: VecDeque<T>,
    cap: usize,
    senders: usize,
    receivers: usize,
    recvs: VecDeque<Arc<Packet<T>>>,
    sends: VecDeque<Arc<Packet<T>>>,
    /// Values in receivers' packets, not taken out yet (see the module
    /// docs).
    handed: usize,
}

impl<T> Chan<T> {
    /// A channel with one sender and one receiver; `cap` is `usize::MAX`
    /// for an unbounded one.
    pub(crate) fn new(cap: usize) -> Chan<T> {
        Chan {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                cap,
                senders: 1,
                receivers: 1,
                recvs: VecDeque::new(),
                sends: VecDeque::new(),
                handed: 0,
            }),
        }
    }

    /// Locks the state. No code panics while holding it except a user's
    /// `Drop`, which cannot leave it inconsistent, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add_sender(&self) {
        self.lock().senders += 1;
    }

    pub(crate) fn add_receiver(&self) {
        self.lock().receivers += 1;
    }

    /// The last sender is gone: wake every blocked receiver to see it.
    pub(crate) fn drop_sender(&self) {
        let mut inner = self.lock();
        inner.senders -= 1;
        inner.wake_receivers_if_disconnected();
    }

    /// The last receiver is gone: wake every blocked sender to see it, and
    /// drop the values nobody can receive any more (outside the lock, since
    /// their destructors are the user's).
    pub(crate) fn drop_receiver(&self) {
        let orphans = {
            let mut inner = self.lock();
            inner.receivers -= 1;
            if inner.receivers > 0 {
                return;
            }
            for p in std::mem::take(&mut inner.sends) {
                if p.signal.try_select(p.op) {
                    p.signal.wake();
                }
            }
            std::mem::take(&mut inner.queue)
        };
        drop(orphans);
    }
}

impl<T> Inner<T> {
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.senders == 0 || self.receivers == 0
    }

    /// Takes a value: from the queue (refilling it from a blocked sender),
    /// else straight from a blocked sender (rendezvous).
    pub(crate) fn try_recv(&mut self, own: Option<&Arc<Signal>>) -> Result<T, TryRecvError> {
        if let Some(value) = self.queue.pop_front() {
            if self.queue.len() < self.cap {
                if let Some(offer) = self.take_offer(own) {
                    self.queue.push_back(offer);
                }
            }
            return Ok(value);
        }
        if let Some(offer) = self.take_offer(own) {
            return Ok(offer);
        }
        if self.senders == 0 && self.handed == 0 {
            Err(TryRecvError::Disconnected)
        } else {
            // With `handed > 0`, a value may still come back.
            Err(TryRecvError::Empty)
        }
    }

    /// Delivers a value: to a blocked receiver, else into the queue.
    pub(crate) fn try_send(
        &mut self,
        value: T,
        own: Option<&Arc<Signal>>,
    ) -> Result<(), TrySendError<T>> {
        if self.receivers == 0 {
            return Err(TrySendError::Disconnected(value));
        }
        let value = match self.hand_to_receiver(value, own) {
            Ok(()) => return Ok(()),
            Err(value) => value,
        };
        if self.queue.len() < self.cap {
            self.queue.push_back(value);
            Ok(())
        } else {
            Err(TrySendError::Full(value))
        }
    }

    /// Would [`try_recv`](Self::try_recv) return something other than
    /// `Empty`?
    pub(crate) fn recv_ready(&self, own: &Arc<Signal>) -> bool {
        !self.queue.is_empty()
            || (self.senders == 0 && self.handed == 0)
            || self.sends.iter().any(|p| p.is_live_for(Some(own)))
    }

    /// Would [`try_send`](Self::try_send) return something other than `Full`?
    pub(crate) fn send_ready(&self, own: &Arc<Signal>) -> bool {
        self.receivers == 0
            || self.queue.len() < self.cap
            || self.recvs.iter().any(|p| p.is_live_for(Some(own)))
    }

    pub(crate) fn wait_recv(&mut self, packet: Arc<Packet<T>>) {
        self.recvs.push_back(packet);
    }

    pub(crate) fn wait_send(&mut self, packet: Arc<Packet<T>>) {
        self.sends.push_back(packet);
    }

    /// Removes a registration, if it is still there.
    pub(crate) fn forget(&mut self, packet: &Arc<Packet<T>>) {
        self.recvs.retain(|p| !Arc::ptr_eq(p, packet));
        self.sends.retain(|p| !Arc::ptr_eq(p, packet));
    }

    /// A receiver takes the value handed to its `packet`, if there is one
    /// (after its signal was selected for it). Once no value is in flight
    /// and every sender is gone, the other blocked receivers wake to see
    /// the disconnection.
    pub(crate) fn take_handed(&mut self, packet: &Packet<T>) -> Option<T> {
        let value = packet.take()?;
        self.handed -= 1;
        self.wake_receivers_if_disconnected();
        Some(value)
    }

    /// Every sender gone and no value in flight: wake every blocked
    /// receiver to see the disconnection.
    fn wake_receivers_if_disconnected(&mut self) {
        if self.senders == 0 && self.handed == 0 {
            for p in std::mem::take(&mut self.recvs) {
                if p.signal.try_select(p.op) {
                    p.signal.wake();
                }
            }
        }
    }

    /// A value was delivered to a receiver that was killed before it could
    /// take it (it took it back out with [`take_handed`](Self::take_handed),
    /// under the same lock): give it to the next receiver, or put it back at
    /// the head of the queue (even past `cap`, even on a rendezvous channel:
    /// its sender was already told it was sent).
    pub(crate) fn give_back(&mut self, value: T) {
        if self.receivers == 0 {
            return;
        }
        if let Err(value) = self.hand_to_receiver(value, None) {
            self.queue.push_front(value);
        }
    }

    fn take_offer(&mut self, own: Option<&Arc<Signal>>) -> Option<T> {
        let mut i = 0;
        while i < self.sends.len() {
            let p = &self.sends[i];
            if p.is_from(own) {
                i += 1;
                continue;
            }
            let p = self.sends.remove(i).expect("index in bounds");
            if p.signal.try_select(p.op) {
                let value = p.take().expect("a blocked sender's packet holds its value");
                p.signal.wake();
                return Some(value);
            }
        }
        None
    }

    fn hand_to_receiver(&mut self, value: T, own: Option<&Arc<Signal>>) -> Result<(), T> {
        let mut i = 0;
        while i < self.recvs.len() {
            let p = &self.recvs[i];
            if p.is_from(own) {
                i += 1;
                continue;
            }
            let p = self.recvs.remove(i).expect("index in bounds");
            if p.signal.try_select(p.op) {
                p.put(value);
                self.handed += 1;
                p.signal.wake();
                return Ok(());
            }
        }
        Err(value)
    }
}
