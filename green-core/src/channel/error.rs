//! The one error type std's `mpsc` lacks on stable; the others are std's.

use std::error::Error;
use std::fmt;

/// The error of [`Sender::send_timeout`](super::Sender::send_timeout) and
/// [`Sender::send_deadline`](super::Sender::send_deadline); either way the
/// value comes back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use green::channel::{bounded, SendTimeoutError};
///
/// let (tx, _rx) = bounded(0); // nobody receives
/// let err = tx.send_timeout(7, Duration::from_millis(5)).unwrap_err();
/// assert_eq!(err, SendTimeoutError::Timeout(7));
/// assert_eq!(err.into_inner(), 7);
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The deadline passed before the value could be sent.
    Timeout(T),
    /// Every receiver is gone.
    Disconnected(T),
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::channel::SendTimeoutError;
    /// assert_eq!(SendTimeoutError::Disconnected("x").into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }

    /// Whether the deadline passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::channel::SendTimeoutError;
    /// assert!(SendTimeoutError::Timeout(()).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// Whether every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::channel::SendTimeoutError;
    /// assert!(SendTimeoutError::Disconnected(()).is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendTimeoutError::Disconnected(_))
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Like std's errors, without requiring `T: Debug`.
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting on send operation"),
            SendTimeoutError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl<T> Error for SendTimeoutError<T> {}

impl<T> From<std::sync::mpsc::SendError<T>> for SendTimeoutError<T> {
    fn from(err: std::sync::mpsc::SendError<T>) -> Self {
        SendTimeoutError::Disconnected(err.0)
    }
}
