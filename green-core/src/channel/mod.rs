//! Channels between greenlets, and between threads: Stackless's tasklet
//! channels with the API of [`std::sync::mpsc`].
//!
//! Three flavours, all multi-producer and multi-consumer (both [`Sender`]
//! and [`Receiver`] are `Clone`):
//!
//! - [`channel()`]: a *rendezvous* channel, as in Stackless. A `send` waits
//!   until a receiver has taken the value.
//! - [`bounded(n)`](bounded): holds up to `n` values; a `send` waits while
//!   it is full.
//! - [`unbounded()`]: a `send` never waits.
//!
//! A greenlet that waits on a channel switches to the others; a thread
//! outside [`run`](crate::run()) blocks as it would on an `mpsc` channel. When
//! the values are `Send`, so are the ends, and a channel links greenlets of
//! different hubs, or a hub and plain threads.
//!
//! # Order
//!
//! Values come out in the order they went in. Greenlets blocked on the same
//! end are served first come, first served: the value goes straight to the
//! receiver that has waited longest, and it becomes ready (joins the back of
//! the run queue) while the sender carries on.
//!
//! # Disconnection
//!
//! When every [`Sender`] is dropped, receivers get the values still queued
//! and then [`RecvError`]. When every [`Receiver`] is dropped, sends fail
//! with [`SendError`], which hands the value back, and values still queued
//! are dropped.
//!
//! As with `mpsc`, a disconnection is final: once a receive has reported
//! it, no value comes out of the channel any more.
//!
//! # Kills and timeouts
//!
//! A greenlet killed while it waits on a channel leaves it consistent: a
//! blocked send that was not taken is withdrawn (its value dropped with the
//! greenlet), and a value already handed to a killed receiver goes back to
//! the head of the channel for the next receiver, even on a rendezvous
//! channel, whose sender was told it was sent. Until that receiver has taken
//! the value or given it back, the channel is not disconnected for the other
//! receivers, even with every sender gone: [`try_recv`](Receiver::try_recv)
//! reports [`Empty`](TryRecvError::Empty) and [`recv`](Receiver::recv)
//! waits. Timeouts behave the same way, returning the unsent value in the
//! error.
//!
//! A send that returned `Ok` was sent: its value is received by exactly one
//! receiver, unless every receiver is dropped first (then it is dropped with
//! the channel, as `mpsc`'s queued values are). A sender killed while it
//! waits either had its value taken, or withdraws it: never both.
//!
//! # Examples
//!
//! A rendezvous: the producer runs one step ahead of the consumer.
//!
//! ```
//! use green::channel;
//!
//! green::run(|| {
//!     let (tx, rx) = channel::channel();
//!     let producer = green::spawn(move || {
//!         for i in 0..3 {
//!             tx.send(i).unwrap(); // waits for the consumer each time
//!         }
//!     });
//!     let got: Vec<i32> = rx.iter().collect(); // ends when `tx` is dropped
//!     assert_eq!(got, [0, 1, 2]);
//!     producer.join().unwrap();
//! });
//! ```
//!
//! Between a hub and a plain thread:
//!
//! ```
//! green::run(|| {
//!     let (tx, rx) = green::channel::bounded(4);
//!     let worker = std::thread::spawn(move || {
//!         tx.send(6 * 7).unwrap(); // blocks this thread, not the hub
//!     });
//!     assert_eq!(rx.recv(), Ok(42)); // the main greenlet waits, the hub runs
//!     worker.join().unwrap();
//! });
//! ```

mod chan;
mod error;
mod op;
mod packet;
mod receiver;
mod select;
mod sender;
mod signal;
mod single;

use std::sync::Arc;

pub use error::SendTimeoutError;
pub use receiver::{IntoIter, Iter, Receiver, TryIter};
pub use select::Select;
pub use sender::Sender;
pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use chan::Chan;

/// Creates a rendezvous channel: every [`send`](Sender::send) waits until a
/// receiver has taken its value, as Stackless's channels do.
///
/// A [`try_send`](Sender::try_send) succeeds only when a receiver is already
/// waiting.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// green::run(|| {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let (tx, rx) = green::channel::channel();
///     let l = log.clone();
///     let sender = green::spawn(move || {
///         l.borrow_mut().push("sending");
///         tx.send("ping").unwrap();
///         l.borrow_mut().push("sent"); // only once main has taken it
///     });
///     green::yield_now(); // let the sender block in `send`
///     log.borrow_mut().push("receiving");
///     assert_eq!(rx.recv(), Ok("ping"));
///     sender.join().unwrap();
///     assert_eq!(*log.borrow(), ["sending", "receiving", "sent"]);
/// });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    with_capacity(0)
}

/// Creates a channel that holds up to `cap` values; a
/// [`send`](Sender::send) waits while it is full. `bounded(0)` is
/// [`channel()`].
///
/// # Examples
///
/// ```
/// use green::channel::{bounded, TrySendError};
///
/// let (tx, rx) = bounded(1);
/// tx.send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        cap != usize::MAX,
        "green::channel::bounded: use unbounded() for a channel without a limit"
    );
    with_capacity(cap)
}

/// Creates a channel without a limit: [`send`](Sender::send) never waits.
///
/// # Examples
///
/// ```
/// let (tx, rx) = green::channel::unbounded();
/// for i in 0..1000 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.iter().sum::<i32>(), 499_500);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    with_capacity(usize::MAX)
}

fn with_capacity<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(cap));
    (Sender::new(chan.clone()), Receiver::new(chan))
}
