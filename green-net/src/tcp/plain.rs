//! Whether a socket is plain TCP, as the kernel sees it: the one question
//! whose answer lets a short read prove the receive queue empty (see
//! `Source::read_stream`). Asked once per socket made or converted, never
//! per read.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// Whether `socket` is a TCP socket with no upper-layer protocol attached:
/// `SO_PROTOCOL` is `IPPROTO_TCP` (not MPTCP, which a `socket()` call may
/// have been turned into by `mptcpize` or a BPF hook, nor a Unix socket
/// handed over as an fd) and `TCP_ULP` names nothing (kernel TLS, for one,
/// stops a read short at a control record with more queued). A ULP attached
/// later is not seen: re-wrap the socket after attaching one.
pub(crate) fn is_plain_tcp(socket: impl AsFd) -> bool {
    let socket = socket.as_fd();
    let protocol = socket2::SockRef::from(&socket).protocol();
    matches!(protocol, Ok(Some(p)) if p == socket2::Protocol::TCP) && !has_ulp(socket)
}

/// Whether `TCP_ULP` names an upper-layer protocol on `socket` (or the
/// kernel cannot say: not a TCP socket).
fn has_ulp(socket: BorrowedFd<'_>) -> bool {
    let mut name = [0u8; 16];
    let mut len = name.len() as libc::socklen_t;
    // SAFETY: `name` has room for `len` bytes and `len` is a live
    // socklen_t, as getsockopt requires; the kernel writes at most `len`
    // bytes and the length it wrote.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_ULP,
            name.as_mut_ptr().cast(),
            &mut len,
        )
    };
    rc != 0 || (len > 0 && name[0] != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Protocol, Socket, Type};

    #[test]
    fn tcp_is_plain_and_the_rest_is_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(is_plain_tcp(&listener));
        assert!(is_plain_tcp(&stream));
        assert!(!has_ulp(stream.as_fd()));
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!is_plain_tcp(&a));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(!is_plain_tcp(&udp));
    }

    /// MPTCP is told apart twice: by its protocol, and by the ULP the
    /// kernel attaches to it ("mptcp"), which is how kernel TLS shows too.
    #[test]
    fn mptcp_is_not_plain_and_its_ulp_shows() {
        match Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::MPTCP)) {
            Ok(mptcp) => {
                assert!(!is_plain_tcp(&mptcp));
                assert!(has_ulp(mptcp.as_fd()), "the kernel names its ULP");
            }
            Err(e) => eprintln!("no MPTCP here ({e}): that case is not checked"),
        }
    }
}
