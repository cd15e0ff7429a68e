//! Read and write timeouts as std has them: the value the kernel kept
//! (whole jiffies, and `None` for a timeout too long to keep) is what the
//! getters return and how long a read or write waits.
//!
//! The jiffy length varies between kernels (`CONFIG_HZ`), so every expected
//! value is std's own read-back on a std socket of the same kind.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use green_net::unix::{UnixDatagram, UnixStream};
use green_net::{TcpListener, TcpStream, UdpSocket};

// green-core's test helpers (the watchdog, scenarios in a child process).
#[path = "../../green-core/tests/util/mod.rs"]
mod util;

/// Durations the kernel rounds (up to a jiffy), keeps, or cannot keep.
const ASKED: [Duration; 5] = [
    Duration::from_nanos(1),
    Duration::from_micros(1500),
    Duration::from_millis(30),
    Duration::from_secs(2),
    Duration::MAX,
];

/// Sets each of [`ASKED`] as the read and the write timeout of a std socket
/// and of a green one, and checks that both read back the same.
macro_rules! same_as_std {
    ($std:expr, $green:expr) => {{
        let (s, g) = ($std, $green);
        for d in ASKED {
            s.set_read_timeout(Some(d)).unwrap();
            g.set_read_timeout(Some(d)).unwrap();
            assert_eq!(
                g.read_timeout().unwrap(),
                s.read_timeout().unwrap(),
                "read, {d:?}"
            );
            s.set_write_timeout(Some(d)).unwrap();
            g.set_write_timeout(Some(d)).unwrap();
            assert_eq!(
                g.write_timeout().unwrap(),
                s.write_timeout().unwrap(),
                "write, {d:?}"
            );
        }
        g.set_read_timeout(None).unwrap();
        assert_eq!(g.read_timeout().unwrap(), None);
    }};
}

#[test]
fn timeouts_read_back_as_the_kernel_kept_them_like_std_s() {
    let _watchdog = util::watchdog();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    same_as_std!(
        std::net::TcpStream::connect(addr).unwrap(),
        TcpStream::connect(addr).unwrap()
    );
    same_as_std!(
        std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap()
    );
    same_as_std!(
        std::os::unix::net::UnixStream::pair().unwrap().0,
        UnixStream::pair().unwrap().0
    );
    same_as_std!(
        std::os::unix::net::UnixDatagram::unbound().unwrap(),
        UnixDatagram::unbound().unwrap()
    );
}

/// A 1 ns timeout is a jiffy in the kernel: a read waits that long, inside
/// `run` and outside it, as std's does.
#[test]
fn a_tiny_timeout_waits_as_long_as_the_kernel_s() {
    let _watchdog = util::watchdog();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_nanos(1))).unwrap();
    let kept = s.read_timeout().unwrap().unwrap();
    let check = move || {
        let mut g = TcpStream::connect(addr).unwrap();
        g.set_read_timeout(Some(Duration::from_nanos(1))).unwrap();
        let start = Instant::now();
        let err = g.read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(
            start.elapsed() >= kept,
            "waited {:?}, the kernel keeps {kept:?}",
            start.elapsed()
        );
    };
    check();
    green::run(check);
}

/// Linux copies a TCP listener's `SO_RCVTIMEO`/`SO_SNDTIMEO` to the
/// sockets it accepts: the accepted stream has them, reads time out, and
/// the getters say so, as std's do.
#[test]
fn an_accepted_stream_keeps_the_timeouts_it_inherited() {
    let _watchdog = util::watchdog();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sock = socket2::SockRef::from(&l);
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    sock.set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let addr = l.local_addr().unwrap();
    let _c1 = std::net::TcpStream::connect(addr).unwrap();
    let (s, _) = l.accept().unwrap();
    let std_timeouts = (s.read_timeout().unwrap(), s.write_timeout().unwrap());
    assert!(std_timeouts.0.is_some(), "std's accepted stream has them");
    let gl = TcpListener::from(l);
    let check = move |gl: &TcpListener| {
        let _c = std::net::TcpStream::connect(addr).unwrap();
        let (mut g, _) = gl.accept().unwrap();
        let timeouts = (g.read_timeout().unwrap(), g.write_timeout().unwrap());
        assert_eq!(timeouts, std_timeouts);
        let err = g.read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "the read timed out");
    };
    check(&gl);
    green::run(move || check(&gl));
}

/// A zero-length read of a TCP stream with nothing queued: the kernel's
/// blocking read waits for data or the timeout, then returns `Ok(0)`
/// either way (a Unix stream's returns `WouldBlock` at the timeout).
#[test]
fn a_zero_length_tcp_read_that_times_out_is_ok_0_like_std_s() {
    let _watchdog = util::watchdog();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let timeout = Duration::from_millis(40);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    assert_eq!(s.read(&mut []).unwrap(), 0, "std");
    let check = move || {
        let mut g = TcpStream::connect(addr).unwrap();
        g.set_read_timeout(Some(timeout)).unwrap();
        let start = Instant::now();
        assert_eq!(g.read(&mut []).unwrap(), 0);
        assert!(start.elapsed() >= timeout, "it waited for the timeout");
        assert_eq!(g.read_vectored(&mut []).unwrap(), 0, "vectored");

        let (mut u, _v) = UnixStream::pair().unwrap();
        u.set_read_timeout(Some(timeout)).unwrap();
        assert_eq!(u.read(&mut []).unwrap_err().kind(), ErrorKind::WouldBlock);
    };
    check();
    green::run(check);
}

/// A zero-length peek of a TCP stream with nothing queued: as the read of
/// [`a_zero_length_tcp_read_that_times_out_is_ok_0_like_std_s`], the
/// kernel's waits for data or the timeout and returns `Ok(0)` either way.
#[test]
fn a_zero_length_tcp_peek_that_times_out_is_ok_0_like_std_s() {
    let _watchdog = util::watchdog();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let timeout = Duration::from_millis(40);
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    assert_eq!(s.peek(&mut []).unwrap(), 0, "std");
    let check = move || {
        let g = TcpStream::connect(addr).unwrap();
        g.set_read_timeout(Some(timeout)).unwrap();
        let start = Instant::now();
        assert_eq!(g.peek(&mut []).unwrap(), 0);
        assert!(start.elapsed() >= timeout, "it waited for the timeout");
        g.set_nonblocking(true).unwrap();
        let err = g.peek(&mut []).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "non-blocking, as std's");
    };
    s.set_nonblocking(true).unwrap();
    assert_eq!(s.peek(&mut []).unwrap_err().kind(), ErrorKind::WouldBlock);
    check();
    green::run(check);
}
