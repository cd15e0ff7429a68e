//! [`ToSocketAddrs`]: std's trait, re-done so that host names are resolved
//! on green's blocking pool instead of on the hub's thread.
//!
//! std's `ToSocketAddrs` calls `getaddrinfo(3)` on the calling thread, which
//! can block for seconds on a slow DNS server and would freeze every greenlet
//! of the hub. This trait has the same shape and is implemented for the same
//! types as std's; literal addresses are parsed in place, and only a real
//! host name goes to [`green::unblock`] (outside `green::run`, that simply
//! resolves on the calling thread, as std does).
//!
//! A type that implements only std's trait cannot be passed where this one is
//! expected; convert it first (`addr.to_socket_addrs()?.collect::<Vec<_>>()`
//! gives a `Vec<SocketAddr>`, and `&[SocketAddr]` implements this trait).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::vec;

/// A trait for objects which can be converted or resolved to one or more
/// [`SocketAddr`] values, like [`std::net::ToSocketAddrs`], but resolving
/// host names without blocking the green hub.
///
/// # Examples
///
/// ```
/// use green_net::ToSocketAddrs;
/// use std::net::SocketAddr;
///
/// green::run(|| {
///     let addrs: Vec<SocketAddr> = "localhost:80".to_socket_addrs().unwrap().collect();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
///     let one: Vec<SocketAddr> = ("127.0.0.1", 8080).to_socket_addrs().unwrap().collect();
///     assert_eq!(one, ["127.0.0.1:8080".parse().unwrap()]);
/// });
/// ```
pub trait ToSocketAddrs {
    /// Returned iterator over socket addresses which this type may
    /// correspond to.
    type Iter: Iterator<Item = SocketAddr>;

    /// Converts this object to an iterator of resolved [`SocketAddr`]s.
    ///
    /// # Errors
    ///
    /// As std's: `InvalidInput` for a malformed address, and whatever the
    /// resolver reports for a host name it cannot resolve.
    fn to_socket_addrs(&self) -> io::Result<Self::Iter>;
}

macro_rules! literal {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {
            type Iter = std::option::IntoIter<SocketAddr>;
            fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
                std::net::ToSocketAddrs::to_socket_addrs(self)
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for (&str, u16) {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        let (host, port) = *self;
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)].into_iter());
        }
        resolve(host.to_owned(), port)
    }
}

impl ToSocketAddrs for (String, u16) {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        (&*self.0, self.1).to_socket_addrs()
    }
}

impl ToSocketAddrs for str {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(vec![addr].into_iter());
        }
        // std's rule: split at the last ':' into host and port. Where that
        // fails, std fails the same way before any lookup: its error is
        // the one to give (it prints as std's, unlike an `io::Error::new`).
        let split = self
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)));
        match split {
            Some(host_and_port) => host_and_port.to_socket_addrs(),
            None => Err(std_error(std::net::ToSocketAddrs::to_socket_addrs(self))),
        }
    }
}

impl ToSocketAddrs for String {
    type Iter = vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        self.as_str().to_socket_addrs()
    }
}

impl<'a> ToSocketAddrs for &'a [SocketAddr] {
    type Iter = std::iter::Cloned<std::slice::Iter<'a, SocketAddr>>;
    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        Ok(self.iter().cloned())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    type Iter = T::Iter;
    fn to_socket_addrs(&self) -> io::Result<T::Iter> {
        (**self).to_socket_addrs()
    }
}

/// Resolves a host name off the hub's thread.
fn resolve(host: String, port: u16) -> io::Result<vec::IntoIter<SocketAddr>> {
    green::unblock(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(|it| {
            let addrs: Vec<SocketAddr> = it.collect();
            addrs.into_iter()
        })
    })
}

/// The error std gave for input green refused before asking it.
fn std_error<T>(std: io::Result<T>) -> io::Error {
    std.err()
        .expect("std refuses what green refuses without a lookup")
}

/// std's error for an address list with nothing in it (made without a
/// syscall: std finds no address to bind first).
pub(crate) fn no_addresses() -> io::Error {
    let none: &[SocketAddr] = &[];
    std_error(std::net::TcpListener::bind(none))
}

/// Runs `f` on each address in turn until one succeeds, like std: returns
/// the last error, or `InvalidInput` when there was no address at all.
pub(crate) fn each_addr<A: ToSocketAddrs + ?Sized, T>(
    addr: &A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match f(&addr) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}
