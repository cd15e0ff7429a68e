//! A plain blocking `send` or `recv`: one operation on one channel, without
//! the select machinery.
//!
//! The operation tries under the channel's lock and, if it must wait,
//! registers in the same critical section a [`Node`] that lives in its own
//! stack frame (a greenlet's stack stays where it is while it is parked):
//! nothing is allocated. The other side completes it under the lock: it
//! takes the node out of the queue, puts the value in (or takes the
//! offered one out), wakes the waiter and marks the node done, its last
//! touch. The waiter sees `done` and finishes without taking the lock
//! again. Only a waiter that gives up (its deadline passed, or it is
//! unwound: killed, a `green::timeout` fired) takes the lock, to withdraw
//! its node or, if it was completed meanwhile, to keep the result (a
//! timeout) or hand a received value back to the channel (an unwind).
//!
//! A node completed with nothing done (a receive woken by the last sender
//! leaving, a send by the last receiver) looks at the channel again.

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, TryRecvError, TrySendError};
use std::time::Instant;

use super::chan::{Chan, Entry};
use super::error::SendTimeoutError;
use crate::hub::Cut;
use crate::park::FrameWaiter;

/// A blocked plain operation, in its owner's frame, linked into the
/// channel's queue as an [`Entry::Single`].
#[derive(Debug)]
pub(crate) struct Node<T> {
    /// Set (`Release`) by whoever completes the node, under the channel's
    /// lock, as its last touch; from then on the node is its owner's alone.
    done: AtomicBool,
    /// A receive's delivered value, or a send's offer.
    ///
    /// # Invariant
    ///
    /// While the node is in a queue, only code holding the channel's lock
    /// touches the slot; once it is done (or withdrawn), only its owner.
    slot: UnsafeCell<Option<T>>,
    waiter: FrameWaiter,
}

impl<T> Node<T> {
    fn new() -> Node<T> {
        Node {
            done: AtomicBool::new(false),
            slot: UnsafeCell::new(None),
            waiter: FrameWaiter::current(),
        }
    }

    fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Takes the value out of the slot.
    ///
    /// # Safety
    ///
    /// The caller may touch the slot (see its invariant): it holds the
    /// channel's lock and the node is in (or was just taken out of) a
    /// queue, or it is the node's owner and the node is done or withdrawn.
    pub(crate) unsafe fn take(node: NonNull<Node<T>>) -> Option<T> {
        // SAFETY: the node is alive (the caller's contract: it is queued, or
        // ours) and nobody else touches the slot now (the slot's invariant).
        unsafe { (*(*node.as_ptr()).slot.get()).take() }
    }

    /// Puts a value in the slot.
    ///
    /// # Safety
    ///
    /// As for [`take`](Self::take).
    pub(crate) unsafe fn put(node: NonNull<Node<T>>, value: T) {
        // SAFETY: as in `take`.
        unsafe { *(*node.as_ptr()).slot.get() = Some(value) };
    }

    /// Wakes the owner and marks the node done.
    ///
    /// # Safety
    ///
    /// The caller holds the channel's lock and has just taken the node out
    /// of its queue, so the node is alive until it is marked done; it must
    /// not touch the node after this call, when its owner may have left.
    pub(crate) unsafe fn complete(node: NonNull<Node<T>>) {
        // SAFETY: alive, as the caller guarantees, so its owner is still
        // blocked in the frame that holds it; the borrow ends before the
        // node is marked done.
        let later = unsafe { node.as_ref().waiter.wake_local_or_clone() };
        // SAFETY: alive until this store, which is the last use of the node:
        // a waiter of another thread may free it as soon as it sees it.
        unsafe { (*node.as_ptr()).done.store(true, Ordering::Release) };
        if let Some(waiter) = later {
            waiter.wake();
        }
    }
}

/// A registered node's withdrawal if its owner unwinds while it waits.
struct Waiting<'a, T> {
    chan: &'a Chan<T>,
    node: &'a Node<T>,
    recv: bool,
}

impl<T> Drop for Waiting<'_, T> {
    /// Unwinding (killed, a `green::timeout` fired): withdraws the node if
    /// it is still queued. A receive completed meanwhile gives its value
    /// back to the channel, under the same lock, so that no other receiver
    /// sees the channel without it in between; a send completed meanwhile
    /// was sent (or, disconnected, drops its value with the node).
    fn drop(&mut self) {
        let mut inner = self.chan.lock();
        if !self.node.is_done() {
            inner.withdraw(self.node);
            return;
        }
        if self.recv {
            // SAFETY: the node is done, and ours.
            if let Some(value) = unsafe { inner.take_handed_node(NonNull::from(self.node)) } {
                inner.give_back(value);
            }
        }
    }
}

/// Waits until `node`, registered on `chan`, is done (`true`), or withdraws
/// it once `deadline` passes (`false`).
fn wait_done<T>(
    chan: &Chan<T>,
    node: &Node<T>,
    recv: bool,
    deadline: Option<Instant>,
    reason: &'static str,
) -> bool {
    let waiting = Waiting { chan, node, recv };
    let done = loop {
        if node.is_done() {
            break true;
        }
        if deadline.is_some_and(|at| Instant::now() >= at) {
            let mut inner = chan.lock();
            if node.is_done() {
                break true; // completed first: the operation happened
            }
            inner.withdraw(node);
            break false;
        }
        match node.waiter.block_or_cut(reason, deadline) {
            Cut::No => {}
            cut => {
                if !recv && cut == Cut::Timeout {
                    // A send whose timeout fired. Under the lock, so that
                    // no receiver (of another thread) takes the value
                    // between the look and the withdrawal.
                    let mut inner = chan.lock();
                    if node.is_done() {
                        // A receiver took it first: it was sent, whatever
                        // the timeout says; it is raised at the next switch
                        // point, as after any wake that delivered.
                        break true;
                    }
                    inner.withdraw(node);
                    drop(inner);
                    // Withdrawn already: nothing left for `Waiting`.
                    std::mem::forget(waiting);
                }
                // Otherwise `Waiting` withdraws the node as it unwinds, or
                // gives a value handed to a receiver back to the channel.
                crate::park::raise_pending();
                unreachable!("a wait cut by a kill or a timeout raises it");
            }
        }
    };
    std::mem::forget(waiting);
    done
}

/// A blocking receive on `chan`; `Timeout` once `deadline` passes (at once
/// if it has passed and there is no value).
pub(crate) fn recv<T>(
    chan: &Chan<T>,
    deadline: Option<Instant>,
    reason: &'static str,
) -> Result<T, RecvTimeoutError> {
    let mut inner = chan.lock();
    match inner.try_recv(None) {
        Ok(value) => return Ok(value),
        Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
        Err(TryRecvError::Empty) => {}
    }
    let node = Node::new();
    let ptr = NonNull::from(&node);
    loop {
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return Err(RecvTimeoutError::Timeout);
        }
        inner.wait_recv(Entry::Single(ptr));
        drop(inner);
        let done = wait_done(chan, &node, true, deadline, reason);
        // SAFETY: done or withdrawn: the node is ours again.
        if let Some(value) = unsafe { Node::take(ptr) } {
            chan.took_handed();
            return Ok(value);
        }
        if !done {
            return Err(RecvTimeoutError::Timeout);
        }
        // Woken to look (every sender is gone): look again.
        node.done.store(false, Ordering::Relaxed);
        inner = chan.lock();
        match inner.try_recv(None) {
            Ok(value) => return Ok(value),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
    }
}

/// A blocking send of `value` on `chan`; `Timeout` with the value once
/// `deadline` passes (at once if it has passed and there is no room).
pub(crate) fn send<T>(
    chan: &Chan<T>,
    value: T,
    deadline: Option<Instant>,
    reason: &'static str,
) -> Result<(), SendTimeoutError<T>> {
    let mut inner = chan.lock();
    let value = match inner.try_send(value, None) {
        Ok(()) => return Ok(()),
        Err(TrySendError::Disconnected(value)) => {
            return Err(SendTimeoutError::Disconnected(value))
        }
        Err(TrySendError::Full(value)) => value,
    };
    let node = Node::new();
    let ptr = NonNull::from(&node);
    let mut value = value;
    loop {
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return Err(SendTimeoutError::Timeout(value));
        }
        // SAFETY: not queued: the node is ours.
        unsafe { Node::put(ptr, value) };
        inner.wait_send(Entry::Single(ptr));
        drop(inner);
        let done = wait_done(chan, &node, false, deadline, reason);
        // SAFETY: done or withdrawn: the node is ours again.
        value = match unsafe { Node::take(ptr) } {
            None => return Ok(()), // a receiver took it
            Some(value) if !done => return Err(SendTimeoutError::Timeout(value)),
            Some(value) => value,
        };
        // Woken to look (every receiver is gone): look again.
        node.done.store(false, Ordering::Relaxed);
        inner = chan.lock();
        value = match inner.try_send(value, None) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(value)) => {
                return Err(SendTimeoutError::Disconnected(value))
            }
            Err(TrySendError::Full(value)) => value,
        };
    }
}
