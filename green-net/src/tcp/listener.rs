//! [`TcpListener`]: `std::net::TcpListener`, yielding to the hub.

use std::fmt;
use std::io;
use std::iter::FusedIterator;
use std::net::SocketAddr;

use super::plain;
use crate::addr::{each_addr, ToSocketAddrs};
use crate::source::Source;
use crate::tcp::TcpStream;

/// A TCP socket server, listening for connections, exactly like
/// [`std::net::TcpListener`], except that inside [`green::run`] an
/// [`accept`](Self::accept) that would block parks the calling greenlet and
/// lets the others run. Outside `green::run` it blocks the thread, as std's
/// does.
///
/// To choose the backlog or share a port between hubs with `SO_REUSEPORT`,
/// bind with [`ListenOptions`](crate::ListenOptions).
///
/// # Examples
///
/// A greenlet per connection, like a thread per connection in std:
///
/// ```no_run
/// use green_net::{TcpListener, TcpStream};
/// use std::io::{self, Read, Write};
///
/// fn handle_client(mut stream: TcpStream) -> io::Result<()> {
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
///     let listener = TcpListener::bind("127.0.0.1:8080")?;
///     for stream in listener.incoming() {
///         let stream = stream?;
///         green::spawn(move || handle_client(stream));
///     }
///     Ok(())
/// })
/// .unwrap();
/// ```
pub struct TcpListener {
    source: Source<std::net::TcpListener>,
}

impl TcpListener {
    /// Creates a new `TcpListener` bound to the specified address, ready to
    /// accept connections.
    ///
    /// Binding with a port number of 0 will request that the OS assigns a
    /// port to this listener. The port allocated can be queried via
    /// [`local_addr`](Self::local_addr). If `addr` yields multiple addresses,
    /// `bind` is attempted with each of them until one succeeds, as std
    /// does; host names are resolved without blocking the hub.
    ///
    /// # Errors
    ///
    /// As std's: the OS error of the last attempt (for instance
    /// [`io::ErrorKind::AddrInUse`]), or `InvalidInput` when `addr` resolves
    /// to no address.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(listener.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        // bind(2) and listen(2) never block; only resolution could.
        each_addr(&addr, |a| std::net::TcpListener::bind(a)).map(TcpListener::from_std_fresh)
    }

    /// Wraps a listener this crate has just created (blocking mode, as std
    /// makes it).
    pub(crate) fn from_std_fresh(listener: std::net::TcpListener) -> TcpListener {
        // Its accepted streams are of its protocol.
        let tcp = plain::is_plain_tcp(&listener);
        TcpListener {
            source: Source::fresh_listener(listener)
                .unwrap_or_else(|e| panic!("green_net: cannot make a socket non-blocking: {e}"))
                .short_reads_drain(tcp),
        }
    }

    /// Returns the local socket address of this listener.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpListener;
    /// use std::net::{Ipv4Addr, SocketAddr};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(listener.local_addr().unwrap().ip(), Ipv4Addr::LOCALHOST);
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Creates a new independently owned handle to the underlying socket.
    ///
    /// The returned `TcpListener` is a reference to the same socket that this
    /// object references. Both handles can be used to accept incoming
    /// connections (from different greenlets, too), and options set on one
    /// listener will affect the other.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let clone = listener.try_clone().unwrap();
    /// assert_eq!(clone.local_addr().unwrap(), listener.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let dup = self.source.get_ref().try_clone()?;
        Ok(TcpListener {
            source: self.source.sibling(dup),
        })
    }

    /// Accepts a new incoming connection from this listener.
    ///
    /// This function will block the calling greenlet (the thread, outside
    /// `green::run`) until a new TCP connection is established. When
    /// established, the corresponding [`TcpStream`] and the remote peer's
    /// address will be returned. The stream is in blocking mode (as std's
    /// accepted streams are) whatever the listener's mode, and has the
    /// read and write timeouts the listener had when it was converted from
    /// std, which Linux copies to the sockets a TCP listener accepts.
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
    /// use green_net::{TcpListener, TcpStream};
    ///
    /// green::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let client = green::spawn(move || TcpStream::connect(addr).unwrap());
    ///     let (_socket, peer) = listener.accept().unwrap();
    ///     assert_eq!(peer, client.join().unwrap().local_addr().unwrap());
    /// });
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.source.accept_with(|l| l.accept())?;
        let stream = TcpStream::from_source(self.source.accepted(stream));
        Ok((stream, addr))
    }

    /// Returns an iterator over the connections being received on this
    /// listener.
    ///
    /// The returned iterator will never return [`None`] and will also not
    /// yield the peer's [`SocketAddr`] structure. Iterating over it is
    /// equivalent to calling [`accept`](Self::accept) in a loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::{TcpListener, TcpStream};
    ///
    /// green::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     green::spawn(move || {
    ///         let _a = TcpStream::connect(addr).unwrap();
    ///         let _b = TcpStream::connect(addr).unwrap();
    ///     });
    ///     let accepted = listener.incoming().take(2).filter(|s| s.is_ok()).count();
    ///     assert_eq!(accepted, 2);
    /// });
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Turns this listener into an iterator over the connections being
    /// received on it, as [`incoming`](Self::incoming) does, but owning it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use green_net::TcpListener;
    ///
    /// green::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:8080").unwrap();
    ///     for stream in listener.into_incoming() {
    ///         green::spawn(move || drop(stream));
    ///     }
    /// });
    /// ```
    pub fn into_incoming(self) -> IntoIncoming {
        IntoIncoming { listener: self }
    }

    /// Sets the value for the `IP_TTL` option on this socket.
    ///
    /// This value sets the time-to-live field that is used in every packet
    /// sent from this socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// listener.set_ttl(100).unwrap();
    /// assert_eq!(listener.ttl().unwrap(), 100);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.source.get_ref().set_ttl(ttl)
    }

    /// Gets the value of the `IP_TTL` option for this socket.
    ///
    /// For more information about this option, see
    /// [`set_ttl`](Self::set_ttl).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(listener.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }

    /// Sets the value for the `IPV6_V6ONLY` option on this socket, as std's
    /// deprecated method does: on a bound listener Linux refuses it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("[::1]:0").unwrap();
    /// assert!(listener.set_only_v6(true).is_err()); // too late: bound
    /// ```
    #[deprecated(
        since = "1.16.0",
        note = "this option can only be set before the socket is bound"
    )]
    pub fn set_only_v6(&self, only_v6: bool) -> io::Result<()> {
        #[allow(deprecated)]
        self.source.get_ref().set_only_v6(only_v6)
    }

    /// Gets the value of the `IPV6_V6ONLY` option for this socket, as std's
    /// deprecated method does.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("[::1]:0").unwrap();
    /// let _ = listener.only_v6().unwrap();
    /// ```
    #[deprecated(
        since = "1.16.0",
        note = "this option can only be set before the socket is bound"
    )]
    pub fn only_v6(&self) -> io::Result<bool> {
        #[allow(deprecated)]
        self.source.get_ref().only_v6()
    }

    /// Gets the value of the `SO_ERROR` option on this socket.
    ///
    /// This will retrieve the stored error in the underlying socket,
    /// clearing the field in the process. This can be useful for checking
    /// errors between calls.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(listener.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }

    /// Moves this TCP listener into or out of non-blocking mode.
    ///
    /// In non-blocking mode [`accept`](Self::accept) returns
    /// [`io::ErrorKind::WouldBlock`] at once instead of waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// listener.set_nonblocking(true).unwrap();
    /// let err = listener.accept().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking)
    }
}

/// An iterator that infinitely [`accept`](TcpListener::accept)s
/// connections on a [`TcpListener`]; see [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

impl FusedIterator for Incoming<'_> {}

/// An iterator that infinitely [`accept`](TcpListener::accept)s
/// connections on a [`TcpListener`] it owns; see
/// [`TcpListener::into_incoming`].
#[derive(Debug)]
pub struct IntoIncoming {
    listener: TcpListener,
}

impl Iterator for IntoIncoming {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}

impl FusedIterator for IntoIncoming {}

/// Prints what std's socket prints for the same socket (its fields, its
/// fd as std shows it, its addresses).
impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.source.get_ref(), f)
    }
}

impl From<std::net::TcpListener> for TcpListener {
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
    fn from(listener: std::net::TcpListener) -> TcpListener {
        let source = Source::new_listener(listener)
            .unwrap_or_else(|e| panic!("green_net: cannot make a socket non-blocking: {e}"));
        let tcp = plain::is_plain_tcp(source.get_ref());
        TcpListener {
            source: source.short_reads_drain(tcp),
        }
    }
}

impl From<TcpListener> for std::net::TcpListener {
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
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let clone = listener.try_clone().unwrap();
    /// let std_listener = std::net::TcpListener::from(listener);
    /// // `clone` still accepts through green: the socket stays non-blocking
    /// let err = std_listener.accept().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// drop(clone);
    /// ```
    fn from(listener: TcpListener) -> std::net::TcpListener {
        listener
            .source
            .into_inner()
            .unwrap_or_else(|e| panic!("green_net: cannot restore a socket's blocking mode: {e}"))
    }
}

crate::fd::fd_conversions!(TcpListener, std::net::TcpListener, "TCP listening socket");
