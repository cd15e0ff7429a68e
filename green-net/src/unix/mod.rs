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
//! - A blocking write (or a connected [`UnixDatagram::send`]) waiting for
//!   room when the socket's send side is shut down (its own
//!   `shutdown(Write)` through any handle, or a stream peer's
//!   `shutdown(Read)`): Linux wakes std's write with `EPIPE` (after the
//!   bytes it sent, if any) but reports no readiness event, since a Unix
//!   socket is writable by its buffer alone. A waiting write tries again
//!   after 16 ms, then at doubling intervals up to 128 ms, so it ends
//!   within about 128 ms; room made for it still ends its wait at once.
//! - After [`UnixDatagram::shutdown`] of the read half, a blocking receive
//!   on an empty queue returns 0, as std's does (the receive underneath,
//!   non-blocking for the call, would report `EAGAIN`); only a shutdown
//!   done through this crate's handles is seen.
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

use std::io;
use std::time::{Duration, Instant};

use socket2::SockAddr;

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

/// std's address in socket2's form, byte for byte.
fn to_sockaddr(addr: &SocketAddr) -> io::Result<SockAddr> {
    if let Some(path) = addr.as_pathname() {
        return SockAddr::unix(path);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::unix::ffi::OsStrExt;

        if let Some(name) = addr_ext::as_abstract_name(addr) {
            // socket2 reads a leading NUL as "abstract"
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            return SockAddr::unix(std::ffi::OsStr::from_bytes(&bytes));
        }
    }
    // Unnamed: an empty `sun_path`, which the kernel refuses as std's does.
    SockAddr::unix("")
}

/// An address the kernel gave (a datagram's sender) in std's form, as
/// std's `recv_from` returns it: a path, an abstract name, or unnamed.
///
/// Never fails: the datagram it came with is already taken from the queue.
/// A path that fills `sun_path` with no terminating NUL (which Linux lets a
/// peer outside Rust bind) comes back unnamed: std reports that path, but
/// builds the address from the kernel's bytes, which no public constructor
/// can do (`SocketAddr::from_pathname` refuses a path that long). Nothing
/// can reply to it either way: std's `send_to_addr` to that address, like
/// green's to the unnamed one, fails with `InvalidInput`.
fn from_sockaddr(addr: &SockAddr) -> SocketAddr {
    if let Some(path) = addr.as_pathname() {
        return SocketAddr::from_pathname(path).unwrap_or_else(|_| unnamed());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(name) = addr.as_abstract_namespace() {
        return addr_ext::from_abstract_name(name).unwrap_or_else(|_| unnamed());
    }
    unnamed()
}

/// The unnamed address (an unbound peer's), as std reports it.
fn unnamed() -> SocketAddr {
    SocketAddr::from_pathname("").expect("an empty path is the unnamed address")
}

/// Linux's abstract names, through std's extension trait.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod addr_ext {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;

    use super::SocketAddr;

    pub(super) fn as_abstract_name(addr: &SocketAddr) -> Option<&[u8]> {
        addr.as_abstract_name()
    }

    pub(super) fn from_abstract_name(name: &[u8]) -> std::io::Result<SocketAddr> {
        SocketAddr::from_abstract_name(name)
    }
}
