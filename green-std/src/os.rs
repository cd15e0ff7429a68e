//! `std::os`, with green Unix sockets in `os::unix::net`.
//!
//! Everything is std's except `unix::net`'s `UnixStream`, `UnixListener`,
//! `UnixDatagram` and `Incoming`, which are green-net's: they park the
//! greenlet inside [`green::run`] and block the thread outside it; and
//! `unix::process::CommandExt`, implemented for green-std's `Command`.

pub use std::os::*;

/// `std::os::unix`, with green sockets in `net`.
pub mod unix {
    pub use std::os::unix::*;

    /// `std::os::unix::net` with green-net's sockets.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_std::io::{Read, Write};
    /// use green_std::os::unix::net::UnixStream;
    ///
    /// green::run(|| {
    ///     let (mut a, mut b) = UnixStream::pair().unwrap();
    ///     a.write_all(b"hi").unwrap();
    ///     let mut buf = [0; 2];
    ///     b.read_exact(&mut buf).unwrap();
    ///     assert_eq!(&buf, b"hi");
    /// });
    /// ```
    pub mod net {
        pub use std::os::unix::net::*;

        pub use green_net::unix::{Incoming, UnixDatagram, UnixListener, UnixStream};
    }

    /// `std::os::unix::process` with a [`CommandExt`](process::CommandExt)
    /// for green-std's `Command`.
    pub mod process {
        pub use std::os::unix::process::*;

        pub use crate::process::unix::CommandExt;
    }
}
