//! The state one channel's senders and receivers share, behind one mutex.
//!
//! Values wait in `queue` (at most `cap` of them; a rendezvous channel has
//! `cap == 0`). Blocked receivers wait in `recvs`, blocked senders in
//! `sends` with the value they offer. Values are handed over *directly*: a
//! sender that finds a blocked receiver puts the value in the receiver's
//! packet and wakes it, so a woken receiver never finds its value stolen,
//! and the order of blocked receivers (FIFO) is the order they are served.
//!
//! A blocked operation waits as one of two kinds of [`Entry`], both records
//! in the waiter's own frames, so that nothing is allocated per wait: a
//! plain `send` or `recv` as a [`Node`] (see [`single`](super::single)), a
//! [`Select`](super::Select)'s operation as a [`Packet`] that points to the
//! select's [`Signal`]. Packets whose signal has already been selected or
//! aborted (the other operations of a select, a timed-out wait) are
//! *stale*: whoever meets one takes it out of its queue and leaves it
//! alone. A node is never stale: it leaves its queue under the lock, either
//! completed or withdrawn by its owner.
//!
//! A value handed to a receiver's packet or node is still the channel's
//! until that receiver takes it out: if it is killed first, the value comes
//! back ([`Locked::give_back`]). While any such value is in flight, the
//! channel is not disconnected for the other receivers even with every
//! sender gone: they wait (or get `Empty`) until the value is taken or
//! given back, so that `Disconnected` always means that no value will ever
//! come, as std's. A receive that gives up (a select's that times out or
//! is unwound, an unwinding plain one) takes its value out under the lock;
//! one that completes (plain or select) without it, so the values in flight
//! are the difference of two counts: `Inner::handed`, under the lock, and
//! `Chan::taken`, an atomic (see [`Chan::took_handed`]).
//!
//! One case keeps a value in flight for good: a receiver whose frames were
//! leaked at its hub's shutdown (a destructor that waited in `recv` or in a
//! select during the forced unwind) stays in `recvs`, and a sender on
//! another thread may still hand it a value, which no one takes or gives
//! back. The other receivers then never see `Disconnected` once every
//! sender is gone (a `recv` waits, a `try_recv` says `Empty`).

use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{TryRecvError, TrySendError};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::packet::Packet;
use super::signal::Signal;
use super::single::Node;

/// A blocked operation in a channel's queue (see the module docs).
#[derive(Debug)]
pub(crate) enum Entry<T> {
    /// An operation of a select.
    ///
    /// # Invariant
    ///
    /// As for `Single`: the packet, and the signal it points to, are alive
    /// and stay where they are for as long as this entry is in a queue, and
    /// also while the packet's channel is locked by someone who met the
    /// entry in a queue under that lock: its select takes the lock of every
    /// channel it registered on before it leaves the frames that hold them
    /// (but for the selected operation's once its signal is done, whose
    /// packet left its queue under the lock before).
    Select(NonNull<Packet<T>>),
    /// A plain `send` or `recv`.
    ///
    /// # Invariant
    ///
    /// The node is alive, and stays where it is, for as long as this entry
    /// is in a queue: its owner removes the entry under the channel's lock
    /// (or sees it completed, which removes it under the lock too) before
    /// it leaves the frame that holds the node, unwinding or not. So under
    /// the lock an entry found in a queue may be dereferenced.
    Single(NonNull<Node<T>>),
}

// SAFETY: an entry is a registration of a blocked operation that may run on
// another thread; it is dereferenced by other threads only under the
// channel's lock, by its invariant (its owner also reads its own node or
// selected packet without the lock once it has seen it completed, with
// Acquire, after which no one else touches it). A node or packet holds a
// `T` (moved between threads through it, hence `T: Send`), atomics or a
// pointer to a signal of atomics, set before the entry is queued, and a
// `FrameWaiter`: a parker that is `Send + Sync`, or a pointer to a
// greenlet's `Greenlet` handle, which is `Sync` and never changes once made
// (see `FrameWaiter`).
unsafe impl<T: Send> Send for Entry<T> {}

impl<T> Entry<T> {
    /// The entry's signal, for a select's.
    ///
    /// # Safety
    ///
    /// The caller holds the channel's lock and met the entry in a queue
    /// (see `Select`'s invariant).
    unsafe fn signal(&self) -> Option<&Signal> {
        match self {
            // SAFETY: alive, by `Select`'s invariant, and registered, so
            // its signal is alive too.
            Entry::Select(p) => Some(unsafe { p.as_ref().signal() }),
            Entry::Single(_) => None,
        }
    }

    /// One of `own`'s packets (a select must not meet itself).
    ///
    /// # Safety
    ///
    /// As for [`signal`](Self::signal).
    unsafe fn is_from(&self, own: Option<&Signal>) -> bool {
        // A plain operation has no packets (and no reason to read them).
        let Some(own) = own else { return false };
        // SAFETY: the caller's.
        unsafe { self.signal() }.is_some_and(|s| std::ptr::eq(s, own))
    }

    /// Still waiting, and not one of `own`'s.
    ///
    /// # Safety
    ///
    /// As for [`signal`](Self::signal).
    unsafe fn is_live_for(&self, own: Option<&Signal>) -> bool {
        // SAFETY: the caller's.
        match unsafe { self.signal() } {
            Some(s) => !own.is_some_and(|own| std::ptr::eq(s, own)) && s.outcome().is_none(),
            None => true,
        }
    }

    /// Ends a wait without completing it (the other side is gone): the
    /// waiter wakes to look again. The caller holds the channel's lock and
    /// has just taken the entry out of its queue.
    fn wake_to_look(self) {
        match self {
            Entry::Select(p) => {
                // SAFETY: just taken out of its queue, under the lock: alive
                // (`Select`'s invariant), and so is its signal; selected,
                // the packet is ours to complete.
                unsafe {
                    if p.as_ref().signal().try_select(p.as_ref().op) {
                        Packet::complete(p);
                    }
                }
            }
            // SAFETY: entries are only reached through the locked state, and
            // this one has just left its queue, so by `Single`'s invariant
            // the node is alive; this is the last use of it.
            Entry::Single(node) => unsafe { Node::complete(node) },
        }
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Chan<T> {
    inner: Mutex<Inner<T>>,
    /// Values handed to plain receivers' nodes and taken out by them,
    /// without the lock ([`took_handed`](Self::took_handed)): the values in
    /// flight are `Inner::handed` minus this (see the module docs).
    taken: AtomicUsize,
    /// Every sender is gone (set under the lock, never cleared): read
    /// without the lock by [`took_handed`](Self::took_handed).
    senders_gone: AtomicBool,
}

#[derive(Debug)]
pub(crate) struct Inner<T> {
    queue: VecDeque<T>,
    cap: usize,
    senders: usize,
    receivers: usize,
    recvs: VecDeque<Entry<T>>,
    sends: VecDeque<Entry<T>>,
    /// Values handed to receivers' packets and nodes and not taken out
    /// under the lock: the values in flight and those counted in
    /// `Chan::taken`.
    handed: usize,
}

/// The channel's state, locked, with the counters that live beside it.
pub(crate) struct Locked<'a, T> {
    inner: MutexGuard<'a, Inner<T>>,
    taken: &'a AtomicUsize,
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
            taken: AtomicUsize::new(0),
            senders_gone: AtomicBool::new(false),
        }
    }

    /// Locks the state. No code panics while holding it except a user's
    /// `Drop`, which cannot leave it inconsistent, so poisoning is ignored.
    pub(crate) fn lock(&self) -> Locked<'_, T> {
        Locked {
            inner: self.inner.lock().unwrap_or_else(PoisonError::into_inner),
            taken: &self.taken,
        }
    }

    /// A plain receive took a handed value out of its node, without the
    /// lock. Once every sender is gone, it takes the lock to wake the other
    /// blocked receivers if that was the last value in flight.
    ///
    /// The two sides meet as in Dekker's algorithm (all `SeqCst`):
    /// [`drop_sender`](Self::drop_sender) sets `senders_gone` and then reads
    /// `taken`, this raises `taken` and then reads `senders_gone`, so at
    /// least one of them sees the other and wakes the receivers. A receiver
    /// that found a value in flight under the lock (and waits) read `taken`
    /// before this raised it, after `senders_gone` was set, so this sees
    /// `senders_gone`.
    pub(crate) fn took_handed(&self) {
        self.taken.fetch_add(1, Ordering::SeqCst);
        if self.senders_gone.load(Ordering::SeqCst) {
            self.lock().wake_receivers_if_disconnected();
        }
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
        if inner.senders == 0 {
            self.senders_gone.store(true, Ordering::SeqCst);
        }
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
            for e in std::mem::take(&mut inner.sends) {
                e.wake_to_look();
            }
            std::mem::take(&mut inner.queue)
        };
        drop(orphans);
    }
}

impl<T> std::ops::Deref for Locked<'_, T> {
    type Target = Inner<T>;

    fn deref(&self) -> &Inner<T> {
        &self.inner
    }
}

impl<T> std::ops::DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut Inner<T> {
        &mut self.inner
    }
}

impl<T> Locked<'_, T> {
    /// Values handed to receivers and not taken out yet.
    fn in_flight(&self) -> usize {
        // Both counts only grow (but for a value taken out under the lock),
        // so they wrap around on a long-lived channel; their difference
        // does not.
        self.handed.wrapping_sub(self.taken.load(Ordering::SeqCst))
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        (self.cap != usize::MAX).then_some(self.cap)
    }

    /// Whether a send would wait for room now (a rendezvous channel is
    /// always full).
    pub(crate) fn is_full(&self) -> bool {
        self.capacity().is_some_and(|cap| self.len() >= cap)
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.senders == 0 || self.receivers == 0
    }

    /// Takes a value: from the queue (refilling it from a blocked sender),
    /// else straight from a blocked sender (rendezvous).
    pub(crate) fn try_recv(&mut self, own: Option<&Signal>) -> Result<T, TryRecvError> {
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
        if self.senders == 0 && self.in_flight() == 0 {
            Err(TryRecvError::Disconnected)
        } else {
            // With a value in flight, it may still come back.
            Err(TryRecvError::Empty)
        }
    }

    /// Delivers a value: to a blocked receiver, else into the queue.
    pub(crate) fn try_send(
        &mut self,
        value: T,
        own: Option<&Signal>,
    ) -> Result<(), TrySendError<T>> {
        if self.receivers == 0 {
            return Err(TrySendError::Disconnected(value));
        }
        let value = match self.hand_to_receiver(value, own) {
            Ok(()) => return Ok(()),
            Err(value) => value,
        };
        if self.queue.len() < self.cap {
            self.inner.queue.push_back(value);
            Ok(())
        } else {
            Err(TrySendError::Full(value))
        }
    }

    /// Would [`try_recv`](Self::try_recv) return something other than
    /// `Empty`?
    pub(crate) fn recv_ready(&self, own: &Signal) -> bool {
        !self.queue.is_empty()
            || (self.senders == 0 && self.in_flight() == 0)
            // SAFETY: met in its queue, under the lock.
            || self.sends.iter().any(|e| unsafe { e.is_live_for(Some(own)) })
    }

    /// Would [`try_send`](Self::try_send) return something other than `Full`?
    pub(crate) fn send_ready(&self, own: &Signal) -> bool {
        self.receivers == 0
            || self.queue.len() < self.cap
            // SAFETY: met in its queue, under the lock.
            || self.recvs.iter().any(|e| unsafe { e.is_live_for(Some(own)) })
    }

    pub(crate) fn wait_recv(&mut self, entry: Entry<T>) {
        self.inner.recvs.push_back(entry);
    }

    pub(crate) fn wait_send(&mut self, entry: Entry<T>) {
        self.inner.sends.push_back(entry);
    }

    /// Queues a select's receive: `packet`, operation of `signal`'s wait.
    ///
    /// # Safety
    ///
    /// `packet` is in no queue, and is only ever registered on this
    /// channel. It stays where it is, and `signal` alive, until the caller
    /// has taken it out again with [`unregister`](Self::unregister) or seen
    /// `signal` done and selected for it ([`Entry::Select`]'s invariant,
    /// which this establishes).
    pub(crate) unsafe fn register_recv(&mut self, packet: &Packet<T>, signal: &Signal) {
        packet.signal.set(signal);
        self.inner
            .recvs
            .push_back(Entry::Select(NonNull::from(packet)));
    }

    /// Queues a select's send of `value`: `packet`, operation of `signal`'s
    /// wait.
    ///
    /// # Safety
    ///
    /// As for [`register_recv`](Self::register_recv).
    pub(crate) unsafe fn register_send(&mut self, packet: &Packet<T>, signal: &Signal, value: T) {
        packet.signal.set(signal);
        // SAFETY: the slot's invariant: the packet is in no queue (the
        // caller's contract), so no selector can reach the slot, and the
        // caller is its owner (`Packet` is not `Sync`: a reference to it
        // does not leave the owner's thread).
        unsafe { *packet.slot.get() = Some(value) };
        self.inner
            .sends
            .push_back(Entry::Select(NonNull::from(packet)));
    }

    /// Takes a select's packet out of its queue if it is still there, and
    /// its value: a receive's delivered value (taken out of the values in
    /// flight), or a send's offer that no one took.
    ///
    /// # Safety
    ///
    /// `packet` is only ever registered on this channel, as a receive if
    /// `recv` (so that a selector that may touch its slot holds this lock).
    pub(crate) unsafe fn unregister(&mut self, packet: &Packet<T>, recv: bool) -> Option<T> {
        let inner = &mut *self.inner;
        let queue = if recv {
            &mut inner.recvs
        } else {
            &mut inner.sends
        };
        let ours = |e: &Entry<T>| matches!(e, Entry::Select(p) if std::ptr::eq(p.as_ptr(), packet));
        if let Some(i) = queue.iter().position(ours) {
            queue.remove(i);
        }
        // SAFETY: the slot's invariant: we hold the lock of the only channel
        // the packet registers on (the caller's contract) and it is out of
        // its queue, so no selector is at it or can reach it; the caller is
        // its owner (`Packet` is not `Sync`).
        let value = unsafe { (*packet.slot.get()).take() };
        if recv && value.is_some() {
            self.handed_back();
        }
        value
    }

    /// Removes a plain operation's node, which must be in a queue.
    pub(crate) fn withdraw(&mut self, node: &Node<T>) {
        let ours = |e: &Entry<T>| matches!(e, Entry::Single(n) if std::ptr::eq(n.as_ptr(), node));
        let inner = &mut *self.inner;
        for queue in [&mut inner.recvs, &mut inner.sends] {
            if let Some(i) = queue.iter().position(ours) {
                queue.remove(i);
                return;
            }
        }
        unreachable!("a waiting node is in its queue");
    }

    /// A plain receive's node, completed, unwinds: the receiver takes the
    /// value handed to it, if there is one. Once no value is in flight and
    /// every sender is gone, the other blocked receivers wake to see the
    /// disconnection.
    ///
    /// # Safety
    ///
    /// The caller is the node's owner and the node is done: it is the
    /// owner's alone again.
    pub(crate) unsafe fn take_handed_node(&mut self, node: NonNull<Node<T>>) -> Option<T> {
        // SAFETY: the node is done and the caller is its owner (the
        // caller's contract), so no one else touches the slot.
        let value = unsafe { Node::take(node) }?;
        self.handed_back();
        Some(value)
    }

    /// One value in flight was taken out of its packet or node.
    fn handed_back(&mut self) {
        self.handed = self.handed.wrapping_sub(1);
        self.wake_receivers_if_disconnected();
    }

    /// Every sender gone and no value in flight: wake every blocked
    /// receiver to see the disconnection.
    fn wake_receivers_if_disconnected(&mut self) {
        if self.senders == 0 && self.in_flight() == 0 {
            for e in std::mem::take(&mut self.inner.recvs) {
                e.wake_to_look();
            }
        }
    }

    /// A value was delivered to a receiver that was killed before it could
    /// take it (it took it back out with
    /// [`take_handed_node`](Self::take_handed_node) or
    /// [`unregister`](Self::unregister), under the same lock): give it to the next receiver, or put it back at
    /// the head of the queue (even past `cap`, even on a rendezvous channel:
    /// its sender was already told it was sent).
    pub(crate) fn give_back(&mut self, value: T) {
        if self.receivers == 0 {
            return;
        }
        if let Err(value) = self.hand_to_receiver(value, None) {
            self.inner.queue.push_front(value);
        }
    }

    fn take_offer(&mut self, own: Option<&Signal>) -> Option<T> {
        let sends = &mut self.inner.sends;
        let mut i = 0;
        while i < sends.len() {
            // SAFETY: met in its queue, under the lock.
            if unsafe { sends[i].is_from(own) } {
                i += 1;
                continue;
            }
            match remove(sends, i) {
                Entry::Select(p) => {
                    // SAFETY: under the lock, just taken out of its queue:
                    // by `Select`'s invariant the packet and its signal are
                    // alive; once selected, the slot is ours until
                    // `complete`, the last use of the packet.
                    unsafe {
                        let packet = p.as_ref();
                        if packet.signal().try_select(packet.op) {
                            let value = (*packet.slot.get()).take();
                            Packet::complete(p);
                            return Some(value.expect("a blocked sender's packet holds its value"));
                        }
                    }
                    // Stale: out of the queue; its select finds it gone.
                }
                Entry::Single(node) => {
                    // SAFETY: under the lock, just taken out of its queue: by
                    // `Single`'s invariant the node is alive, and the slot is
                    // ours until `complete`, the last use of the node.
                    let value = unsafe { Node::take(node) };
                    // SAFETY: as above.
                    unsafe { Node::complete(node) };
                    return Some(value.expect("a blocked sender's node holds its value"));
                }
            }
        }
        None
    }

    fn hand_to_receiver(&mut self, value: T, own: Option<&Signal>) -> Result<(), T> {
        let recvs = &mut self.inner.recvs;
        let mut i = 0;
        while i < recvs.len() {
            // SAFETY: met in its queue, under the lock.
            if unsafe { recvs[i].is_from(own) } {
                i += 1;
                continue;
            }
            match remove(recvs, i) {
                Entry::Select(p) => {
                    // SAFETY: as in `take_offer`.
                    let selected = unsafe {
                        let packet = p.as_ref();
                        packet.signal().try_select(packet.op)
                    };
                    if selected {
                        self.inner.handed = self.handed.wrapping_add(1);
                        // SAFETY: as in `take_offer`.
                        unsafe {
                            *p.as_ref().slot.get() = Some(value);
                            Packet::complete(p);
                        }
                        return Ok(());
                    }
                    // Stale: out of the queue; its select finds it gone.
                }
                Entry::Single(node) => {
                    self.inner.handed = self.handed.wrapping_add(1);
                    // SAFETY: as in `take_offer`.
                    unsafe { Node::put(node, value) };
                    // SAFETY: as in `take_offer`.
                    unsafe { Node::complete(node) };
                    return Ok(());
                }
            }
        }
        Err(value)
    }
}

/// `queue.remove(i)`, cheaper for the head (where a wait is nearly always
/// met: nothing is ahead of it but a select's stale packets).
fn remove<T>(queue: &mut VecDeque<Entry<T>>, i: usize) -> Entry<T> {
    let entry = if i == 0 {
        queue.pop_front()
    } else {
        queue.remove(i)
    };
    entry.expect("index in bounds")
}
