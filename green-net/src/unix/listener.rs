//! [`UnixListener`]: `std::os::unix::net::UnixListener`, yielding to the
//! hub.

use std::fmt;
use std::io;
use std::iter::FusedIterator;
use std::path::Path;

use crate::source::Source;
use crate::unix::{SocketAddr, UnixStream};

/// A structure representing a Unix domain socket server, exactly like
/// [`std::os::unix::net::UnixListener`], except that inside [`green::run`]
/// an [`accept`](Self::accept) that would block parks the calling greenlet
/// and lets the others run. Outside `green::run` it blocks the thread, as
/// std's does.
///
/// # Examples
///
/// A greenlet per connection, like a thread per connection in std:
///
/// ```no_run
/// use green_net::unix::{UnixListener, UnixStream};
/// use std::io::{self, Read, Write};
///
/// fn handle_client(mut stream: UnixStream) -> io::Result<()> {
///     let mut buf = [0; 1024];
///     loop {
///         let n = stream.read(&mut buf)?;
///         if n == 0 {
///             return Ok(());
///         }
///         stream.write_all(&buf[..n])?;
///     }
/// }
///
/// green::run(|| -> io::Result<()> {
///     let listener = UnixListener::bind("/path/to/the/socket")?;
///     for stream in listener.incoming() {
///         let stream = stream?;
///         green::spawn(move || handle_client(stream));
///     }
///     Ok(())
/// })
/// .unwrap();
/// ```
pub struct UnixListener {
    source: Source<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Creates a new `UnixListener` bound to the specified socket.
    ///
    /// The socket file is created at `path`; it is not removed when the
    /// listener is dropped, as with std.
    ///
    /// # Errors
    ///
    /// As std's: `InvalidInput` for a path that is too long or holds a NUL
    /// byte, [`io::ErrorKind::AddrInUse`] when `path` exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// let err = UnixListener::bind(&path).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// drop(listener);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        // bind(2) and listen(2) never wait for a peer.
        std::os::unix::net::UnixListener::bind(path).and_then(UnixListener::from_std_fresh)
    }

    /// Creates a new `UnixListener` bound to the specified socket address.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::{SocketAddr, UnixListener};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-bind-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let addr = SocketAddr::from_pathname(&path).unwrap();
    /// let listener = UnixListener::bind_addr(&addr).unwrap();
    /// assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind_addr(socket_addr: &SocketAddr) -> io::Result<UnixListener> {
        std::os::unix::net::UnixListener::bind_addr(socket_addr)
            .and_then(UnixListener::from_std_fresh)
    }

    fn from_std_fresh(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            source: Source::fresh_listener(listener)?,
        })
    }

    /// Accepts a new incoming connection to this listener.
    ///
    /// This function will block the calling greenlet (the thread, outside
    /// `green::run`) until a new Unix connection is established. When
    /// established, the corresponding [`UnixStream`] and the remote peer's
    /// address will be returned. The stream is in blocking mode (as std's
    /// accepted streams are) whatever the listener's mode.
    ///
    /// # Errors
    ///
    /// The OS's, as std's: for instance `WouldBlock` after
    /// [`set_nonblocking(true)`](Self::set_nonblocking), or `EMFILE` when the
    /// process is out of file descriptors. Inside `green::run`, an error
    /// lets the other greenlets run before it is returned (5 ms when out of
    /// descriptors or memory, a yield otherwise), so a loop that skips
    /// errors never starves the hub. `WouldBlock` in non-blocking mode is
    /// returned at once, as any non-blocking socket's: a loop that skips it
    /// polls the listener and keeps the hub busy (see README's known traps).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// green::run(|| {
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let p = path.clone();
    ///     let client = green::spawn(move || UnixStream::connect(p).unwrap());
    ///     let (_socket, peer) = listener.accept().unwrap();
    ///     assert!(peer.is_unnamed()); // the client did not bind
    ///     client.join().unwrap();
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        // Shut, std's blocking accept fails with EINVAL at once.
        let (stream, addr) = self.source.accept_with(self.source.until_receive_shut(
            |l| l.accept(),
            || Err(io::Error::from_raw_os_error(libc::EINVAL)),
        ))?;
        Ok((UnixStream::from_std_fresh(stream), addr))
    }

    /// Creates a new independently owned handle to the underlying socket.
    ///
    /// The returned `UnixListener` is a reference to the same socket that
    /// this object references. Both handles can be used to accept incoming
    /// connections (from different greenlets, too), and options set on one
    /// listener will affect the other.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-clone-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// let clone = listener.try_clone().unwrap();
    /// assert_eq!(clone.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        let dup = self.source.get_ref().try_clone()?;
        Ok(UnixListener {
            source: self.source.sibling(dup),
        })
    }

    /// Returns the local socket address of this listener.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-local-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Moves the socket into or out of nonblocking mode.
    ///
    /// In non-blocking mode [`accept`](Self::accept) returns
    /// [`io::ErrorKind::WouldBlock`] at once instead of waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-nb-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// listener.set_nonblocking(true).unwrap();
    /// let err = listener.accept().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking)
    }

    /// Returns the value of the `SO_ERROR` option, clearing it.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-err-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path).unwrap();
    /// assert!(listener.take_error().unwrap().is_none());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }

    /// Returns an iterator over incoming connections.
    ///
    /// The iterator will never return [`None`] and will also not yield the
    /// peer's [`SocketAddr`] structure. Iterating over it is equivalent to
    /// calling [`accept`](Self::accept) in a loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::unix::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("green-doc-incoming-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// green::run(|| {
    ///     let listener = UnixListener::bind(&path).unwrap();
    ///     let p = path.clone();
    ///     green::spawn(move || {
    ///         let _a = UnixStream::connect(&p).unwrap();
    ///         let _b = UnixStream::connect(&p).unwrap();
    ///     });
    ///     let accepted = listener.incoming().take(2).filter(|s| s.is_ok()).count();
    ///     assert_eq!(accepted, 2);
    /// });
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

impl<'a> IntoIterator for &'a UnixListener {
    type Item = io::Result<UnixStream>;
    type IntoIter = Incoming<'a>;

    fn into_iter(self) -> Incoming<'a> {
        self.incoming()
    }
}

/// An iterator over incoming connections to a [`UnixListener`]; see
/// [`UnixListener::incoming`].
///
/// It will never return [`None`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl FusedIterator for Incoming<'_> {}

/// Prints what std's socket prints for the same socket (its fields, its
/// fd as std shows it, its addresses).
impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.source.get_ref(), f)
    }
}

impl From<std::os::unix::net::UnixListener> for UnixListener {
    /// Takes over a std listener, keeping its blocking mode as the mode its
    /// `accept` behaves in.
    ///
    /// The socket itself is switched to non-blocking mode (`accept` has no
    /// per-call flag), which std handles of it (a clone the caller kept)
    /// share until it is converted back.
    ///
    /// A listener green owns already (a duplicate of a green listener's fd,
    /// or a clone converted to std and back) is non-blocking in the kernel
    /// for green's sake, not the user's: it joins the other green handles
    /// of the socket instead, sharing their mode and timeouts as a
    /// `try_clone` would, so its `accept` blocks (parks) unless
    /// `set_nonblocking(true)` was called, as a std duplicate's does.
    ///
    /// # Panics
    ///
    /// Panics if the socket cannot be switched to non-blocking mode (only
    /// possible for an fd that is not a socket).
    fn from(listener: std::os::unix::net::UnixListener) -> UnixListener {
        let source = Source::new_listener(listener)
            .unwrap_or_else(|e| panic!("green_net: cannot make a socket non-blocking: {e}"));
        UnixListener { source }
    }
}

impl From<UnixListener> for std::os::unix::net::UnixListener {
    /// Gives the listener back in the blocking mode last asked for.
    ///
    /// Unless other green handles of it (`try_clone`s, duplicates wrapped
    /// again) are still alive:
    /// they share the socket's mode, and a blocking listener would block
    /// their `accept`, and with it their hub. Then it stays non-blocking,
    /// and a std `accept` on it returns [`io::ErrorKind::WouldBlock`] when
    /// no connection is queued, instead of waiting.
    ///
    /// # Panics
    ///
    /// Panics if the socket's blocking mode cannot be restored.
    fn from(listener: UnixListener) -> std::os::unix::net::UnixListener {
        listener
            .source
            .into_inner()
            .unwrap_or_else(|e| panic!("green_net: cannot restore a socket's blocking mode: {e}"))
    }
}

crate::fd::fd_conversions!(
    UnixListener,
    std::os::unix::net::UnixListener,
    "Unix listening socket"
);
