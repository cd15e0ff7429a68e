//! The sending end.

use std::fmt;
use std::sync::mpsc::{SendError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chan::Chan;
use super::error::SendTimeoutError;
use super::single;

/// The sending end of a [`channel`](super::channel()). Clone it for more
/// producers; the channel disconnects when the last clone is dropped.
///
/// # Examples
///
/// ```
/// green::run(|| {
///     let (tx, rx) = green::channel::unbounded();
///     for id in 0..3 {
///         let tx = tx.clone();
///         green::spawn(move || tx.send(id).unwrap());
///     }
///     drop(tx);
///     let mut got: Vec<i32> = rx.iter().collect();
///     got.sort();
///     assert_eq!(got, [0, 1, 2]);
/// });
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    pub(super) fn new(chan: Arc<Chan<T>>) -> Self {
        Sender { chan }
    }

    /// Sends `value`, waiting while the channel is full (for a rendezvous
    /// channel: until a receiver has taken it). Inside [`run`](crate::run())
    /// the greenlet waits and the hub runs others; outside, the thread
    /// blocks.
    ///
    /// # Errors
    ///
    /// When every [`Receiver`](super::Receiver) is gone, returns the value
    /// in a [`SendError`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green::channel::unbounded();
    /// tx.send(1).unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.send_deadline_inner(value, None, "channel send") {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Disconnected(v)) => Err(SendError(v)),
            Err(SendTimeoutError::Timeout(_)) => unreachable!("no deadline"),
        }
    }

    /// Sends `value` if that can be done without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] when the channel is full (for a rendezvous
    /// channel: when no receiver is waiting), [`TrySendError::Disconnected`]
    /// when every receiver is gone; both hand the value back.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::channel::{bounded, TrySendError};
    /// let (tx, _rx) = bounded(1);
    /// assert_eq!(tx.try_send('a'), Ok(()));
    /// assert_eq!(tx.try_send('b'), Err(TrySendError::Full('b')));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.lock().try_send(value, None)
    }

    /// Like [`send`](Self::send), but gives up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] when the time is up,
    /// [`SendTimeoutError::Disconnected`] when every receiver is gone; both
    /// hand the value back.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let (tx, _rx) = green::channel::channel();
    ///     let err = tx.send_timeout("hi", Duration::from_millis(5)).unwrap_err();
    ///     assert!(err.is_timeout());
    /// });
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        let deadline = Instant::now().checked_add(timeout);
        self.send_deadline_inner(value, deadline, "channel send_timeout")
    }

    /// Like [`send`](Self::send), but gives up at `deadline`.
    ///
    /// # Errors
    ///
    /// As for [`send_timeout`](Self::send_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = green::channel::bounded(1);
    /// let soon = Instant::now() + Duration::from_millis(5);
    /// assert!(tx.send_deadline(1, soon).is_ok());
    /// assert!(tx.send_deadline(2, soon).unwrap_err().is_timeout());
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline_inner(value, Some(deadline), "channel send_deadline")
    }

    fn send_deadline_inner(
        &self,
        value: T,
        deadline: Option<Instant>,
        reason: &'static str,
    ) -> Result<(), SendTimeoutError<T>> {
        single::send(&self.chan, value, deadline, reason)
    }

    /// The number of values waiting in the channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = green::channel::unbounded();
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().len()
    }

    /// Whether no value is waiting in the channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = green::channel::unbounded::<()>();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a [`send`](Self::send) would wait for room now. A
    /// rendezvous channel is always full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = green::channel::bounded(1);
    /// tx.send(()).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.lock().is_full()
    }

    /// The channel's capacity: `Some(0)` for a rendezvous channel, `None`
    /// for an unbounded one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(green::channel::bounded::<()>(8).0.capacity(), Some(8));
    /// assert_eq!(green::channel::unbounded::<()>().0.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.lock().capacity()
    }

    /// Whether every receiver (or every sender) is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green::channel::unbounded::<()>();
    /// drop(rx);
    /// assert!(tx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.chan.lock().is_disconnected()
    }

    /// Whether `self` and `other` are ends of the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = green::channel::unbounded::<()>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    pub(super) fn chan(&self) -> &Chan<T> {
        &self.chan
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}
