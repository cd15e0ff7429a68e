//! Unix domain sockets: drop-in replacements for [`std::os::unix::net`]
//! that yield to the green hub instead of blocking the thread.
//!
//! [`UnixStream`], [`UnixListener`] and [`UnixDatagram`] have std's names,
//! methods, signatures and error kinds, and behave as the TCP and UDP types
//! of this crate do: inside [`green::run`] an operation that would block
//! parks the calling greenlet; outside it, the thread blocks, as with std.
//! The addresses are std's own [`SocketAddr`], re-exported.
//!
//! ```
//! use green_net::unix::UnixStream; // was: use std::os::unix::net::UnixStream;
//! use std::io::{Read, Write};
//!
//! green::run(|| {
//!     let (mut a, mut b) = UnixStream::pair().unwrap();
//!     let echo = green::spawn(move || {
//!         let mut buf = [0; 5];
//!         b.read_exact(&mut buf).unwrap();
//!         b.write_all(&buf).unwrap();
//!     });
//!     a.write_all(b"hello").unwrap();
//!     let mut back = [0; 5];
//!     a.read_exact(&mut back).unwrap();
//!     assert_eq!(&back, b"hello");
//!     echo.join().unwrap();
//! });
//! ```
//!
//! # Notes
//!
//! - [`UnixStream::connect`] is a non-blocking connect underneath. Where
//!   std's would sleep in the kernel because the listener's backlog is full
//!   (Linux reports `EAGAIN` to a non-blocking connect, and gives no
//!   readiness event for it), a greenlet retries with a short, growing
//!   sleep instead; outside `green::run` the connect blocks in the kernel,
//!   exactly as std's.
//! - [`UnixDatagram::send_to`] to a receiver whose queue is full: Linux
//!   gives an unconnected sender no event for room being made (and reports
//!   its socket writable after each failed try), so the sender retries
//!   after the same short, growing sleeps. A connected socket's
//!   [`send`](UnixDatagram::send) waits for readiness, as the other
//!   operations do.
//! - After [`UnixDatagram::shutdown`] of the read half, a blocking receive
//!   on an empty queue returns 0, as std's does (the non-blocking socket
//!   underneath would report `EAGAIN`); only a shutdown done through this
//!   crate's handles is seen.
//! - std's unstable extras (`peek`, `peek_from`, `peer_cred`, ancillary
//!   data, `set_mark`) are not mirrored.

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{Incoming, UnixListener};
pub use stream::UnixStream;

/// Re-exported from std: an address of a Unix socket (a path, nothing, or
/// on Linux an abstract name).
pub use std::os::unix::net::SocketAddr;

use std::time::{Duration, Instant};

/// Pauses between retries of an operation the kernel gives no useful
/// readiness event for (a connect to a full backlog, a `send_to` to a full
/// queue): 1 ms, doubling up to 16 ms. Parks the greenlet inside
/// `green::run` and sleeps the thread outside it.
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(1);
    const MAX: Duration = Duration::from_millis(16);

    fn new() -> Backoff {
        Backoff(Backoff::FIRST)
    }

    fn pause(&mut self) {
        self.pause_until(None);
    }

    /// Pauses, but not past `deadline`.
    fn pause_until(&mut self, deadline: Option<Instant>) {
        let mut pause = self.0;
        if let Some(at) = deadline {
            pause = pause.min(at.saturating_duration_since(Instant::now()));
        }
        if green::is_running() {
            green::sleep(pause);
        } else {
            std::thread::sleep(pause);
        }
        self.0 = (self.0 * 2).min(Backoff::MAX);
    }
}
