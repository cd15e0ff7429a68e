//! One operation of a [`Select`](super::Select) as it waits in a
//! channel's queue (see [`chan`](super::chan)'s module docs): a
//! [`Packet`] lives in the select's operation and points to the select's
//! [`Signal`]; the channel's queues hold it as
//! [`Entry::Select`](super::chan::Entry::Select).

use std::cell::{Cell, UnsafeCell};
use std::ptr::NonNull;

use super::signal::{Outcome, Signal};

/// One operation of a select, as it registers on its channel (see the
/// module docs): it lives in the select's operation, which stays where it
/// is while the select waits.
#[derive(Debug)]
pub(crate) struct Packet<T> {
    /// The signal of the select's current wait, set by the owner as it
    /// registers the packet (under the lock, before it queues it).
    pub(super) signal: Cell<*const Signal>,
    /// The operation's index within its signal's operations.
    pub(super) op: usize,
    /// A blocked receiver's delivered value, or a blocked sender's offer.
    ///
    /// # Invariant
    ///
    /// The owner puts an offer in before it queues the packet. From then
    /// on, only the side that selects the packet's signal for its operation
    /// touches the slot, under the channel's lock, until it marks the
    /// signal done; nobody else ever does. The owner touches it again once
    /// it holds the channel's lock with the packet out of its queue (or the
    /// signal is done and selected for this operation, which took it out).
    pub(super) slot: UnsafeCell<Option<T>>,
}

impl<T> Packet<T> {
    /// A packet for operation `op` of a select.
    pub(crate) fn new(op: usize) -> Packet<T> {
        Packet {
            signal: Cell::new(std::ptr::null()),
            op,
            slot: UnsafeCell::new(None),
        }
    }

    /// The packet's signal.
    ///
    /// # Safety
    ///
    /// The packet is registered, or was since its signal's wait began, and
    /// that wait is not over: the signal is alive. (Whoever reaches the
    /// packet through a queue, under the lock, may call this: see
    /// [`Entry::Select`](super::chan::Entry::Select).)
    pub(super) unsafe fn signal(&self) -> &Signal {
        // SAFETY: set at registration to the waiting select's signal, which
        // lives (in the select's frame) until the wait is over, as the
        // caller guarantees.
        unsafe { &*self.signal.get() }
    }

    /// The owner takes the value of its selected packet once the signal is
    /// done (a delivered value, or the offer if no one took it).
    pub(crate) fn take_selected(&self, signal: &Signal) -> Option<T> {
        assert!(
            std::ptr::eq(self.signal.get(), signal)
                && signal.is_done()
                && signal.outcome() == Some(Outcome::Selected(self.op)),
            "the packet's own operation was selected and its selector is through"
        );
        // SAFETY: the slot's invariant: the packet's signal is done and was
        // selected for its operation, so its selector is through with the
        // slot and took the packet out of its queue, and no one else
        // touches it; the caller owns the packet (only the owner has the
        // signal, which lives in its frame).
        unsafe { (*self.slot.get()).take() }
    }

    /// Wakes the select and marks its signal done, after a successful
    /// `try_select` for this packet's operation.
    ///
    /// # Safety
    ///
    /// The caller holds the channel's lock, has just taken the packet out
    /// of its queue and selected its signal: the packet and its signal are
    /// alive until the signal is marked done. It must not touch either
    /// after this call, when the select may have left.
    pub(super) unsafe fn complete(packet: NonNull<Packet<T>>) {
        // SAFETY: alive, as the caller guarantees, so is its signal; the
        // select is still blocked in the frames that hold them (it waits
        // for `done`, or for this channel's lock), so the waiter's frame is
        // there.
        let later = unsafe {
            let signal = packet.as_ref().signal();
            signal.waiter().wake_local_or_clone()
        };
        // SAFETY: as above; this store is the last use of the packet and
        // its signal.
        unsafe { packet.as_ref().signal().set_done() };
        if let Some(waiter) = later {
            waiter.wake();
        }
    }
}
