//! Drop-in replacements for the sockets of [`std::net`] ([`TcpStream`],
//! [`TcpListener`], [`UdpSocket`]) and of [`std::os::unix::net`]
//! ([`unix::UnixStream`], [`unix::UnixListener`], [`unix::UnixDatagram`])
//! that yield to the green hub instead of blocking the thread.
//!
//! Every type has std's name, methods, signatures and error kinds. Inside
//! [`green::run`], an operation that would block (connect, accept, read,
//! write, a host-name lookup) parks the calling greenlet and the hub runs the
//! others; outside it, the thread blocks, exactly as with std. So
//! thread-per-connection code becomes greenlet-per-connection code by
//! changing its `use` lines:
//!
//! ```
//! use green_net::{TcpListener, TcpStream}; // was: use std::net::{…};
//! use std::io::{Read, Write};
//!
//! green::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     green::spawn(move || {
//!         for stream in listener.incoming() {
//!             let mut stream = stream.unwrap();
//!             green::spawn(move || {
//!                 let mut buf = [0; 64];
//!                 let n = stream.read(&mut buf).unwrap();
//!                 stream.write_all(&buf[..n]).unwrap();
//!             });
//!         }
//!     });
//!     let clients: Vec<_> = (0..10u8)
//!         .map(|i| {
//!             green::spawn(move || {
//!                 let mut s = TcpStream::connect(addr).unwrap();
//!                 s.write_all(&[i]).unwrap();
//!                 let mut b = [0];
//!                 s.read_exact(&mut b).unwrap();
//!                 b[0]
//!             })
//!         })
//!         .collect();
//!     let echoed: Vec<u8> = clients.into_iter().map(|c| c.join().unwrap()).collect();
//!     assert_eq!(echoed, (0..10).collect::<Vec<u8>>());
//! });
//! ```
//!
//! # What maps to what
//!
//! - Every receive and send is non-blocking for that call (`MSG_DONTWAIT`);
//!   blocking-style calls retry after waiting for readiness
//!   ([`green::io::wait_readable`]); read and write timeouts are deadlines
//!   on that wait, and expire with std's error (`WouldBlock`, `EAGAIN`).
//!   The socket's own blocking mode (`O_NONBLOCK`, shared by every handle
//!   of it) stays the user's, as in std: `set_nonblocking(true)` sets it,
//!   and makes calls return `WouldBlock` instead of waiting. Only listeners
//!   are non-blocking underneath while green owns them (`accept` has no
//!   per-call flag).
//! - Host names are resolved on green's blocking pool ([`green::unblock`]),
//!   through [`ToSocketAddrs`], this crate's twin of std's trait.
//! - Two greenlets may use one socket (or `try_clone`s of it) at once: one
//!   reading while another writes, each parked on its own direction.
//! - Converting to and from the std types (`From`) keeps the blocking mode
//!   and timeouts.
//! - Unix domain sockets live in [`unix`], as in std; see its notes for the
//!   three places where the kernel gives a non-blocking socket no readiness
//!   event to wait for (a full listener backlog, a full receiver queue, a
//!   send side shut down while a write waits for room).
//!
//! Beyond std: [`ListenOptions`] binds with `SO_REUSEPORT` and a chosen
//! backlog, and [`StreamServer`] is gevent's server: a greenlet per
//! connection, a cap on concurrent connections, a graceful stop.

mod accept;
mod addr;
mod fd;
mod listen;
mod server;
mod source;
mod stream_io;
mod sys;
mod tcp;
mod udp;
pub mod unix;

pub use addr::ToSocketAddrs;
pub use listen::ListenOptions;
pub use server::{ServerHandle, StreamServer};
pub use tcp::{Incoming, IntoIncoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

/// Re-exported from std: these never block.
pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
};
