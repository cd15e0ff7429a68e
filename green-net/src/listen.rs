//! [`ListenOptions`]: binding a [`TcpListener`] with the options std does
//! not expose: `SO_REUSEPORT` (several listeners, one per hub, sharing a
//! port, the kernel spreading connections among them), `SO_INCOMING_CPU`
//! (which of them gets a connection) and the backlog.

use std::io;

use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::{each_addr, ToSocketAddrs};
use crate::tcp::TcpListener;

/// Options for binding a [`TcpListener`]; [`TcpListener::bind`] is
/// `ListenOptions::new().bind(addr)`.
///
/// Like std, it sets `SO_REUSEADDR` (a restarted server can bind while old
/// connections linger in `TIME_WAIT`). By default the backlog is 1024 (the
/// kernel caps it at `net.core.somaxconn`).
///
/// # Examples
///
/// Two listeners on one port, as one hub per core will have:
///
/// ```
/// use green_net::ListenOptions;
///
/// let options = ListenOptions::new().reuse_port(true).backlog(4096);
/// let first = options.bind("127.0.0.1:0").unwrap();
/// let port = first.local_addr().unwrap().port();
/// let second = options.bind(("127.0.0.1", port)).unwrap();
/// assert_eq!(second.local_addr().unwrap().port(), port);
/// ```
#[derive(Clone, Debug)]
pub struct ListenOptions {
    reuse_port: bool,
    reuse_address: bool,
    backlog: i32,
    only_v6: Option<bool>,
    incoming_cpu: Option<usize>,
}

impl ListenOptions {
    /// std's defaults: `SO_REUSEADDR` on, `SO_REUSEPORT` off, backlog 1024.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = green_net::ListenOptions::new().bind("127.0.0.1:0").unwrap();
    /// # drop(listener);
    /// ```
    pub fn new() -> Self {
        ListenOptions {
            reuse_port: false,
            reuse_address: true,
            backlog: 1024,
            only_v6: None,
            incoming_cpu: None,
        }
    }

    /// Sets `SO_REUSEPORT`: every listener bound to the same address with it
    /// (by the same user) shares the port, and the kernel balances incoming
    /// connections among them.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = green_net::ListenOptions::new().reuse_port(true);
    /// let a = options.bind("127.0.0.1:0").unwrap();
    /// let b = options.bind(a.local_addr().unwrap()).unwrap();
    /// # drop(b);
    /// ```
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Sets `SO_REUSEADDR` (on by default, as std does on Unix).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = green_net::ListenOptions::new().reuse_address(false);
    /// # drop(options);
    /// ```
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// The length of the queue of connections the kernel completes before
    /// they are accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = green_net::ListenOptions::new().backlog(16).bind("127.0.0.1:0").unwrap();
    /// # drop(listener);
    /// ```
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Sets `IPV6_V6ONLY` on IPv6 addresses (otherwise the system default).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = green_net::ListenOptions::new().only_v6(true);
    /// # drop(options);
    /// ```
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }

    /// Sets `SO_INCOMING_CPU`: among listeners sharing a port with
    /// [`reuse_port`](Self::reuse_port), the kernel (Linux 6.1 and later)
    /// gives a new connection to the one whose CPU is the CPU that handled
    /// the connection's first packet, and spreads the rest by hash as
    /// usual.
    ///
    /// With hubs pinned to their cores (`green::Runtime::pin_to_cores`),
    /// each hub passes its own CPU ([`green::pinned_cpu`]), and a
    /// connection's packets and its greenlet share a core: the kernel's
    /// work for the socket and the greenlet's reads and writes meet in one
    /// core's caches, and no other hub is woken for it. That pays
    /// where the first packets of connections arrive on many CPUs (a NIC
    /// with several receive queues, or clients on every core); when they
    /// all arrive on one CPU, that CPU's hub gets every connection.
    ///
    /// [`green::pinned_cpu`]: green::pinned_cpu
    ///
    /// [`bind`](Self::bind) fails with `InvalidInput` for a number no CPU
    /// can have (above `i32::MAX`).
    ///
    /// # Examples
    ///
    /// In a pinned hub, a listener that asks for its CPU's connections
    /// (every hub binds the same address this way; see the type's example):
    ///
    /// ```
    /// use green_net::ListenOptions;
    ///
    /// green::Runtime::new().hubs(1).pin_to_cores(true).run(|_| {
    ///     let cpu = green::pinned_cpu().expect("the runtime pins its hubs");
    ///     let options = ListenOptions::new().reuse_port(true).incoming_cpu(cpu);
    ///     let listener = options.bind("127.0.0.1:0").unwrap();
    ///     # drop(listener);
    /// });
    /// ```
    pub fn incoming_cpu(mut self, cpu: usize) -> Self {
        self.incoming_cpu = Some(cpu);
        self
    }

    /// Binds a listener with these options to the first address of `addr`
    /// that accepts it, as [`TcpListener::bind`] does.
    ///
    /// # Errors
    ///
    /// The OS error of the last attempt (`AddrInUse` when the port is taken
    /// by a listener without `SO_REUSEPORT`), or `InvalidInput` when `addr`
    /// resolves to no address or [`incoming_cpu`](Self::incoming_cpu) names
    /// no possible CPU.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_net::ListenOptions;
    ///
    /// let huge = ListenOptions::new().incoming_cpu(usize::MAX).bind("127.0.0.1:0");
    /// assert_eq!(huge.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    ///
    /// let taken = ListenOptions::new().bind("127.0.0.1:0").unwrap();
    /// let err = ListenOptions::new().bind(taken.local_addr().unwrap()).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// ```
    pub fn bind<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpListener> {
        each_addr(&addr, |addr| {
            let socket = Socket::new(
                Domain::for_address(*addr),
                Type::STREAM,
                Some(Protocol::TCP),
            )?;
            if addr.is_ipv6() {
                if let Some(only) = self.only_v6 {
                    socket.set_only_v6(only)?;
                }
            }
            socket.set_reuse_address(self.reuse_address)?;
            socket.set_reuse_port(self.reuse_port)?;
            if let Some(cpu) = self.incoming_cpu {
                if i32::try_from(cpu).is_err() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("no CPU has the number {cpu} (SO_INCOMING_CPU)"),
                    ));
                }
                socket.set_cpu_affinity(cpu)?;
            }
            socket.bind(&(*addr).into())?;
            socket.listen(self.backlog)?;
            Ok(TcpListener::from_std_fresh(socket.into()))
        })
    }
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions::new()
    }
}
