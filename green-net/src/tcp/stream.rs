//! [`TcpStream`]: `std::net::TcpStream`, yielding to the hub.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::plain;
use crate::addr::{each_addr, ToSocketAddrs};
use crate::source::{Interest, Source};

/// A TCP stream between a local and a remote socket, exactly like
/// [`std::net::TcpStream`], except that inside [`green::run`] a read, write
/// or connect that would block parks the calling greenlet and lets the others
/// run, instead of blocking the thread.
///
/// Outside `green::run` it blocks the thread, as std's does. Read and write
/// timeouts, `set_nonblocking` and every error kind behave as std documents
/// them for Unix.
///
/// The connection is closed when the value is dropped. Reading and writing
/// are done through the [`Read`](std::io::Read) and [`Write`](std::io::Write) traits, which are implemented
/// for `TcpStream` and for `&TcpStream`, so one greenlet can read while
/// another writes the same stream.
///
/// Inside `green::run`, a read that comes back short (fewer bytes than the
/// buffer holds) has emptied the kernel's receive queue, so the next read
/// waits for readiness before it asks the kernel: a request-response server
/// makes one `recv` per request, as tokio's does. The kernel queues more
/// after a short read without a readiness event in two cases, where that
/// read then waits for the next event: an urgent byte taken out of band
/// (`MSG_OOB`, through the raw fd) before the hub saw it (`SO_OOBINLINE`
/// avoids it), and a `SO_RCVLOWAT` above the bytes queued. A socket with an
/// upper-layer protocol (kernel TLS) is never trusted this way if it had
/// one when it was wrapped; wrap it again after attaching one
/// (`into_raw_fd`, then `from_raw_fd`).
///
/// # Examples
///
/// ```
/// use green_net::{TcpListener, TcpStream};
/// use std::io::prelude::*;
///
/// green::run(|| -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let server = green::spawn(move || -> std::io::Result<()> {
///         let (mut conn, _) = listener.accept()?;
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf)?;
///         conn.write_all(&buf)
///     });
///
///     let mut stream = TcpStream::connect(addr)?;
///     stream.write_all(b"hello")?;
///     let mut echo = [0; 5];
///     stream.read_exact(&mut echo)?;
///     assert_eq!(&echo, b"hello");
///     server.join().unwrap()
/// }).unwrap();
/// ```
pub struct TcpStream {
    source: Source<std::net::TcpStream>,
}

impl TcpStream {
    /// Opens a TCP connection to a remote host.
    ///
    /// `addr` is an address of the remote host. Anything which implements
    /// the [`ToSocketAddrs`] trait can be supplied for the address; see this
    /// trait documentation for concrete examples. Host names are resolved on
    /// green's blocking pool, so a slow DNS server does not stop the hub.
    ///
    /// If `addr` yields multiple addresses, `connect` will be attempted with
    /// each of the addresses until a connection is successful. If none of
    /// the addresses result in a successful connection, the error returned
    /// from the last connection attempt (the last address) is returned.
    ///
    /// # Errors
    ///
    /// As std's: the OS error of the last attempt (for instance
    /// [`io::ErrorKind::ConnectionRefused`]), or `InvalidInput` when `addr`
    /// resolves to no address.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::{TcpListener, TcpStream};
    ///
    /// green::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let port = listener.local_addr().unwrap().port();
    ///     let stream = TcpStream::connect(("localhost", port));
    ///     assert!(stream.is_ok());
    /// });
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(&addr, |a| connect_addr(a, None))
    }

    /// Opens a TCP connection to a remote host with a timeout.
    ///
    /// Unlike `connect`, `connect_timeout` takes a single [`SocketAddr`]
    /// since a timeout must be applied to individual addresses.
    ///
    /// # Errors
    ///
    /// It is an error to pass a zero `Duration` to this function
    /// ([`io::ErrorKind::InvalidInput`]); as in std, the connect is tried
    /// first, so an address the kernel rejects at once (an unreachable
    /// network) gives the kernel's error instead. When the timeout passes
    /// first, the error kind is [`io::ErrorKind::TimedOut`], as std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpStream;
    /// use std::time::Duration;
    ///
    /// green::run(|| {
    ///     let addr = "127.0.0.1:9".parse().unwrap(); // nothing listens here
    ///     let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        connect_addr(addr, Some(timeout))
    }

    /// Returns the socket address of the remote peer of this TCP connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Returns the socket address of the local half of this TCP connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Shuts down the read, write, or both halves of this connection.
    ///
    /// This function will cause all pending and future I/O on the specified
    /// portions to return immediately with an appropriate value (see the
    /// documentation of [`Shutdown`]). Shutting down the write half makes
    /// the peer's reads return end of file.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::{TcpListener, TcpStream};
    /// use std::io::Read;
    /// use std::net::Shutdown;
    ///
    /// green::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let (mut server, _) = listener.accept().unwrap();
    ///     client.shutdown(Shutdown::Write).unwrap();
    ///     let mut rest = Vec::new();
    ///     assert_eq!(server.read_to_end(&mut rest).unwrap(), 0); // EOF
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)
    }

    /// Creates a new independently owned handle to the underlying socket.
    ///
    /// The returned `TcpStream` is a reference to the same stream that this
    /// object references. Both handles will read and write the same stream
    /// of data, and options set on one stream (timeouts, non-blocking mode)
    /// will be propagated to the other stream, as with std.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let dup = self.source.get_ref().try_clone()?;
        Ok(TcpStream {
            source: self.source.sibling(dup),
        })
    }

    /// Sets the read timeout to the timeout specified.
    ///
    /// If the value specified is [`None`], then [`read`] calls will block
    /// indefinitely. An [`Err`] is returned if the zero [`Duration`] is
    /// passed to this method.
    ///
    /// # Platform-specific behavior
    ///
    /// As std's on Unix: a read that times out returns an error of kind
    /// [`io::ErrorKind::WouldBlock`] (`EAGAIN`). A blocked greenlet is
    /// resumed when the timeout passes, never before.
    ///
    /// As with std, the kernel keeps the timeout in whole clock ticks
    /// (jiffies): [`read_timeout`](Self::read_timeout) returns what it kept
    /// (rounded up to a tick, [`None`] for a timeout too long to keep), and
    /// that is how long an operation waits.
    ///
    /// [`read`]: std::io::Read::read
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::{TcpListener, TcpStream};
    /// use std::io::{self, Read};
    /// use std::time::Duration;
    ///
    /// green::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let mut stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     let err = stream.set_read_timeout(Some(Duration::new(0, 0))).unwrap_err();
    ///     assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    ///
    ///     stream.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    ///     let err = stream.read(&mut [0; 8]).unwrap_err(); // nobody writes
    ///     assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    /// });
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.source
            .set_read_timeout(dur, std::net::TcpStream::set_read_timeout)
    }

    /// Sets the write timeout to the timeout specified.
    ///
    /// If the value specified is [`None`], then [`write`] calls will block
    /// indefinitely. An [`Err`] is returned if the zero [`Duration`] is
    /// passed to this method.
    ///
    /// # Platform-specific behavior
    ///
    /// As std's on Unix: a write that times out returns an error of kind
    /// [`io::ErrorKind::WouldBlock`].
    ///
    /// As with std, the kernel keeps the timeout in whole clock ticks
    /// (jiffies): [`write_timeout`](Self::write_timeout) returns what it kept
    /// (rounded up to a tick, [`None`] for a timeout too long to keep), and
    /// that is how long an operation waits.
    ///
    /// [`write`]: std::io::Write::write
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.source
            .set_write_timeout(dur, std::net::TcpStream::set_write_timeout)
    }

    /// Returns the read timeout of this socket; [`None`] means reads block
    /// indefinitely.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.read_timeout())
    }

    /// Returns the write timeout of this socket; [`None`] means writes block
    /// indefinitely.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.write_timeout())
    }

    /// Receives data on the socket from the remote address to which it is
    /// connected, without removing that data from the queue. On success,
    /// returns the number of bytes peeked.
    ///
    /// Successive calls return the same data. Like [`read`](std::io::Read::read), it
    /// waits (parking the greenlet) until data is available; into an empty
    /// buffer, as the kernel's, it returns 0 once data came or the read
    /// timeout passed.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let peeked = self
            .source
            .read_with(|s| crate::sys::recv(s, buf, libc::MSG_PEEK));
        self.empty_read_ends(len, self.source.or_kept_error(peeked))
    }

    /// Sets the value of the `TCP_NODELAY` option on this socket.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.source.get_ref().set_nodelay(nodelay)
    }

    /// Gets the value of the `TCP_NODELAY` option on this socket.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.source.get_ref().nodelay()
    }

    /// Sets the value for the `IP_TTL` option on this socket.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// Gets the value of the `IP_TTL` option for this socket.
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }

    /// Gets the value of the `SO_ERROR` option on this socket, clearing it.
    ///
    /// That includes, as with std, the error a blocking write met after it
    /// had sent some bytes (it returned their count, and the error waits
    /// for the next call on the socket: this one, or a read or write).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.take_error()
    }

    /// Moves this TCP stream into or out of nonblocking mode.
    ///
    /// In nonblocking mode, an operation that would block returns an error
    /// of kind [`io::ErrorKind::WouldBlock`] (the OS's `EAGAIN`) at once,
    /// without parking the greenlet or letting others run, exactly as std's
    /// nonblocking sockets do. A loop that retries on `WouldBlock` therefore
    /// keeps the hub busy (see README's known traps): wait with
    /// `green::io::wait_readable`/`wait_writable`, or stay in blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::{TcpListener, TcpStream};
    /// use std::io::{self, Read};
    ///
    /// green::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let mut stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    ///     stream.set_nonblocking(true).unwrap();
    ///     let err = stream.read(&mut [0; 8]).unwrap_err();
    ///     assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    /// });
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking)
    }

    /// Wraps a stream this crate has just accepted.
    pub(crate) fn from_source(source: Source<std::net::TcpStream>) -> TcpStream {
        TcpStream { source }
    }
}

/// A non-blocking connect, then a wait for writability until `timeout`.
/// As std's `connect_timeout`, a zero `timeout` is refused only once the
/// connect is in progress.
///
/// The socket is non-blocking (in the kernel) for the connect only: nothing
/// shares it yet, and the stream comes out in std's blocking mode.
fn connect_addr(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    let tcp = plain::is_plain_tcp(&socket);
    let source = Source::fresh(std::net::TcpStream::from(socket)).short_reads_drain(tcp);
    connect_nonblocking(&source, addr, timeout)?;
    SockRef::from(source.get_ref()).set_nonblocking(false)?;
    Ok(TcpStream { source })
}

/// The connect of [`connect_addr`], on its non-blocking socket.
fn connect_nonblocking(
    source: &Source<std::net::TcpStream>,
    addr: &SocketAddr,
    timeout: Option<Duration>,
) -> io::Result<()> {
    match SockRef::from(source.get_ref()).connect(&(*addr).into()) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    if timeout.is_some_and(|t| t.is_zero()) {
        // std's own error, which its setter gives before any syscall.
        let zero = source.get_ref().set_write_timeout(Some(Duration::ZERO));
        return Err(zero.expect_err("std refuses a zero timeout"));
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        match source.wait(Interest::Write, deadline) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                ));
            }
            Err(e) => return Err(e),
        }
        if let Some(err) = source.get_ref().take_error()? {
            return Err(err);
        }
        match source.get_ref().peer_addr() {
            Ok(_) => return Ok(()),
            // woken early: the handshake is still in flight
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => return Err(e),
        }
    }
}

/// Prints what std's socket prints for the same socket (its fields, its
/// fd as std shows it, its addresses).
impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.source.get_ref(), f)
    }
}

impl From<std::net::TcpStream> for TcpStream {
    /// Wraps a std stream. Its blocking mode and timeouts carry over; the
    /// socket itself stays in that mode (green's reads and writes are
    /// non-blocking per call), so std handles that share it (a clone the
    /// caller kept) see no change.
    ///
    /// # Panics
    ///
    /// Panics if the socket's mode cannot be read (only possible for an fd
    /// that is not a socket).
    fn from(stream: std::net::TcpStream) -> TcpStream {
        let source = Source::new(stream)
            .unwrap_or_else(|e| panic!("green_net: cannot read a socket's blocking mode: {e}"));
        let tcp = plain::is_plain_tcp(source.get_ref());
        TcpStream {
            source: source.short_reads_drain(tcp),
        }
    }
}

impl From<TcpStream> for std::net::TcpStream {
    /// Unwraps into a std stream, in the blocking mode last asked for (the
    /// socket's own: green never changes it), with its timeouts.
    fn from(stream: TcpStream) -> std::net::TcpStream {
        stream
            .source
            .into_inner()
            .expect("only a listener's blocking mode is restored")
    }
}

crate::fd::fd_conversions!(TcpStream, std::net::TcpStream, "TCP socket");

crate::stream_io::stream_io!(TcpStream, true);
