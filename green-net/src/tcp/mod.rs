//! TCP: [`TcpStream`] and [`TcpListener`].

mod listener;
mod plain;
mod stream;

pub use listener::{Incoming, IntoIncoming, TcpListener};
pub use stream::TcpStream;
