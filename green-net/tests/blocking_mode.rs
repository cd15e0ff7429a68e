//! The kernel's blocking mode (`O_NONBLOCK`) of a stream or datagram socket
//! is always the user's own choice, as it is with std: green's operations
//! are non-blocking per call instead. So handles that share the socket's
//! open file description (`try_clone`, a duplicated fd, a std socket the
//! user keeps) see std's state, whatever green does with its own handle:
//! converting a clone back to std never makes a green handle block the hub,
//! and wrapping a clone never makes the user's std handle non-blocking.
//!
//! Listeners have no per-call non-blocking accept: they stay non-blocking
//! in the kernel while green owns them (see the last tests).

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use green_net::unix::{UnixDatagram, UnixListener, UnixStream};
use green_net::{TcpListener, TcpStream, UdpSocket};

// green-core's test helpers (the watchdog, scenarios in a child process).
#[path = "../../green-core/tests/util/mod.rs"]
mod util;

/// Longer than any passing wait here; a read blocked in the kernel for this
/// long shows the hub was blocked.
const PATIENCE: Duration = Duration::from_secs(3);

/// A connected TCP pair inside or outside `run`.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    (l.accept().unwrap().0, c)
}

/// Inside `run`: reads 2 bytes from `read`, which a greenlet writes with
/// `write` 30 ms later; fails if the hub was blocked meanwhile: the read
/// then sits in the kernel until its timeout ([`PATIENCE`]), the writer
/// unable to run.
fn read_while_a_greenlet_writes(
    what: &str,
    read: impl FnOnce() -> std::io::Result<usize>,
    write: impl FnOnce() + 'static,
) {
    let wrote = Rc::new(Cell::new(false));
    let w = wrote.clone();
    let writer = green::spawn(move || {
        green::sleep(Duration::from_millis(30));
        write();
        w.set(true);
    });
    let start = Instant::now();
    let got = read();
    assert!(
        start.elapsed() < PATIENCE,
        "{what}: the read took {:?}: it blocked the hub until its kernel timeout",
        start.elapsed()
    );
    assert!(
        wrote.get(),
        "{what}: the read returned ({got:?}) before the write"
    );
    assert_eq!(got.unwrap(), 2, "{what}");
    writer.join().unwrap();
}

/// `try_clone` then a conversion to std (`into`, `into_raw_fd`,
/// `OwnedFd::from`): the green original still parks, never blocks the hub.
#[test]
fn converting_a_clone_to_std_leaves_the_original_parking() {
    let _watchdog = util::watchdog();
    green::run(|| {
        type ToStd = fn(TcpStream) -> OwnedFd;
        let conversions: [(&str, ToStd); 3] = [
            ("into std", |s| std::net::TcpStream::from(s).into()),
            ("into_raw_fd", |s| {
                let fd = s.into_raw_fd();
                // SAFETY: `fd` is open, and `into_raw_fd` gave it up to us.
                unsafe { OwnedFd::from_raw_fd(fd) }
            }),
            ("OwnedFd::from", OwnedFd::from),
        ];
        for (what, to_std) in conversions {
            let (a, c) = tcp_pair();
            a.set_read_timeout(Some(PATIENCE)).unwrap();
            let std_clone = to_std(a.try_clone().unwrap());
            read_while_a_greenlet_writes(
                what,
                || (&a).read(&mut [0; 2]),
                move || (&c).write_all(b"hi").unwrap(),
            );
            drop(std_clone);
        }

        let (a, b) = UnixStream::pair().unwrap();
        a.set_read_timeout(Some(PATIENCE)).unwrap();
        let std_clone = std::os::unix::net::UnixStream::from(a.try_clone().unwrap());
        read_while_a_greenlet_writes(
            "UnixStream",
            || (&a).read(&mut [0; 2]),
            move || (&b).write_all(b"hi").unwrap(),
        );
        drop(std_clone);

        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(PATIENCE)).unwrap();
        let to = u.local_addr().unwrap();
        let std_clone = std::net::UdpSocket::from(u.try_clone().unwrap());
        read_while_a_greenlet_writes(
            "UdpSocket",
            || u.recv(&mut [0; 2]),
            move || {
                UdpSocket::bind("127.0.0.1:0")
                    .unwrap()
                    .send_to(b"hi", to)
                    .unwrap();
            },
        );
        drop(std_clone);

        let (d, e) = UnixDatagram::pair().unwrap();
        d.set_read_timeout(Some(PATIENCE)).unwrap();
        let std_clone = std::os::unix::net::UnixDatagram::from(d.try_clone().unwrap());
        read_while_a_greenlet_writes(
            "UnixDatagram",
            || d.recv_from(&mut [0; 2]).map(|(n, _)| n),
            move || {
                e.send(b"hi").unwrap();
            },
        );
        drop(std_clone);
    });
}

/// Asserts that `read` fails with `WouldBlock` only once `timeout` passed:
/// it blocked (or parked) like a std read in blocking mode.
fn blocks_until_its_timeout(
    who: &str,
    timeout: Duration,
    read: impl FnOnce() -> std::io::Result<usize>,
) {
    let start = Instant::now();
    let err = read().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock, "{who}");
    // The kernel counts its own timeout from inside the current tick, so a
    // std read may end up to a tick early: half is a safe lower bound.
    assert!(
        start.elapsed() >= timeout / 2,
        "{who}: returned after {:?}, before its {timeout:?} timeout: the socket is non-blocking",
        start.elapsed()
    );
}

/// A duplicate of a green socket's fd, wrapped again, is in blocking mode
/// as std's duplicate is: the user never asked for non-blocking.
#[test]
fn a_duplicated_fd_wrapped_again_blocks_like_std() {
    let _watchdog = util::watchdog();
    let timeout = Duration::from_millis(100);
    let check = move |who: &str| {
        let (g, _peer) = tcp_pair();
        let g2 = TcpStream::from(g.as_fd().try_clone_to_owned().unwrap());
        g2.set_read_timeout(Some(timeout)).unwrap();
        blocks_until_its_timeout(who, timeout, || (&g2).read(&mut [0; 4]));

        let (u, _v) = UnixStream::pair().unwrap();
        let u2 = UnixStream::from(u.as_fd().try_clone_to_owned().unwrap());
        u2.set_read_timeout(Some(timeout)).unwrap();
        blocks_until_its_timeout(who, timeout, || (&u2).read(&mut [0; 4]));
    };
    check("outside run");
    green::run(move || check("inside run"));
}

/// Wrapping a clone of a std socket leaves the user's std original in the
/// mode they chose (blocking), and a green `set_nonblocking` is std's: the
/// std handles sharing the socket see it.
#[test]
fn wrapping_a_std_clone_leaves_the_std_original_blocking() {
    let _watchdog = util::watchdog();
    let timeout = Duration::from_millis(100);

    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    let g = TcpStream::from(s.try_clone().unwrap());
    blocks_until_its_timeout("std TcpStream", timeout, || (&s).read(&mut [0; 4]));
    g.set_nonblocking(true).unwrap();
    let start = Instant::now();
    assert_eq!(
        (&s).read(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert!(
        start.elapsed() < timeout,
        "set_nonblocking reaches the shared socket"
    );

    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_read_timeout(Some(timeout)).unwrap();
    let _g = UnixStream::from(a.try_clone().unwrap());
    blocks_until_its_timeout("std UnixStream", timeout, || (&a).read(&mut [0; 4]));

    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(timeout)).unwrap();
    let _g = UdpSocket::from(u.try_clone().unwrap());
    blocks_until_its_timeout("std UdpSocket", timeout, || u.recv(&mut [0; 4]));

    let (d, _e) = std::os::unix::net::UnixDatagram::pair().unwrap();
    d.set_read_timeout(Some(timeout)).unwrap();
    let _g = UnixDatagram::from(d.try_clone().unwrap());
    blocks_until_its_timeout("std UnixDatagram", timeout, || d.recv(&mut [0; 4]));
}

/// A listener green owns is non-blocking in the kernel; converted back to
/// std it gets the user's mode again, unless green clones of it are still
/// alive: then it stays non-blocking, so neither a std `accept` nor the
/// clones' can freeze a hub.
#[test]
fn a_listener_converted_back_is_blocking_unless_green_clones_remain() {
    let _watchdog = util::watchdog();
    let nonblocking = |fd: &dyn AsFd| socket2::SockRef::from(&fd.as_fd()).nonblocking().unwrap();

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let std_l = std::net::TcpListener::from(l);
    assert!(!nonblocking(&std_l), "no clone left: std's blocking mode");

    green::run(move || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let clone = l.try_clone().unwrap();
        let std_l = std::net::TcpListener::from(l);
        assert!(nonblocking(&std_l), "a green clone remains");
        let err = std_l.accept().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        // the clone still parks in accept, and the hub runs the client
        let client = green::spawn(move || TcpStream::connect(addr).unwrap());
        let (_conn, _) = clone.accept().unwrap();
        client.join().unwrap();
    });

    let path = std::env::temp_dir().join(format!("green-net-{}-listener.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let l = UnixListener::bind(&path).unwrap();
    let clone = l.try_clone().unwrap();
    let std_l = std::os::unix::net::UnixListener::from(l);
    assert!(nonblocking(&std_l), "a green clone remains");
    assert_eq!(std_l.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    drop(std_l);
    let std_l = std::os::unix::net::UnixListener::from(clone);
    assert!(!nonblocking(&std_l), "the last handle: std's blocking mode");
    std::fs::remove_file(&path).unwrap();
}

/// A listener green owns, wrapped again from a duplicate of its fd (or a
/// clone converted to std and back), blocks in `accept` as a std duplicate
/// does: its kernel flag is green's, not the user's choice, so it shares
/// the mode of the green handles (it took the flag as the user's and gave
/// `WouldBlock` at once). One the user set non-blocking gives
/// `WouldBlock`, and while a wrapped duplicate lives, converting the
/// original back to std leaves the socket non-blocking for it.
#[test]
fn a_green_listener_wrapped_again_from_a_duplicate_blocks_like_std() {
    let _watchdog = util::watchdog();
    let nonblocking = |fd: &dyn AsFd| socket2::SockRef::from(&fd.as_fd()).nonblocking().unwrap();
    let connect_later = |addr| {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            std::net::TcpStream::connect(addr).unwrap()
        })
    };
    let check = move |who: &str| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let dup = TcpListener::from(l.as_fd().try_clone_to_owned().unwrap());
        let back = TcpListener::from(std::net::TcpListener::from(l.try_clone().unwrap()));
        for (how, l2) in [("a duplicated fd", &dup), ("a clone via std", &back)] {
            let client = connect_later(addr);
            let accepted = l2.accept();
            assert!(accepted.is_ok(), "{who}, {how}: {accepted:?}");
            client.join().unwrap();
        }

        let path = std::env::temp_dir().join(format!(
            "green-net-{}-dup-listener.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let u = UnixListener::bind(&path).unwrap();
        let u2 = UnixListener::from(u.as_fd().try_clone_to_owned().unwrap());
        let p = path.clone();
        let client = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            std::os::unix::net::UnixStream::connect(p).unwrap()
        });
        let accepted = u2.accept();
        assert!(accepted.is_ok(), "{who}, UnixListener: {accepted:?}");
        client.join().unwrap();
        std::fs::remove_file(&path).unwrap();

        // The user's non-blocking mode is shared the same way.
        l.set_nonblocking(true).unwrap();
        let l3 = TcpListener::from(l.as_fd().try_clone_to_owned().unwrap());
        assert_eq!(l3.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
        l.set_nonblocking(false).unwrap();

        // Converted back while duplicates wrapped again live: their
        // accepts still rely on the socket being non-blocking.
        drop((back, l3));
        let std_l = std::net::TcpListener::from(l);
        assert!(nonblocking(&std_l), "{who}: a wrapped duplicate remains");
        let client = connect_later(addr);
        assert!(dup.accept().is_ok());
        client.join().unwrap();
        drop(std_l);
        let last = std::net::TcpListener::from(dup);
        assert!(
            !nonblocking(&last),
            "{who}: the last green handle: std's mode"
        );
    };
    check("outside run");
    green::run(move || check("inside run"));
}
