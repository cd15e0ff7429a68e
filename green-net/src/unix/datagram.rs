//! [`UnixDatagram`]: `std::os::unix::net::UnixDatagram`, yielding to the
//! hub.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::source::Source;
use crate::unix::{from_sockaddr, to_sockaddr, unnamed, Backoff, SocketAddr};

/// A Unix datagram socket, exactly like
/// [`std::os::unix::net::UnixDatagram`], except that inside [`green::run`]
/// a receive or send that would block parks the calling greenlet and lets
/// the others run, instead of blocking the thread.
///
/// Outside `green::run` it blocks the thread, as std's does. Read and write
/// timeouts, `set_nonblocking` and every error kind behave as std documents
/// them. All methods take `&self`, so one greenlet can receive while
/// another sends on the same socket.
///
/// # Examples
///
/// ```
/// use green_net::unix::UnixDatagram;
///
/// let path = std::env::temp_dir().join(format!("green-doc-dgram-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// green::run(|| -> std::io::Result<()> {
///     let server = UnixDatagram::bind(&path)?;
///     let echo = green::spawn(move || -> std::io::Result<()> {
///         let mut buf = [0; 64];
///         let (n, from) = server.recv_from(&mut buf)?;
///         server.send_to_addr(&buf[..n], &from)?;
///         Ok(())
///     });
///
///     let client_path = path.with_extension("client");
///     # let _ = std::fs::remove_file(&client_path);
///     let client = UnixDatagram::bind(&client_path)?; // to be answered
///     client.send_to(b"hello", &path)?;
///     let mut buf = [0; 64];
///     let n = client.recv(&mut buf)?;
///     assert_eq!(&buf[..n], b"hello");
///     std::fs::remove_file(&client_path)?;
///     echo.join().unwrap()
/// })
/// .unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixDatagram {
    source: Source<std::os::unix::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Creates a Unix datagram socket bound to the given path.
    ///
    /// # Errors
    ///
    /// As std's: `InvalidInput` for a path that is too long or holds a NUL
    /// byte, [`io::ErrorKind::AddrInUse`] when `path` exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-dbind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let socket = UnixDatagram::bind(&path).unwrap();
    /// assert_eq!(socket.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        std::os::unix::net::UnixDatagram::bind(path).and_then(UnixDatagram::from_std_fresh)
    }

    /// Creates a Unix datagram socket bound to an address.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::{SocketAddr, UnixDatagram};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-dbind-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let addr = SocketAddr::from_pathname(&path).unwrap();
    /// let socket = UnixDatagram::bind_addr(&addr).unwrap();
    /// assert_eq!(socket.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind_addr(socket_addr: &SocketAddr) -> io::Result<UnixDatagram> {
        std::os::unix::net::UnixDatagram::bind_addr(socket_addr)
            .and_then(UnixDatagram::from_std_fresh)
    }

    /// Creates a Unix datagram socket which is not bound to any address.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let socket = UnixDatagram::unbound().unwrap();
    /// assert!(socket.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        std::os::unix::net::UnixDatagram::unbound().and_then(UnixDatagram::from_std_fresh)
    }

    /// Creates an unnamed pair of connected sockets.
    ///
    /// Returns two `UnixDatagram`s which are connected to each other.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let (a, b) = UnixDatagram::pair().unwrap();
    /// a.send(b"one").unwrap();
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf).unwrap(), 3);
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((
            UnixDatagram::from_std_fresh(a)?,
            UnixDatagram::from_std_fresh(b)?,
        ))
    }

    fn from_std_fresh(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            source: Source::fresh(socket),
        })
    }

    /// Sends to an address, retrying after a pause on `WouldBlock`, within
    /// the write timeout.
    ///
    /// The one blocking-style operation that does not go through the
    /// source's readiness loop: Linux gives an unconnected sender no event
    /// for room in a full receiver queue, and wakes the sender's own socket
    /// each time it frees the datagram it failed to queue. Waiting for
    /// readiness would spin (and, with that edge always pending, never see
    /// the deadline); a growing pause polls gently instead.
    fn send_to_with(
        &self,
        mut op: impl FnMut(&std::os::unix::net::UnixDatagram) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut backoff = Backoff::new();
        let mut deadline = None;
        loop {
            match op(self.source.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return result,
            }
            if self.source.is_nonblocking() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            // As in the source's loop: the clock starts at the first wait.
            let deadline = *deadline.get_or_insert_with(|| {
                self.source
                    .write_timeout()
                    .and_then(|t| Instant::now().checked_add(t))
            });
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(io::Error::from_raw_os_error(libc::EAGAIN));
            }
            backoff.pause_until(deadline);
        }
    }

    /// Connects the socket to the specified path.
    ///
    /// The [`send`] method may be used to send data to the specified
    /// address. [`recv`] and [`recv_from`] will only receive data from that
    /// address.
    ///
    /// [`send`]: UnixDatagram::send
    /// [`recv`]: UnixDatagram::recv
    /// [`recv_from`]: UnixDatagram::recv_from
    ///
    /// # Errors
    ///
    /// As std's: for instance `NotFound` when nothing is at `path`.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-dconnect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path).unwrap();
    /// let client = UnixDatagram::unbound().unwrap();
    /// client.connect(&path).unwrap();
    /// client.send(b"hi").unwrap();
    /// let mut buf = [0; 8];
    /// assert_eq!(server.recv(&mut buf).unwrap(), 2);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        // connect(2) on a datagram socket only records the peer.
        self.source.get_ref().connect(path)
    }

    /// Connects the socket to an address.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-dconnect-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path).unwrap();
    /// let client = UnixDatagram::unbound().unwrap();
    /// client.connect_addr(&server.local_addr().unwrap()).unwrap();
    /// assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect_addr(&self, socket_addr: &SocketAddr) -> io::Result<()> {
        self.source.get_ref().connect_addr(socket_addr)
    }

    /// Creates a new independently owned handle to the underlying socket.
    ///
    /// The returned `UnixDatagram` is a reference to the same socket that
    /// this object references. Both handles can be used to send and
    /// receive, and options set on one side (timeouts, non-blocking mode)
    /// will affect the other, as with std.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let (a, b) = UnixDatagram::pair().unwrap();
    /// let clone = a.try_clone().unwrap();
    /// clone.send(b"x").unwrap();
    /// assert_eq!(b.recv(&mut [0; 4]).unwrap(), 1);
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        let dup = self.source.get_ref().try_clone()?;
        Ok(UnixDatagram {
            source: self.source.sibling(dup),
        })
    }

    /// Returns the address of this socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let socket = UnixDatagram::unbound().unwrap();
    /// assert!(socket.local_addr().unwrap().is_unnamed());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Returns the address of this socket's peer.
    ///
    /// The [`connect`](Self::connect) method will connect the socket to a
    /// peer.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotConnected`] if the socket is not connected, as
    /// std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let socket = UnixDatagram::unbound().unwrap();
    /// let err = socket.peer_addr().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Receives data from the socket.
    ///
    /// On success, returns the number of bytes read and the address from
    /// where the data came. It waits (parking the greenlet inside
    /// `green::run`) until a datagram arrives, or until the read timeout
    /// passes.
    ///
    /// # Notes
    ///
    /// A sender bound to a path of 108 bytes, which fills `sun_path` with
    /// no terminating NUL (Linux allows it; std's `bind` refuses such a
    /// path, so only a peer outside Rust has one), is reported unnamed,
    /// where std reports the path: std builds that address from the
    /// kernel's bytes, which its public constructors cannot do. The
    /// datagram is returned whole, as std's.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::WouldBlock`] when the read timeout passes first or,
    /// in non-blocking mode, when no datagram is queued, as std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// green::run(|| {
    ///     let (a, b) = UnixDatagram::pair().unwrap();
    ///     green::spawn(move || a.send(b"ping").unwrap());
    ///     let mut buf = [0; 8];
    ///     let (n, from) = b.recv_from(&mut buf).unwrap();
    ///     assert_eq!(&buf[..n], b"ping");
    ///     assert!(from.is_unnamed());
    /// });
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self.source.receive_with(
            |s| crate::sys::recv_from(s, buf, 0).map(|(n, from)| (n, Some(from))),
            || Ok((0, None)),
        )?;
        let from = match from {
            Some(from) => from_sockaddr(&from),
            None => unnamed(),
        };
        Ok((n, from))
    }

    /// Receives data from the socket.
    ///
    /// On success, returns the number of bytes read.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// green::run(|| {
    ///     let (a, b) = UnixDatagram::pair().unwrap();
    ///     green::spawn(move || a.send(b"ping").unwrap());
    ///     let mut buf = [0; 8];
    ///     let n = b.recv(&mut buf).unwrap();
    ///     assert_eq!(&buf[..n], b"ping");
    /// });
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source
            .receive_with(|s| crate::sys::recv(s, buf, 0), || Ok(0))
    }

    /// Sends data on the socket to the specified path.
    ///
    /// On success, returns the number of bytes written.
    ///
    /// # Notes
    ///
    /// When the receiver's queue is full, std's send sleeps in the kernel
    /// until there is room. Underneath, Linux reports `EAGAIN` and gives a
    /// sender no event for room being made (it even reports the sender
    /// writable right after each failed try), so this send retries after a
    /// short sleep (1 ms, doubling up to 16 ms, never past the write
    /// timeout) until it succeeds or the write timeout passes. The greenlet
    /// parks meanwhile; outside `green::run` the thread sleeps. A
    /// [`connect`](Self::connect)ed socket's [`send`](Self::send) is woken
    /// by the kernel instead.
    ///
    /// # Errors
    ///
    /// As std's: for instance `NotFound` when nothing is at `path`,
    /// `ConnectionRefused` when the socket there is gone, and
    /// [`io::ErrorKind::WouldBlock`] when the write timeout passes first.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-send-to-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// green::run(|| {
    ///     let server = UnixDatagram::bind(&path).unwrap();
    ///     let client = UnixDatagram::unbound().unwrap();
    ///     assert_eq!(client.send_to(b"omelette", &path).unwrap(), 8);
    ///     assert_eq!(server.recv(&mut [0; 16]).unwrap(), 8);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        // std's checks (length, NUL bytes) and error messages
        let addr = to_sockaddr(&SocketAddr::from_pathname(path)?)?;
        self.send_to_with(|s| crate::sys::send_to(s, buf, &addr))
    }

    /// Sends data on the socket to the specified [`SocketAddr`].
    ///
    /// On success, returns the number of bytes written. The notes of
    /// [`send_to`](Self::send_to) apply.
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-send-to-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// green::run(|| {
    ///     let server = UnixDatagram::bind(&path).unwrap();
    ///     let client = UnixDatagram::unbound().unwrap();
    ///     let to = server.local_addr().unwrap();
    ///     assert_eq!(client.send_to_addr(b"omelette", &to).unwrap(), 8);
    ///     assert_eq!(server.recv(&mut [0; 16]).unwrap(), 8);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn send_to_addr(&self, buf: &[u8], socket_addr: &SocketAddr) -> io::Result<usize> {
        let addr = to_sockaddr(socket_addr)?;
        self.send_to_with(|s| crate::sys::send_to(s, buf, &addr))
    }

    /// Sends data on the socket to the socket's peer.
    ///
    /// The peer address may be set by the [`connect`](Self::connect)
    /// method, and this method will return an error if the socket has not
    /// already been connected.
    ///
    /// On success, returns the number of bytes written.
    ///
    /// # Errors
    ///
    /// As std's: `NotConnected` for an unconnected socket, and
    /// [`io::ErrorKind::WouldBlock`] when the write timeout passes first.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let (a, b) = UnixDatagram::pair().unwrap();
    /// assert_eq!(a.send(b"omelette").unwrap(), 8);
    /// assert_eq!(b.recv(&mut [0; 16]).unwrap(), 8);
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.source.write_with(|s| crate::sys::send(s, buf))
    }

    /// Sets the read timeout for the socket.
    ///
    /// If the provided value is [`None`], then [`recv`] and [`recv_from`]
    /// calls will block indefinitely. An [`Err`] is returned if the zero
    /// [`Duration`] is passed to this method.
    ///
    /// # Platform-specific behavior
    ///
    /// As std's on Unix: a receive that times out returns an error of kind
    /// [`io::ErrorKind::WouldBlock`] (`EAGAIN`). A blocked greenlet is
    /// resumed when the timeout passes, never before.
    ///
    /// As with std, the kernel keeps the timeout in whole clock ticks
    /// (jiffies): [`read_timeout`](Self::read_timeout) returns what it kept
    /// (rounded up to a tick, [`None`] for a timeout too long to keep), and
    /// that is how long an operation waits.
    ///
    /// [`recv`]: UnixDatagram::recv
    /// [`recv_from`]: UnixDatagram::recv_from
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    /// use std::io;
    /// use std::time::{Duration, Instant};
    ///
    /// green::run(|| {
    ///     let socket = UnixDatagram::unbound().unwrap();
    ///     let err = socket.set_read_timeout(Some(Duration::new(0, 0))).unwrap_err();
    ///     assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    ///
    ///     socket.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    ///     let err = socket.recv(&mut [0; 8]).unwrap_err(); // nobody sends
    ///     assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    /// });
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source
            .set_read_timeout(timeout, std::os::unix::net::UnixDatagram::set_read_timeout)
    }

    /// Sets the write timeout for the socket.
    ///
    /// If the provided value is [`None`], then [`send`] and [`send_to`]
    /// calls will block indefinitely. An [`Err`] is returned if the zero
    /// [`Duration`] is passed to this method.
    ///
    /// # Platform-specific behavior
    ///
    /// As std's on Unix: a send that times out returns an error of kind
    /// [`io::ErrorKind::WouldBlock`].
    ///
    /// As with std, the kernel keeps the timeout in whole clock ticks
    /// (jiffies): [`write_timeout`](Self::write_timeout) returns what it kept
    /// (rounded up to a tick, [`None`] for a timeout too long to keep), and
    /// that is how long an operation waits.
    ///
    /// [`send`]: UnixDatagram::send
    /// [`send_to`]: UnixDatagram::send_to
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    /// use std::io;
    /// use std::time::{Duration, Instant};
    ///
    /// let socket = UnixDatagram::unbound().unwrap();
    /// let err = socket.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    /// socket.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.source
            .set_write_timeout(timeout, std::os::unix::net::UnixDatagram::set_write_timeout)
    }

    /// Returns the read timeout of this socket; [`None`] means receives
    /// block indefinitely.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    /// use std::time::{Duration, Instant};
    ///
    /// let socket = UnixDatagram::unbound().unwrap();
    /// assert_eq!(socket.read_timeout().unwrap(), None);
    /// socket.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(socket.read_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.read_timeout())
    }

    /// Returns the write timeout of this socket; [`None`] means sends block
    /// indefinitely.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    /// use std::time::{Duration, Instant};
    ///
    /// let socket = UnixDatagram::unbound().unwrap();
    /// assert_eq!(socket.write_timeout().unwrap(), None);
    /// socket.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(socket.write_timeout().unwrap(), Some(Duration::from_secs(1)));
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
    /// use green_net::unix::UnixDatagram;
    /// use std::io;
    ///
    /// green::run(|| {
    ///     let socket = UnixDatagram::unbound().unwrap();
    ///     socket.set_nonblocking(true).unwrap();
    ///     let err = socket.recv(&mut [0; 8]).unwrap_err();
    ///     assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    /// });
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking)
    }

    /// Returns the value of the `SO_ERROR` option, clearing it.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    ///
    /// let socket = UnixDatagram::unbound().unwrap();
    /// assert!(socket.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }

    /// Shuts down the read, write, or both halves of this connection.
    ///
    /// This function will cause all pending and future I/O calls on the
    /// specified portions to immediately return with an appropriate value
    /// (see the documentation of [`Shutdown`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixDatagram;
    /// use std::net::Shutdown;
    ///
    /// green::run(|| {
    ///     let (a, _b) = UnixDatagram::pair().unwrap();
    ///     a.shutdown(Shutdown::Both).unwrap();
    ///     // a receive returns at once, as with std
    ///     assert_eq!(a.recv(&mut [0; 8]).unwrap(), 0);
    ///     assert!(a.send(b"late").is_err());
    /// });
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if how != Shutdown::Write {
            // Before the syscall: a receiver it wakes must see the flag.
            self.source.note_receive_shut();
        }
        self.source.get_ref().shutdown(how)
    }
}

/// Prints what std's socket prints for the same socket (its fields, its
/// fd as std shows it, its addresses).
impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.source.get_ref(), f)
    }
}

impl From<std::os::unix::net::UnixDatagram> for UnixDatagram {
    /// Wraps a std socket. Its blocking mode and timeouts carry over.
    /// The socket itself stays in that mode (green's operations are
    /// non-blocking per call), so std handles that share it (a clone the
    /// caller kept) see no change.
    ///
    /// # Panics
    ///
    /// Panics if the socket's mode cannot be read (only possible for an fd
    /// that is not a socket).
    fn from(socket: std::os::unix::net::UnixDatagram) -> UnixDatagram {
        let source = Source::new(socket)
            .unwrap_or_else(|e| panic!("green_net: cannot read a socket's blocking mode: {e}"));
        UnixDatagram { source }
    }
}

impl From<UnixDatagram> for std::os::unix::net::UnixDatagram {
    /// Unwraps into a std socket, in the blocking mode last asked for (the
    /// socket's own: green never changes it), with its timeouts.
    fn from(socket: UnixDatagram) -> std::os::unix::net::UnixDatagram {
        socket
            .source
            .into_inner()
            .expect("only a listener's blocking mode is restored")
    }
}

crate::fd::fd_conversions!(
    UnixDatagram,
    std::os::unix::net::UnixDatagram,
    "Unix datagram socket"
);
