//! Waiting for file descriptors: the one place green-net and green-std get
//! IO readiness from.
//!
//! Inside [`run`](crate::run()), [`wait_readable`] and [`wait_writable`] park
//! the calling greenlet until the hub's poller reports the fd ready; outside
//! it they block the thread in `poll(2)`, so callers need no second code path.
//!
//! # Contract
//!
//! - Use them in a retry loop: try the non-blocking operation; on
//!   `WouldBlock`, wait; then try again. A wait may return spuriously.
//! - Call [`deregister`] before closing an fd that was waited on, so that a
//!   new fd that reuses the number starts clean. The hub keeps one entry
//!   per number, armed once: closed without `deregister`, the number's
//!   entry stays, and a wait inside `run` on a new file that reuses it
//!   finds the entry, does not arm the new file and may never return (a
//!   `deregister` of the number, even after the close, clears it). Outside
//!   `run`, `poll(2)` keeps no such state.
//! - One greenlet may wait to read an fd while another waits to write it.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

use crate::hub::{self, Direction};

/// Waits until `fd` is readable (or has hung up, or failed), or until
/// `deadline`. A file the poller cannot watch (a regular file, a device
/// such as `/dev/null`) is always ready, as `poll(2)` says: the wait
/// returns at once.
///
/// # Errors
///
/// [`io::ErrorKind::TimedOut`] when the deadline passes first (green-net
/// turns that into the `WouldBlock` std's sockets report on Unix), and any
/// error from registering the fd with the poller.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
///
/// green::run(|| {
///     let (mut a, mut b) = UnixStream::pair().unwrap();
///     b.set_nonblocking(true).unwrap();
///     let writer = green::spawn(move || a.write_all(b"ping").unwrap());
///     let mut buf = [0; 4];
///     loop {
///         match b.read(&mut buf) {
///             Ok(n) => { assert_eq!(&buf[..n], b"ping"); break; }
///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
///                 green::io::wait_readable(&b, None).unwrap();
///             }
///             Err(e) => panic!("{e}"),
///         }
///     }
///     green::io::deregister(&b);
///     writer.join().unwrap();
/// });
/// ```
pub fn wait_readable(fd: impl AsFd, deadline: Option<Instant>) -> io::Result<()> {
    wait(fd.as_fd().as_raw_fd(), Direction::Read, deadline)
}

/// Waits until `fd` is writable (or has hung up, or failed), or until
/// `deadline`. See [`wait_readable`].
///
/// # Errors
///
/// As [`wait_readable`].
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixStream;
/// green::run(|| {
///     let (a, _b) = UnixStream::pair().unwrap();
///     green::io::wait_writable(&a, None).unwrap(); // an empty socket is writable
///     green::io::deregister(&a);
/// });
/// ```
pub fn wait_writable(fd: impl AsFd, deadline: Option<Instant>) -> io::Result<()> {
    wait(fd.as_fd().as_raw_fd(), Direction::Write, deadline)
}

/// Marks `fd` drained: the caller's read has just emptied its receive queue
/// (a stream socket's read that filled less than its buffer, epoll(7)
/// question 9), so until `fd` reports read-side readiness again,
/// [`is_drained`] tells a reader that trying again would fail with
/// `WouldBlock`, and it may wait first. green-net's `TcpStream` does this:
/// a request-response server makes one `recv` per request instead of two.
///
/// Any read-side edge clears the mark, whoever takes it (a peek, a wait of
/// the user's own). A hang-up, an error or TCP urgent data turns the marks
/// of the fd off until it is deregistered: a read may stop short of them
/// with more queued, and no edge would announce it again.
///
/// Only mark an fd when a short read proves its queue empty: a plain TCP
/// socket. A Unix stream socket stops short at a boundary between writers
/// or at passed descriptors, and kernel TLS at a control record, with more
/// data queued. Even on TCP a read stops short with data queued at an
/// urgent byte the user took out of band (`MSG_OOB`) before the hub saw it
/// (`SO_OOBINLINE` avoids it), and a `SO_RCVLOWAT` above the bytes queued
/// makes the kernel withhold the edge: a reader that waits first then
/// waits for the next edge.
///
/// The mark lives in this thread's hub, for an fd it has waited on; it does
/// nothing outside [`run`](crate::run()) or for an fd not waited on yet.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
///
/// green::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let mut a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
///     let (mut b, _) = listener.accept().unwrap();
///     b.set_nonblocking(true).unwrap();
///     a.write_all(b"hi").unwrap();
///     green::io::wait_readable(&b, None).unwrap();
///     let mut buf = [0; 16];
///     assert_eq!(b.read(&mut buf).unwrap(), 2); // short: nothing more queued
///     green::io::note_drained(&b);
///     assert!(green::io::is_drained(&b));
///
///     a.write_all(b"more").unwrap();
///     // Whoever takes the readiness edge (here a wait of our own), the
///     // mark is gone.
///     green::io::wait_readable(&b, None).unwrap();
///     assert!(!green::io::is_drained(&b));
///     assert_eq!(b.read(&mut buf).unwrap(), 4);
///     green::io::deregister(&b);
/// });
/// ```
pub fn note_drained(fd: impl AsFd) {
    let fd = fd.as_fd().as_raw_fd();
    hub::try_with(|hub| hub.io_note_drained(fd));
}

/// Whether `fd` was marked with [`note_drained`] and has reported no
/// read-side readiness since (nor a hang-up, an error or urgent data): a
/// read now would fail with `WouldBlock` (within the limits
/// [`note_drained`] names), so a reader may [`wait_readable`] before it
/// tries. `false` outside [`run`](crate::run()).
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixStream;
///
/// green::run(|| {
///     let (_a, b) = UnixStream::pair().unwrap();
///     assert!(!green::io::is_drained(&b)); // never marked
/// });
/// ```
pub fn is_drained(fd: impl AsFd) -> bool {
    let fd = fd.as_fd().as_raw_fd();
    hub::try_with(|hub| hub.io_is_drained(fd)).unwrap_or(false)
}

/// Forgets `fd`: call it before closing an fd that was waited on. Greenlets
/// still waiting on it are woken (their retry then sees the fd's state).
///
/// It may be called on any thread, inside `run` or outside it (a socket
/// dropped on another thread): a hub that waited on `fd` and is not this
/// thread's re-arms the number when it is next waited on, so a new file that
/// reuses it is watched. Costs an atomic add; no syscall unless this
/// thread's hub has `fd` registered.
pub fn deregister(fd: impl AsFd) {
    let fd = fd.as_fd().as_raw_fd();
    hub::io::note_deregistered(fd);
    hub::try_with(|hub| hub.deregister_fd(fd));
}

fn wait(fd: std::os::fd::RawFd, dir: Direction, deadline: Option<Instant>) -> io::Result<()> {
    let in_greenlet = hub::try_with(|hub| hub.in_greenlet()).unwrap_or(false);
    if in_greenlet {
        hub::with(|hub| hub.wait_fd(fd, dir, deadline))
    } else {
        poll_blocking(fd, dir, deadline)
    }
}

/// Outside `run`: block the thread in `poll(2)`.
fn poll_blocking(
    fd: std::os::fd::RawFd,
    dir: Direction,
    deadline: Option<Instant>,
) -> io::Result<()> {
    let events = match dir {
        Direction::Read => libc::POLLIN,
        Direction::Write => libc::POLLOUT,
    };
    loop {
        let timeout_ms = match deadline {
            None => -1,
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "timed out waiting for the file descriptor",
                    ));
                }
                // round up, so that we never wake before the deadline
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid, exclusively borrowed pollfd array of
        // length 1 for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        match n {
            -1 => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
            0 => {} // timed out: the loop re-checks the deadline
            _ => return Ok(()),
        }
    }
}
