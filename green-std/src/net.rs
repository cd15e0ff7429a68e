//! `std::net`, with green-net's sockets: connect, accept, read, write and
//! host-name lookups park the greenlet inside [`green::run`] (and block the
//! thread outside, as std's do).
//!
//! [`ToSocketAddrs`] is green-net's twin of std's trait (it resolves host
//! names on green's thread pool); addresses, `Shutdown`, `IpAddr` and the
//! rest are std's.
//!
//! # Examples
//!
//! ```
//! use green_std::io::{Read, Write};
//! use green_std::net::{TcpListener, TcpStream};
//! use green_std::thread;
//!
//! fn echo_once() -> Vec<u8> {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = thread::spawn(move || {
//!         let (mut conn, _) = listener.accept().unwrap();
//!         let mut buf = [0; 4];
//!         conn.read_exact(&mut buf).unwrap();
//!         conn.write_all(&buf).unwrap();
//!     });
//!     let mut client = TcpStream::connect(addr).unwrap();
//!     client.write_all(b"ping").unwrap();
//!     let mut reply = Vec::new();
//!     client.read_to_end(&mut reply).unwrap();
//!     server.join().unwrap();
//!     reply
//! }
//!
//! assert_eq!(echo_once(), b"ping"); // threads
//! assert_eq!(green::run(echo_once), b"ping"); // greenlets
//! ```

pub use std::net::*;

pub use green_net::{Incoming, IntoIncoming, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
