//! `std::sync::mpsc` on green-core's channels: a blocked `send` or `recv`
//! parks the greenlet (blocks the thread outside [`green::run`]).
//!
//! The types and signatures are std's; the error types are std's own. Like
//! std's, a [`Receiver`] is not `Clone` (for several consumers, use
//! [`green::channel`] directly).
//!
//! # A trap
//!
//! Only a wait switches greenlets. [`Sender::send`] never waits, and
//! [`Receiver::try_recv`] and [`Receiver::try_iter`] never do either, so a
//! loop made only of them never lets the other greenlets of its hub run:
//! `while tx.send(x).is_ok() {}` waiting for the receiver's greenlet to drop
//! it, or polling `try_recv` for a value another greenlet sends, spins
//! forever where std's threads would move on. Block in [`Receiver::recv`]
//! (or `recv_timeout`), or call [`green::yield_now`] in such a loop.
//!
//! # Examples
//!
//! ```
//! use green_std::sync::mpsc;
//! use green_std::thread;
//!
//! fn pipeline() -> Vec<i32> {
//!     let (tx, rx) = mpsc::channel();
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         thread::spawn(move || tx.send(id).unwrap());
//!     }
//!     drop(tx);
//!     let mut got: Vec<i32> = rx.iter().collect();
//!     got.sort();
//!     got
//! }
//!
//! assert_eq!(pipeline(), [0, 1, 2]);
//! assert_eq!(green::run(pipeline), [0, 1, 2]);
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use green::channel as chan;

/// Creates a new asynchronous channel, returning the sender/receiver
/// halves, like [`std::sync::mpsc::channel`]: sends never wait.
///
/// # Examples
///
/// ```
/// let (tx, rx) = green_std::sync::mpsc::channel();
/// tx.send(5).unwrap();
/// assert_eq!(rx.recv(), Ok(5));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = chan::unbounded();
    (Sender(tx), Receiver(rx, PhantomData))
}

/// Creates a new synchronous, bounded channel, like
/// [`std::sync::mpsc::sync_channel`]: a send waits while `bound` values are
/// queued; with `bound == 0` every send waits for a receiver (rendezvous).
///
/// # Examples
///
/// ```
/// use green_std::sync::mpsc::{sync_channel, TrySendError};
///
/// let (tx, rx) = sync_channel(1);
/// tx.send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let (tx, rx) = chan::bounded(bound);
    (SyncSender(tx), Receiver(rx, PhantomData))
}

/// The sending half of a [`channel`], like [`std::sync::mpsc::Sender`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = green_std::sync::mpsc::channel();
/// let tx2 = tx.clone();
/// tx.send(1).unwrap();
/// tx2.send(2).unwrap();
/// assert_eq!(rx.iter().take(2).sum::<i32>(), 3);
/// ```
pub struct Sender<T>(chan::Sender<T>);

/// The sending half of a [`sync_channel`], like
/// [`std::sync::mpsc::SyncSender`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = green_std::sync::mpsc::sync_channel(2);
/// tx.send('a').unwrap();
/// assert_eq!(rx.recv(), Ok('a'));
/// ```
pub struct SyncSender<T>(chan::Sender<T>);

/// The receiving half of a channel, like [`std::sync::mpsc::Receiver`].
///
/// Like std's, it is `Send` but not `Sync` (green's own receiver is both):
/// share it between threads behind a lock.
///
/// # Examples
///
/// ```
/// let (tx, rx) = green_std::sync::mpsc::channel::<u8>();
/// drop(tx);
/// assert!(rx.recv().is_err());
/// ```
pub struct Receiver<T>(chan::Receiver<T>, NotSync);

/// Gives a type the auto traits of std's `Receiver`: `Send` but not
/// `Sync`, and unwind-safe whatever `T` is.
type NotSync = PhantomData<std::sync::mpsc::Receiver<()>>;

/// Makes an iterator that borrows a receiver neither `Send` nor `Sync`,
/// as std's, which holds a `&Receiver`.
type Borrows<'a> = PhantomData<&'a std::sync::mpsc::Receiver<()>>;

impl<T> Sender<T> {
    /// Sends a value; never waits. Fails only when the receiver is gone,
    /// handing the value back.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value when the [`Receiver`] was dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green_std::sync::mpsc::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(1).unwrap_err().0, 1);
    /// ```
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.0.send(t)
    }
}

impl<T> SyncSender<T> {
    /// Sends a value, waiting while the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value when the [`Receiver`] was dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::{sync::mpsc::sync_channel, thread};
    ///
    /// green::run(|| {
    ///     let (tx, rx) = sync_channel(0);
    ///     thread::spawn(move || tx.send("rendezvous").unwrap());
    ///     assert_eq!(rx.recv(), Ok("rendezvous"));
    /// });
    /// ```
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.0.send(t)
    }

    /// Sends a value if that needs no wait.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with the
    /// value.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::sync::mpsc::{sync_channel, TrySendError};
    /// let (tx, _rx) = sync_channel(0);
    /// assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    /// ```
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        self.0.try_send(t)
    }
}

impl<T> Receiver<T> {
    /// Waits for a value, like std's.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once every sender is gone and the channel is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green_std::sync::mpsc::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.0.recv()
    }

    /// Takes a value if one is there.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`].
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::sync::mpsc::{channel, TryRecvError};
    /// let (_tx, rx) = channel::<u8>();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.0.try_recv()
    }

    /// Waits at most `timeout` for a value.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use green_std::sync::mpsc::{channel, RecvTimeoutError};
    /// let (_tx, rx) = channel::<u8>();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.0.recv_timeout(timeout)
    }

    /// An iterator that waits for values until every sender is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green_std::sync::mpsc::channel();
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter(self.0.iter(), PhantomData)
    }

    /// An iterator over the values there now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green_std::sync::mpsc::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter(self.0.try_iter(), PhantomData)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender(self.0.clone())
    }
}

/// The iterator of [`Receiver::iter`].
pub struct Iter<'a, T>(chan::Iter<'a, T>, Borrows<'a>);

/// The iterator of [`Receiver::try_iter`].
pub struct TryIter<'a, T>(chan::TryIter<'a, T>, Borrows<'a>);

/// The iterator of a [`Receiver`] turned into an iterator.
pub struct IntoIter<T>(chan::IntoIter<T>, NotSync);

/// Debug output as std's: `Iter { rx: Receiver { .. } }`.
macro_rules! debug_as_std {
    ($name:ident $(<$a:lifetime>)?) => {
        impl<T> fmt::Debug for $name<$($a,)? T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                struct Rx;
                impl fmt::Debug for Rx {
                    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.debug_struct("Receiver").finish_non_exhaustive()
                    }
                }
                f.debug_struct(stringify!($name)).field("rx", &Rx).finish()
            }
        }
    };
}
debug_as_std!(Iter<'_>);
debug_as_std!(TryIter<'_>);
debug_as_std!(IntoIter);

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.0.next()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.0.next()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.0.next()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter(self.0.into_iter(), PhantomData)
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
