//! The receiving end, and its iterators.

use std::fmt;
use std::sync::mpsc::{RecvError, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chan::Chan;
use super::single;

/// The receiving end of a [`channel`](super::channel()). Clone it for more
/// consumers: each value goes to exactly one of them.
///
/// # Examples
///
/// ```
/// green::run(|| {
///     let (tx, rx) = green::channel::bounded(2);
///     let workers: Vec<_> = (0..2)
///         .map(|_| {
///             let rx = rx.clone();
///             green::spawn(move || rx.iter().sum::<u32>())
///         })
///         .collect();
///     for i in 1..=10 {
///         tx.send(i).unwrap();
///     }
///     drop(tx);
///     let total: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
///     assert_eq!(total, 55);
/// });
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Receiver<T> {
    pub(super) fn new(chan: Arc<Chan<T>>) -> Self {
        Receiver { chan }
    }

    /// Receives a value, waiting until there is one. Inside
    /// [`run`](crate::run()) the greenlet waits and the hub runs others;
    /// outside, the thread blocks.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is empty and every
    /// [`Sender`](super::Sender) is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let (tx, rx) = green::channel::channel();
    ///     green::spawn(move || tx.send("hello").unwrap());
    ///     assert_eq!(rx.recv(), Ok("hello"));
    ///     assert!(rx.recv().is_err()); // the sender is gone
    /// });
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_deadline_inner(None, "channel recv")
            .map_err(|_| RecvError)
    }

    /// Receives a value if one is there (or a sender waits with one).
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when there is none yet,
    /// [`TryRecvError::Disconnected`] when there will be none. With every
    /// sender gone, a value handed to another receiver that has not taken
    /// it yet may still come back (if that receiver is killed first): until
    /// then, `Empty`.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::channel::{unbounded, TryRecvError};
    /// let (tx, rx) = unbounded();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(5).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.lock().try_recv(None)
    }

    /// Like [`recv`](Self::recv), but gives up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] when the time is up,
    /// [`RecvTimeoutError::Disconnected`] as [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use green::channel::RecvTimeoutError;
    /// green::run(|| {
    ///     let (_tx, rx) = green::channel::unbounded::<()>();
    ///     let got = rx.recv_timeout(Duration::from_millis(5));
    ///     assert_eq!(got, Err(RecvTimeoutError::Timeout));
    /// });
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        self.recv_deadline_inner(deadline, "channel recv_timeout")
    }

    /// Like [`recv`](Self::recv), but gives up at `deadline`.
    ///
    /// # Errors
    ///
    /// As for [`recv_timeout`](Self::recv_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use green::channel::RecvTimeoutError;
    /// let (tx, rx) = green::channel::unbounded();
    /// tx.send(1).unwrap();
    /// let soon = Instant::now() + Duration::from_millis(5);
    /// assert_eq!(rx.recv_deadline(soon), Ok(1));
    /// assert_eq!(rx.recv_deadline(soon), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_deadline_inner(Some(deadline), "channel recv_deadline")
    }

    fn recv_deadline_inner(
        &self,
        deadline: Option<Instant>,
        reason: &'static str,
    ) -> Result<T, RecvTimeoutError> {
        single::recv(&self.chan, deadline, reason)
    }

    /// An iterator that [`recv`](Self::recv)s until the channel
    /// disconnects.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green::channel::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values there now, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green::channel::unbounded();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]); // tx still alive
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// The number of values waiting in the channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green::channel::unbounded();
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().len()
    }

    /// Whether no value is waiting in the channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = green::channel::unbounded::<()>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a send would wait for room now, as
    /// [`Sender::is_full`](super::Sender::is_full) says. A rendezvous
    /// channel is always full.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green::channel::bounded(1);
    /// assert!(!rx.is_full());
    /// tx.send(()).unwrap();
    /// assert!(rx.is_full());
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
    /// assert_eq!(green::channel::channel::<()>().1.capacity(), Some(0));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.chan.lock().capacity()
    }

    /// Whether every sender (or every receiver) is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green::channel::unbounded::<()>();
    /// drop(tx);
    /// assert!(rx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.chan.lock().is_disconnected()
    }

    /// Whether `self` and `other` are ends of the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = green::channel::unbounded::<()>();
    /// assert!(rx.same_channel(&rx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    pub(super) fn chan(&self) -> &Chan<T> {
        &self.chan
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.add_receiver();
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// The iterator of [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// The iterator of [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// The iterator of a [`Receiver`] turned [`IntoIterator`]: receives until
/// the channel disconnects.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
