//! [`Select`]: wait on several channel operations at once, like Go's
//! `select`.

use std::fmt;
use std::sync::mpsc::{RecvError, SendError};
use std::time::{Duration, Instant};

use super::op::{wait_any, Op, RecvOp, SendOp};
use super::{Receiver, Sender};

/// Waits until one of several sends and receives can proceed, performs
/// exactly that one, and runs its closure.
///
/// Add operations with [`recv`](Self::recv) and [`send`](Self::send), each
/// with the closure that handles its result; optionally a
/// [`timeout`](Self::timeout), [`deadline`](Self::deadline) or
/// [`default`](Self::default) (do not wait at all); then
/// [`wait`](Self::wait). Exactly one operation happens: a value offered by a
/// `send` that was not chosen is not sent (it is dropped with the select).
///
/// When several operations are ready at once, the first one added wins. The
/// choice is deterministic, like the rest of green; put the operation that
/// must not starve first, or rotate the order yourself.
///
/// A disconnected channel is *ready*: its closure gets the error.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use green::channel::{self, Select};
///
/// green::run(|| {
///     let (tx1, rx1) = channel::unbounded::<i32>();
///     let (tx2, rx2) = channel::unbounded::<&str>();
///     green::spawn(move || {
///         green::sleep(Duration::from_millis(5));
///         tx2.send("two").unwrap();
///     });
///     let got = Select::new()
///         .recv(&rx1, |n| format!("number {n:?}"))
///         .recv(&rx2, |s| format!("string {s:?}"))
///         .timeout(Duration::from_secs(5), || "nothing".to_string())
///         .wait();
///     assert_eq!(got, r#"string Ok("two")"#);
///     drop(tx1);
/// });
/// ```
pub struct Select<'a, R> {
    cases: Vec<Box<dyn Case<R> + 'a>>,
    otherwise: Option<Otherwise<'a, R>>,
}

/// What happens when no operation is chosen in time.
struct Otherwise<'a, R> {
    /// `None`: do not wait at all.
    deadline: Option<Instant>,
    run: Box<dyn FnOnce() -> R + 'a>,
}

impl<'a, R> Select<'a, R> {
    /// An empty select.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green::channel::unbounded();
    /// tx.send(1).unwrap();
    /// let n = green::channel::Select::new().recv(&rx, |r| r.unwrap()).wait();
    /// assert_eq!(n, 1);
    /// ```
    pub fn new() -> Self {
        Select {
            cases: Vec::new(),
            otherwise: None,
        }
    }

    /// Adds a receive from `rx`; `f` gets the value, or [`RecvError`] if the
    /// channel is empty and disconnected.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = green::channel::unbounded::<u8>();
    /// drop(tx);
    /// let closed = green::channel::Select::new().recv(&rx, |r| r.is_err()).wait();
    /// assert!(closed);
    /// ```
    pub fn recv<T>(
        mut self,
        rx: &'a Receiver<T>,
        f: impl FnOnce(Result<T, RecvError>) -> R + 'a,
    ) -> Self {
        let index = self.cases.len();
        self.cases.push(Box::new(RecvCase {
            op: RecvOp::new(rx.chan(), index),
            f,
        }));
        self
    }

    /// Adds a send of `value` on `tx`; `f` gets `Ok(())` once it is sent,
    /// or the value back in a [`SendError`] if every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::channel::{bounded, Select};
    ///
    /// let (tx_a, rx_a) = bounded(1);
    /// let (tx_b, _rx_b) = bounded(1);
    /// tx_a.send(0).unwrap(); // a is full
    /// let which = Select::new()
    ///     .send(&tx_a, 1, |_| 'a')
    ///     .send(&tx_b, 2, |_| 'b')
    ///     .wait();
    /// assert_eq!(which, 'b');
    /// assert_eq!(rx_a.len(), 1); // 1 was not sent
    /// ```
    pub fn send<T>(
        mut self,
        tx: &'a Sender<T>,
        value: T,
        f: impl FnOnce(Result<(), SendError<T>>) -> R + 'a,
    ) -> Self {
        let index = self.cases.len();
        self.cases.push(Box::new(SendCase {
            op: SendOp::new(tx.chan(), value, index),
            f,
        }));
        self
    }

    /// If no operation can proceed at once, runs `f` instead of waiting.
    /// Replaces any timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = green::channel::unbounded::<()>();
    /// let got = green::channel::Select::new()
    ///     .recv(&rx, |_| "value")
    ///     .default(|| "nothing yet")
    ///     .wait();
    /// assert_eq!(got, "nothing yet");
    /// ```
    pub fn default(mut self, f: impl FnOnce() -> R + 'a) -> Self {
        self.otherwise = Some(Otherwise {
            deadline: None,
            run: Box::new(f),
        });
        self
    }

    /// If no operation proceeds within `timeout`, runs `f`. Replaces any
    /// earlier timeout or default.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// green::run(|| {
    ///     let (_tx, rx) = green::channel::channel::<()>();
    ///     let got = green::channel::Select::new()
    ///         .recv(&rx, |_| "value")
    ///         .timeout(Duration::from_millis(5), || "timed out")
    ///         .wait();
    ///     assert_eq!(got, "timed out");
    /// });
    /// ```
    pub fn timeout(mut self, timeout: Duration, f: impl FnOnce() -> R + 'a) -> Self {
        match Instant::now().checked_add(timeout) {
            Some(at) => self.deadline(at, f),
            None => {
                // Never: no timeout, and none of the earlier ones either.
                self.otherwise = None;
                self
            }
        }
    }

    /// If no operation proceeds by `deadline`, runs `f`. Replaces any
    /// earlier timeout or default.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// let (_tx, rx) = green::channel::channel::<()>();
    /// let got = green::channel::Select::new()
    ///     .recv(&rx, |_| 1)
    ///     .deadline(Instant::now(), || 2) // already passed: like default
    ///     .wait();
    /// assert_eq!(got, 2);
    /// ```
    pub fn deadline(mut self, deadline: Instant, f: impl FnOnce() -> R + 'a) -> Self {
        self.otherwise = Some(Otherwise {
            deadline: Some(deadline),
            run: Box::new(f),
        });
        self
    }

    /// Waits until one operation proceeds (or the timeout, or at once with a
    /// default) and returns what its closure returns. Inside
    /// [`run`](crate::run()) the greenlet waits and the hub runs others;
    /// outside, the thread blocks.
    ///
    /// # Panics
    ///
    /// Panics if there is no operation and no timeout or default: that
    /// select could never return.
    ///
    /// # Examples
    ///
    /// ```
    /// green::run(|| {
    ///     let (tx, rx) = green::channel::channel();
    ///     green::spawn(move || tx.send(9).unwrap());
    ///     let got = green::channel::Select::new().recv(&rx, |r| r.unwrap() * 2).wait();
    ///     assert_eq!(got, 18);
    /// });
    /// ```
    pub fn wait(mut self) -> R {
        let deadline = match &self.otherwise {
            None => {
                assert!(
                    !self.cases.is_empty(),
                    "green::channel::Select::wait: no operation and no timeout, it would wait forever"
                );
                None
            }
            Some(o) => Some(o.deadline.unwrap_or_else(Instant::now)),
        };
        match wait_any(&self.cases, deadline, "channel select") {
            Some(i) => self.cases.swap_remove(i).complete(),
            None => (self
                .otherwise
                .take()
                .expect("a deadline comes with a closure")
                .run)(),
        }
    }
}

impl<R> Default for Select<'_, R> {
    fn default() -> Self {
        Select::new()
    }
}

impl<R> fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.cases.len())
            .field("deadline", &self.otherwise.as_ref().map(|o| o.deadline))
            .finish()
    }
}

/// An operation with the closure that handles its result.
trait Case<R>: Op {
    fn complete(self: Box<Self>) -> R;
}

struct RecvCase<'a, T, F> {
    op: RecvOp<'a, T>,
    f: F,
}

struct SendCase<'a, T, F> {
    op: SendOp<'a, T>,
    f: F,
}

impl<T, R, F: FnOnce(Result<T, RecvError>) -> R> Case<R> for RecvCase<'_, T, F> {
    fn complete(self: Box<Self>) -> R {
        let result = self.op.result().expect("a completed recv has a result");
        (self.f)(result)
    }
}

impl<T, R, F: FnOnce(Result<(), SendError<T>>) -> R> Case<R> for SendCase<'_, T, F> {
    fn complete(self: Box<Self>) -> R {
        let result = self.op.result().expect("a completed send has a result");
        (self.f)(result)
    }
}

/// Forwards [`Op`] to the case's operation.
macro_rules! forward_op {
    ($case:ident) => {
        impl<T, F> Op for $case<'_, T, F> {
            fn try_now(&self) -> bool {
                self.op.try_now()
            }
            unsafe fn register(&self, signal: &super::signal::Signal) -> super::op::Registration {
                // SAFETY: the operation is the case's: the caller's contract.
                unsafe { self.op.register(signal) }
            }
            fn unregister(&self) {
                self.op.unregister()
            }
            fn take_selected(&self, signal: &super::signal::Signal) {
                self.op.take_selected(signal)
            }
            fn finish(&self) -> bool {
                self.op.finish()
            }
            fn give_back(&self) {
                self.op.give_back()
            }
            fn is_send(&self) -> bool {
                self.op.is_send()
            }
        }
    };
}

forward_op!(RecvCase);
forward_op!(SendCase);
