//! [`UdpSocket`]: `std::net::UdpSocket`, yielding to the hub.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use socket2::SockAddr;

use crate::addr::{each_addr, ToSocketAddrs};
use crate::source::Source;

/// A UDP socket, exactly like [`std::net::UdpSocket`], except that inside
/// [`green::run`] a receive or send that would block parks the calling
/// greenlet and lets the others run, instead of blocking the thread.
///
/// Outside `green::run` it blocks the thread, as std's does. Read and write
/// timeouts, `set_nonblocking` and every error kind behave as std documents
/// them for Unix.
///
/// After creating a `UdpSocket` by [`bind`]ing it to a socket address, data
/// can be [sent to] and [received from] any other socket address. As in
/// std, a `UdpSocket` can also be [`connect`]ed to one peer, after which
/// [`send`] and [`recv`] talk to that peer only. All methods take `&self`,
/// so one greenlet can receive while another sends on the same socket.
///
/// [`bind`]: UdpSocket::bind
/// [`connect`]: UdpSocket::connect
/// [received from]: UdpSocket::recv_from
/// [`recv`]: UdpSocket::recv
/// [`send`]: UdpSocket::send
/// [sent to]: UdpSocket::send_to
///
/// # Examples
///
/// ```
/// use green_net::UdpSocket;
///
/// green::run(|| -> std::io::Result<()> {
///     let server = UdpSocket::bind("127.0.0.1:0")?;
///     let addr = server.local_addr()?;
///     let echo = green::spawn(move || -> std::io::Result<()> {
///         let mut buf = [0; 64];
///         let (n, from) = server.recv_from(&mut buf)?;
///         server.send_to(&buf[..n], from)?;
///         Ok(())
///     });
///
///     let client = UdpSocket::bind("127.0.0.1:0")?;
///     client.send_to(b"hello", addr)?;
///     let mut buf = [0; 64];
///     let (n, from) = client.recv_from(&mut buf)?;
///     assert_eq!((&buf[..n], from), (&b"hello"[..], addr));
///     echo.join().unwrap()
/// })
/// .unwrap();
/// ```
pub struct UdpSocket {
    source: Source<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Creates a UDP socket from the given address.
    ///
    /// The address type can be any implementor of the [`ToSocketAddrs`]
    /// trait; host names are resolved without blocking the hub. If `addr`
    /// yields multiple addresses, `bind` is attempted with each of them
    /// until one succeeds, as std does. Binding with a port number of 0
    /// asks the OS for a free port.
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
    /// use green_net::UdpSocket;
    /// use std::net::SocketAddr;
    ///
    /// let addrs = [
    ///     SocketAddr::from(([127, 0, 0, 1], 0)),
    ///     SocketAddr::from(([127, 0, 0, 1], 0)),
    /// ];
    /// let socket = UdpSocket::bind(&addrs[..]).unwrap();
    /// assert_ne!(socket.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        // bind(2) never blocks; only resolution could.
        let socket = each_addr(&addr, |a| std::net::UdpSocket::bind(a))?;
        Ok(UdpSocket {
            source: Source::fresh(socket),
        })
    }

    /// Receives a single datagram message on the socket. On success,
    /// returns the number of bytes read and the origin.
    ///
    /// The function must be called with a buffer large enough to hold the
    /// message; excess bytes of a longer message are discarded. It waits
    /// (parking the greenlet inside `green::run`) until a datagram arrives,
    /// or until the read timeout passes.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::WouldBlock`] when the read timeout passes first or,
    /// in non-blocking mode, when no datagram is queued, as std's on Unix.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// green::run(|| {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let to = socket.local_addr().unwrap();
    ///     green::spawn(move || sender.send_to(b"ping", to).unwrap());
    ///     let mut buf = [0; 10];
    ///     let (n, _from) = socket.recv_from(&mut buf).unwrap();
    ///     assert_eq!(&buf[..n], b"ping");
    /// });
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source
            .receive_with(|s| crate::sys::recv_from(s, buf, 0), || Err(no_address()))
            .and_then(inet)
    }

    /// Receives a single datagram message on the socket, without removing
    /// it from the queue. On success, returns the number of bytes read and
    /// the origin.
    ///
    /// Successive calls return the same data. Like
    /// [`recv_from`](Self::recv_from), it waits until a datagram arrives.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// green::run(|| {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     sender.send_to(b"ping", socket.local_addr().unwrap()).unwrap();
    ///     let mut buf = [0; 10];
    ///     let (n, from) = socket.peek_from(&mut buf).unwrap();
    ///     assert_eq!((n, from), (4, sender.local_addr().unwrap()));
    ///     // still there
    ///     assert_eq!(socket.recv_from(&mut buf).unwrap(), (n, from));
    /// });
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.source
            .receive_with(
                |s| crate::sys::recv_from(s, buf, libc::MSG_PEEK),
                || Err(no_address()),
            )
            .and_then(inet)
    }

    /// Sends data on the socket to the given address. On success, returns
    /// the number of bytes written.
    ///
    /// The address type can be any implementor of [`ToSocketAddrs`]. As in
    /// std, if `addr` yields several addresses, the data is sent to the
    /// first one only. Host names are resolved without blocking the hub.
    ///
    /// # Errors
    ///
    /// As std's: `InvalidInput` when `addr` resolves to no address, an error
    /// when the IP version of the local socket does not match that of the
    /// address, and [`io::ErrorKind::WouldBlock`] when the write timeout
    /// passes before the send buffer has room.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// green::run(|| {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let port = socket.local_addr().unwrap().port();
    ///     let n = socket.send_to(&[0; 10], ("localhost", port)).unwrap();
    ///     assert_eq!(n, 10);
    /// });
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let Some(addr) = addr.to_socket_addrs()?.next() else {
            // std's own error, which it gives before any syscall.
            let none: &[SocketAddr] = &[];
            return self.source.get_ref().send_to(buf, none);
        };
        let addr = SockAddr::from(addr);
        self.source
            .write_with(|s| crate::sys::send_to(s, buf, &addr))
    }

    /// Returns the socket address of the remote peer this socket was
    /// connected to.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotConnected`] if the socket is not connected, as
    /// std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    /// use std::io::ErrorKind;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(socket.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
    /// socket.connect("127.0.0.1:41203").unwrap();
    /// assert_eq!(socket.peer_addr().unwrap(), "127.0.0.1:41203".parse().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().peer_addr()
    }

    /// Returns the socket address that this socket was created from.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    /// use std::net::Ipv4Addr;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(socket.local_addr().unwrap().ip(), Ipv4Addr::LOCALHOST);
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.source.get_ref().local_addr()
    }

    /// Creates a new independently owned handle to the underlying socket.
    ///
    /// The returned `UdpSocket` is a reference to the same socket that this
    /// object references. Both handles send and receive on the same socket,
    /// and options set on one (timeouts, non-blocking mode) are propagated
    /// to the other, as with std.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let clone = socket.try_clone().unwrap();
    /// assert_eq!(clone.local_addr().unwrap(), socket.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let dup = self.source.get_ref().try_clone()?;
        Ok(UdpSocket {
            source: self.source.sibling(dup),
        })
    }

    /// Sets the read timeout to the timeout specified.
    ///
    /// If the value specified is [`None`], then [`recv_from`] and friends
    /// block indefinitely. An [`Err`] is returned if the zero [`Duration`]
    /// is passed to this method.
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
    /// [`recv_from`]: UdpSocket::recv_from
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    /// use std::io;
    /// use std::time::Duration;
    ///
    /// green::run(|| {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let err = socket.set_read_timeout(Some(Duration::new(0, 0))).unwrap_err();
    ///     assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    ///
    ///     socket.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    ///     let err = socket.recv(&mut [0; 8]).unwrap_err(); // nobody sends
    ///     assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    /// });
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.source
            .set_read_timeout(dur, std::net::UdpSocket::set_read_timeout)
    }

    /// Sets the write timeout to the timeout specified.
    ///
    /// If the value specified is [`None`], then [`send_to`] and friends
    /// block indefinitely. An [`Err`] is returned if the zero [`Duration`]
    /// is passed to this method.
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
    /// [`send_to`]: UdpSocket::send_to
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    /// use std::io;
    /// use std::time::Duration;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let err = socket.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    /// socket.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// ```
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.source
            .set_write_timeout(dur, std::net::UdpSocket::set_write_timeout)
    }

    /// Returns the read timeout of this socket; [`None`] means receives
    /// block indefinitely.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    /// use std::time::Duration;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
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
    /// use green_net::UdpSocket;
    /// use std::time::Duration;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(socket.write_timeout().unwrap(), None);
    /// socket.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(socket.write_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.source.write_timeout())
    }

    /// Sets the value of the `SO_BROADCAST` option for this socket.
    ///
    /// When enabled, this socket is allowed to send packets to a broadcast
    /// address.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_broadcast(false).unwrap();
    /// assert!(!socket.broadcast().unwrap());
    /// ```
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.source.get_ref().set_broadcast(broadcast)
    }

    /// Gets the value of the `SO_BROADCAST` option for this socket.
    ///
    /// For more information about this option, see
    /// [`set_broadcast`](Self::set_broadcast).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_broadcast(true).unwrap();
    /// assert!(socket.broadcast().unwrap());
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.source.get_ref().broadcast()
    }

    /// Sets the value of the `IP_MULTICAST_LOOP` option for this socket.
    ///
    /// If enabled, multicast packets will be looped back to the local
    /// socket. This option has no effect on IPv6 sockets.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_multicast_loop_v4(false).unwrap();
    /// assert!(!socket.multicast_loop_v4().unwrap());
    /// ```
    pub fn set_multicast_loop_v4(&self, multicast_loop_v4: bool) -> io::Result<()> {
        self.source
            .get_ref()
            .set_multicast_loop_v4(multicast_loop_v4)
    }

    /// Gets the value of the `IP_MULTICAST_LOOP` option for this socket.
    ///
    /// For more information about this option, see
    /// [`set_multicast_loop_v4`](Self::set_multicast_loop_v4).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.multicast_loop_v4().unwrap()); // the OS default
    /// ```
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.source.get_ref().multicast_loop_v4()
    }

    /// Sets the value of the `IP_MULTICAST_TTL` option for this socket.
    ///
    /// Indicates the time-to-live value of outgoing multicast packets for
    /// this socket. The default value is 1, which means that multicast
    /// packets don't leave the local network unless explicitly requested.
    /// This option has no effect on IPv6 sockets.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_multicast_ttl_v4(42).unwrap();
    /// assert_eq!(socket.multicast_ttl_v4().unwrap(), 42);
    /// ```
    pub fn set_multicast_ttl_v4(&self, multicast_ttl_v4: u32) -> io::Result<()> {
        self.source.get_ref().set_multicast_ttl_v4(multicast_ttl_v4)
    }

    /// Gets the value of the `IP_MULTICAST_TTL` option for this socket.
    ///
    /// For more information about this option, see
    /// [`set_multicast_ttl_v4`](Self::set_multicast_ttl_v4).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(socket.multicast_ttl_v4().unwrap(), 1); // the OS default
    /// ```
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.source.get_ref().multicast_ttl_v4()
    }

    /// Sets the value of the `IPV6_MULTICAST_LOOP` option for this socket.
    ///
    /// Controls whether this socket sees the multicast packets it sends
    /// itself. This option has no effect on IPv4 sockets.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("[::1]:0").unwrap(); // needs IPv6
    /// socket.set_multicast_loop_v6(false).unwrap();
    /// assert!(!socket.multicast_loop_v6().unwrap());
    /// ```
    pub fn set_multicast_loop_v6(&self, multicast_loop_v6: bool) -> io::Result<()> {
        self.source
            .get_ref()
            .set_multicast_loop_v6(multicast_loop_v6)
    }

    /// Gets the value of the `IPV6_MULTICAST_LOOP` option for this socket.
    ///
    /// For more information about this option, see
    /// [`set_multicast_loop_v6`](Self::set_multicast_loop_v6).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("[::1]:0").unwrap(); // needs IPv6
    /// assert!(socket.multicast_loop_v6().unwrap()); // the OS default
    /// ```
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.source.get_ref().multicast_loop_v6()
    }

    /// Sets the value for the `IP_TTL` option on this socket.
    ///
    /// This value sets the time-to-live field that is used in every packet
    /// sent from this socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.set_ttl(42).unwrap();
    /// assert_eq!(socket.ttl().unwrap(), 42);
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
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.ttl().unwrap() > 0);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.source.get_ref().ttl()
    }

    /// Executes an operation of the `IP_ADD_MEMBERSHIP` type.
    ///
    /// This function specifies a new multicast group for this socket to
    /// join. The address must be a valid multicast address, and `interface`
    /// is the address of the local interface with which the system should
    /// join the multicast group. If it's equal to
    /// [`UNSPECIFIED`](Ipv4Addr::UNSPECIFIED) then an appropriate interface
    /// is chosen by the system.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    /// use std::net::Ipv4Addr;
    ///
    /// let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    /// let group = Ipv4Addr::new(239, 255, 0, 99);
    /// socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST).unwrap();
    /// socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST).unwrap();
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.source
            .get_ref()
            .join_multicast_v4(multiaddr, interface)
    }

    /// Executes an operation of the `IPV6_ADD_MEMBERSHIP` type.
    ///
    /// This function specifies a new multicast group for this socket to
    /// join. The address must be a valid multicast address, and `interface`
    /// is the index of the interface to join/leave (or 0 to indicate any
    /// interface).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use green_net::UdpSocket;
    /// use std::net::Ipv6Addr;
    ///
    /// let socket = UdpSocket::bind("[::]:0").unwrap(); // needs IPv6
    /// let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x123);
    /// socket.join_multicast_v6(&group, 0).unwrap();
    /// socket.leave_multicast_v6(&group, 0).unwrap();
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.source
            .get_ref()
            .join_multicast_v6(multiaddr, interface)
    }

    /// Executes an operation of the `IP_DROP_MEMBERSHIP` type.
    ///
    /// For more information about this option, see
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    /// use std::net::Ipv4Addr;
    ///
    /// let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    /// let group = Ipv4Addr::new(239, 255, 0, 98);
    /// // leaving a group never joined is an error, as in std
    /// assert!(socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST).is_err());
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.source
            .get_ref()
            .leave_multicast_v4(multiaddr, interface)
    }

    /// Executes an operation of the `IPV6_DROP_MEMBERSHIP` type.
    ///
    /// For more information about this option, see
    /// [`join_multicast_v6`](Self::join_multicast_v6).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use green_net::UdpSocket;
    /// use std::net::Ipv6Addr;
    ///
    /// let socket = UdpSocket::bind("[::]:0").unwrap(); // needs IPv6
    /// let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x124);
    /// socket.join_multicast_v6(&group, 0).unwrap();
    /// socket.leave_multicast_v6(&group, 0).unwrap();
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.source
            .get_ref()
            .leave_multicast_v6(multiaddr, interface)
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
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(socket.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.source.get_ref().take_error()
    }

    /// Connects this UDP socket to a remote address, allowing the [`send`]
    /// and [`recv`] methods to be used to send data and also applying
    /// filters to only receive data from the specified address.
    ///
    /// If `addr` yields multiple addresses, `connect` will be attempted with
    /// each of the addresses until the underlying OS function returns no
    /// error, as std does. Note that usually, a successful `connect` call
    /// does not specify that there is a remote server listening on the
    /// port; such an error would only be detected after the first send.
    ///
    /// [`recv`]: UdpSocket::recv
    /// [`send`]: UdpSocket::send
    ///
    /// # Errors
    ///
    /// As std's: the OS error of the last attempt, or `InvalidInput` when
    /// `addr` resolves to no address.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// socket.connect("127.0.0.1:8080").unwrap();
    /// assert_eq!(socket.peer_addr().unwrap().port(), 8080);
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        // connect(2) on a datagram socket only records the peer.
        each_addr(&addr, |a| self.source.get_ref().connect(a))
    }

    /// Sends data on the socket to the remote address to which it is
    /// connected. On success, returns the number of bytes written.
    ///
    /// [`connect`](Self::connect) can be called to set the remote address;
    /// this method will fail if the socket is not connected.
    ///
    /// # Errors
    ///
    /// As std's: an error if the socket is not connected, the peer's
    /// rejection of an earlier datagram (`ConnectionRefused`), and
    /// [`io::ErrorKind::WouldBlock`] when the write timeout passes first.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// green::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.connect(b.local_addr().unwrap()).unwrap();
    ///     assert_eq!(a.send(&[1, 2, 3]).unwrap(), 3);
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf).unwrap(), 3);
    /// });
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.source.write_with(|s| crate::sys::send(s, buf))
    }

    /// Receives a single datagram message on the socket from the remote
    /// address to which it is connected. On success, returns the number of
    /// bytes read.
    ///
    /// The function must be called with a buffer large enough to hold the
    /// message; excess bytes are discarded. [`connect`](Self::connect) can
    /// be called to set the remote address; on a connected socket only that
    /// peer's datagrams are received.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from); also `ConnectionRefused` after a
    /// connected send was rejected by the peer's host.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// green::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     b.connect(a.local_addr().unwrap()).unwrap();
    ///     let to = b.local_addr().unwrap();
    ///     green::spawn(move || a.send_to(b"hi", to).unwrap());
    ///     let mut buf = [0; 8];
    ///     let n = b.recv(&mut buf).unwrap();
    ///     assert_eq!(&buf[..n], b"hi");
    /// });
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source
            .receive_with(|s| crate::sys::recv(s, buf, 0), || Ok(0))
    }

    /// Receives a single datagram message on the socket from the remote
    /// address to which it is connected, without removing the message from
    /// the input queue. On success, returns the number of bytes peeked.
    ///
    /// Successive calls return the same data. Like [`recv`](Self::recv), it
    /// waits until a datagram arrives.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::UdpSocket;
    ///
    /// green::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     a.connect(b.local_addr().unwrap()).unwrap();
    ///     b.connect(a.local_addr().unwrap()).unwrap();
    ///     a.send(b"hey").unwrap();
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.peek(&mut buf).unwrap(), 3);
    ///     assert_eq!(b.recv(&mut buf).unwrap(), 3); // still queued
    /// });
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.source
            .receive_with(|s| crate::sys::recv(s, buf, libc::MSG_PEEK), || Ok(0))
    }

    /// Moves this UDP socket into or out of nonblocking mode.
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
    /// use green_net::UdpSocket;
    /// use std::io;
    ///
    /// green::run(|| {
    ///     let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     socket.set_nonblocking(true).unwrap();
    ///     let err = socket.recv_from(&mut [0; 8]).unwrap_err();
    ///     assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    /// });
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.source.set_nonblocking(nonblocking)
    }
}

/// A received datagram's length and origin, as std's `recv_from` gives
/// them.
fn inet((n, addr): (usize, SockAddr)) -> io::Result<(usize, SocketAddr)> {
    match addr.as_socket() {
        Some(addr) => Ok((n, addr)),
        None => Err(no_address()),
    }
}

/// std's error for a receive that gave no address (a connected socket's,
/// once its receiving side is shut): its `sockaddr_to_addr`'s.
fn no_address() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "invalid argument")
}

/// Prints what std's socket prints for the same socket (its fields, its
/// fd as std shows it, its addresses).
impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.source.get_ref(), f)
    }
}

impl From<std::net::UdpSocket> for UdpSocket {
    /// Wraps a std socket. Its blocking mode and timeouts carry over.
    /// The socket itself stays in that mode (green's operations are
    /// non-blocking per call), so std handles that share it (a clone the
    /// caller kept) see no change.
    ///
    /// # Panics
    ///
    /// Panics if the socket's mode cannot be read (only possible for an fd
    /// that is not a socket).
    fn from(socket: std::net::UdpSocket) -> UdpSocket {
        let source = Source::new(socket)
            .unwrap_or_else(|e| panic!("green_net: cannot read a socket's blocking mode: {e}"));
        UdpSocket { source }
    }
}

impl From<UdpSocket> for std::net::UdpSocket {
    /// Unwraps into a std socket, in the blocking mode last asked for (the
    /// socket's own: green never changes it), with its timeouts.
    fn from(socket: UdpSocket) -> std::net::UdpSocket {
        socket
            .source
            .into_inner()
            .expect("only a listener's blocking mode is restored")
    }
}

crate::fd::fd_conversions!(UdpSocket, std::net::UdpSocket, "UDP socket");
