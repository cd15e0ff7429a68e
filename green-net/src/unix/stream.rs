//! [`UnixStream`]: `std::os::unix::net::UnixStream`, yielding to the hub.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::path::Path;
use std::time::Duration;

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use crate::source::{Interest, Source};
use crate::unix::{to_sockaddr, Backoff, SocketAddr};

/// A Unix stream socket, exactly like [`std::os::unix::net::UnixStream`],
/// except that inside [`green::run`] a read, write or connect that would
/// block parks the calling greenlet and lets the others run, instead of
/// blocking the thread.
///
/// Outside `green::run` it blocks the thread, as std's does. Read and write
/// timeouts, `set_nonblocking` and every error kind behave as std documents
/// them.
///
/// Reading and writing are done through the [`Read`](std::io::Read) and [`Write`](std::io::Write) traits,
/// which are implemented for `UnixStream` and for `&UnixStream`, so one
/// greenlet can read while another writes the same stream.
///
/// # Examples
///
/// ```
/// use green_net::unix::{UnixListener, UnixStream};
/// use std::io::prelude::*;
///
/// let path = std::env::temp_dir().join(format!("green-doc-stream-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// green::run(|| -> std::io::Result<()> {
///     let listener = UnixListener::bind(&path)?;
///     let server = green::spawn(move || -> std::io::Result<()> {
///         let (mut conn, _) = listener.accept()?;
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf)?;
///         conn.write_all(&buf)
///     });
///
///     let mut stream = UnixStream::connect(&path)?;
///     stream.write_all(b"hello")?;
///     let mut echo = [0; 5];
///     stream.read_exact(&mut echo)?;
///     assert_eq!(&echo, b"hello");
///     server.join().unwrap()
/// })
/// .unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixStream {
    source: Source<std::os::unix::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket named by `path`.
    ///
    /// # Notes
    ///
    /// Inside `green::run` the connect is non-blocking. When the listener's
    /// backlog is full, where std's connect sleeps in the kernel until the
    /// listener accepts, the greenlet sleeps briefly (1 ms, doubling up to
    /// 16 ms) and tries again, for as long as std's would wait: the kernel
    /// gives no readiness event for a backlog that frees up. Outside
    /// `green::run` this is std's connect.
    ///
    /// # Errors
    ///
    /// As std's: `InvalidInput` for a path that is too long or holds a NUL
    /// byte, and the OS error otherwise (`NotFound` when nothing is at
    /// `path`, `ConnectionRefused` when nothing listens there).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-connect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// green::run(|| {
    ///     let err = UnixStream::connect(&path).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    ///     let _listener = UnixListener::bind(&path).unwrap();
    ///     let stream = UnixStream::connect(&path).unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        if !green::is_running() {
            return std::os::unix::net::UnixStream::connect(path).map(UnixStream::from_std_fresh);
        }
        // std's checks (length, NUL bytes) and error messages
        connect_green(&SocketAddr::from_pathname(path)?)
    }

    /// Connects to the socket specified by the address `socket_addr`.
    ///
    /// This is [`connect`](Self::connect) for an address obtained from
    /// another socket or built with [`SocketAddr::from_pathname`] (or, on
    /// Linux, an abstract name); the same notes apply.
    ///
    /// # Errors
    ///
    /// As std's; connecting to an unnamed address fails with the OS's
    /// `EINVAL`.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-connect-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// green::run(|| {
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let stream = UnixStream::connect_addr(&addr).unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap().as_pathname(), addr.as_pathname());
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect_addr(socket_addr: &SocketAddr) -> io::Result<UnixStream> {
        if !green::is_running() {
            return std::os::unix::net::UnixStream::connect_addr(socket_addr)
                .map(UnixStream::from_std_fresh);
        }
        connect_green(socket_addr)
    }

    /// Creates an unnamed pair of connected sockets.
    ///
    /// Returns two `UnixStream`s which are connected to each other.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixStream;
    /// use std::io::{Read, Write};
    ///
    /// let (mut a, mut b) = UnixStream::pair().unwrap();
    /// a.write_all(b"x").unwrap();
    /// let mut buf = [0];
    /// b.read_exact(&mut buf).unwrap();
    /// assert_eq!(&buf, b"x");
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std_fresh(a), UnixStream::from_std_fresh(b)))
    }

    /// Creates a new independently owned handle to the underlying socket.
    ///
    /// The returned `UnixStream` is a reference to the same stream that this
    /// object references. Both handles will read and write the same stream
    /// of data, and options set on one stream (timeouts, non-blocking mode)
    /// will be propagated to the other stream, as with std.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixStream;
    /// use std::io::{Read, Write};
    ///
    /// green::run(|| {
    ///     let (a, mut b) = UnixStream::pair().unwrap();
    ///     let mut writer = a.try_clone().unwrap();
    ///     drop(a); // the clone keeps the stream open
    ///     let w = green::spawn(move || writer.write_all(b"via clone").unwrap());
    ///     let mut got = String::new();
    ///     b.read_to_string(&mut got).unwrap(); // EOF once the clone is dropped
    ///     assert_eq!(got, "via clone");
    ///     w.join().unwrap();
    /// });
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let dup = self.source.get_ref().try_clone()?;
        Ok(UnixStream {
            source: self.source.sibling(dup),
        })
    }

    /// Returns the socket address of the local half of this connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixStream;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// assert!(a.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Returns the socket address of the remote half of this connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixStream;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Sets the read timeout for the socket.
    ///
    /// If the provided value is [`None`], then [`read`] calls will block
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
    /// use green_net::unix::UnixStream;
    /// use std::io::{self, Read};
    /// use std::time::Duration;
    ///
    /// green::run(|| {
    ///     let (mut a, _b) = UnixStream::pair().unwrap();
    ///     let err = a.set_read_timeout(Some(Duration::new(0, 0))).unwrap_err();
    ///     assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    ///
    ///     a.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    ///     let err = a.read(&mut [0; 8]).unwrap_err(); // nobody writes
    ///     assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    /// });
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source
            .set_read_timeout(timeout, std::os::unix::net::UnixStream::set_read_timeout)
    }

    /// Sets the write timeout for the socket.
    ///
    /// If the provided value is [`None`], then [`write`] calls will block
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
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixStream;
    /// use std::io;
    /// use std::time::Duration;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// let err = a.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    /// a.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source
            .set_write_timeout(timeout, std::os::unix::net::UnixStream::set_write_timeout)
    }

    /// Returns the read timeout of this socket; [`None`] means reads block
    /// indefinitely.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixStream;
    /// use std::time::Duration;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// assert_eq!(a.read_timeout().unwrap(), None);
    /// a.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(a.read_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.read_timeout())
    }

    /// Returns the write timeout of this socket; [`None`] means writes block
    /// indefinitely.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixStream;
    /// use std::time::Duration;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), None);
    /// a.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.write_timeout())
    }

    /// Moves the socket into or out of nonblocking mode.
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
    /// use green_net::unix::UnixStream;
    /// use std::io::{self, Read};
    ///
    /// green::run(|| {
    ///     let (mut a, _b) = UnixStream::pair().unwrap();
    ///     a.set_nonblocking(true).unwrap();
    ///     let err = a.read(&mut [0; 8]).unwrap_err();
    ///     assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    /// });
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking)
    }

    /// Returns the value of the `SO_ERROR` option, clearing it.
    ///
    /// That includes, as with std, the error a blocking write met after it
    /// had sent some bytes (it returned their count, and the error waits
    /// for the next call on the socket: this one, or a read or write).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixStream;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// assert!(a.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.take_error()
    }

    /// Shuts down the read, write, or both halves of this connection.
    ///
    /// This function will cause all pending and future I/O calls on the
    /// specified portions to immediately return with an appropriate value
    /// (see the documentation of [`Shutdown`]). Shutting down the write half
    /// makes the peer's reads return end of file.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixStream;
    /// use std::io::Read;
    /// use std::net::Shutdown;
    ///
    /// green::run(|| {
    ///     let (a, mut b) = UnixStream::pair().unwrap();
    ///     a.shutdown(Shutdown::Write).unwrap();
    ///     let mut rest = Vec::new();
    ///     assert_eq!(b.read_to_end(&mut rest).unwrap(), 0); // EOF
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.source.get_ref().shutdown(how)
    }

    /// Wraps a stream that std or this crate has just created (blocking,
    /// no timeouts).
    pub(crate) fn from_std_fresh(stream: std::os::unix::net::UnixStream) -> UnixStream {
        UnixStream {
            source: Source::fresh(stream),
        }
    }
}

/// A non-blocking connect from a greenlet; see [`UnixStream::connect`].
///
/// The socket is non-blocking (in the kernel) for the connect only: nothing
/// shares it yet, and the stream comes out in std's blocking mode.
fn connect_green(addr: &SocketAddr) -> io::Result<UnixStream> {
    let sockaddr = to_sockaddr(addr)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
    let source = Source::fresh(std::os::unix::net::UnixStream::from(socket));
    connect_nonblocking(&source, &sockaddr)?;
    SockRef::from(source.get_ref()).set_nonblocking(false)?;
    Ok(UnixStream { source })
}

/// The connect of [`connect_green`], on its non-blocking socket.
fn connect_nonblocking(
    source: &Source<std::os::unix::net::UnixStream>,
    sockaddr: &SockAddr,
) -> io::Result<()> {
    let mut backoff = Backoff::new();
    loop {
        match SockRef::from(source.get_ref()).connect(sockaddr) {
            Ok(()) => return Ok(()),
            // Not on Linux, where a Unix connect completes at once or fails;
            // handled like TCP's for other kernels.
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                return finish_connect(source);
            }
            // The listener's backlog is full (Linux).
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => backoff.pause(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Waits for a connect in progress to finish.
fn finish_connect(source: &Source<std::os::unix::net::UnixStream>) -> io::Result<()> {
    loop {
        source.wait(Interest::Write, None)?;
        if let Some(err) = source.get_ref().take_error()? {
            return Err(err);
        }
        match source.get_ref().peer_addr() {
            Ok(_) => return Ok(()),
            // woken early: still in flight
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => return Err(e),
        }
    }
}

/// Prints what std's socket prints for the same socket (its fields, its
/// fd as std shows it, its addresses).
impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.source.get_ref(), f)
    }
}

impl From<std::os::unix::net::UnixStream> for UnixStream {
    /// Wraps a std stream. Its blocking mode and timeouts carry over.
    /// The socket itself stays in that mode (green's reads and writes are
    /// non-blocking per call), so std handles that share it (a clone the
    /// caller kept) see no change.
    ///
    /// # Panics
    ///
    /// Panics if the socket's mode cannot be read (only possible for an fd
    /// that is not a socket).
    fn from(stream: std::os::unix::net::UnixStream) -> UnixStream {
        let source = Source::new(stream)
            .unwrap_or_else(|e| panic!("green_net: cannot read a socket's blocking mode: {e}"));
        UnixStream { source }
    }
}

impl From<UnixStream> for std::os::unix::net::UnixStream {
    /// Unwraps into a std stream, in the blocking mode last asked for (the
    /// socket's own: green never changes it), with its timeouts.
    fn from(stream: UnixStream) -> std::os::unix::net::UnixStream {
        stream
            .source
            .into_inner()
            .expect("only a listener's blocking mode is restored")
    }
}

crate::fd::fd_conversions!(
    UnixStream,
    std::os::unix::net::UnixStream,
    "Unix stream socket"
);

crate::stream_io::stream_io!(UnixStream, false);
