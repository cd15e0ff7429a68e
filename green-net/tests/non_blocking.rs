//! Sockets the user set non-blocking: `WouldBlock` is std's own error (the
//! kernel's `EAGAIN`; it was a bare `ErrorKind`), returned at once, as
//! std's and gevent's: never a switch point.

use std::cell::RefCell;
use std::io::{ErrorKind, Read};
use std::rc::Rc;

use green_net::unix::UnixStream;
use green_net::{TcpListener, UdpSocket};

#[path = "../../green-core/tests/util/mod.rs"]
mod util;

/// As with std and gevent, a non-blocking call that finds nothing returns
/// at once, without letting other greenlets run: a greenlet may hold a
/// borrow across it.
#[test]
fn a_non_blocking_call_that_finds_nothing_is_not_a_switch_point() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let shared = Rc::new(RefCell::new(0));
        let theirs = shared.clone();
        // Ready to run at the first switch: it would find the borrow held.
        let other = green::spawn(move || *theirs.borrow_mut() += 1);
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let r = UdpSocket::bind("127.0.0.1:0").unwrap();
        r.set_nonblocking(true).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let held = shared.borrow_mut();
        for _ in 0..100 {
            let e = (&a).read(&mut [0; 8]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::WouldBlock);
            let e = r.recv_from(&mut [0; 8]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::WouldBlock);
            let e = l.accept().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::WouldBlock);
        }
        drop(held);
        other.join().unwrap();
        assert_eq!(*shared.borrow(), 1);
    });
}

#[test]
fn would_block_is_the_kernel_s_eagain_as_std_s() {
    let show = |e: std::io::Error| format!("{e:?}");
    let std_sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    std_sock.set_nonblocking(true).unwrap();
    let std_err = show(std_sock.recv(&mut [0; 8]).unwrap_err());
    let check = || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        assert_eq!(show(s.recv(&mut [0; 8]).unwrap_err()), std_err);
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        assert_eq!(show((&a).read(&mut [0; 8]).unwrap_err()), std_err);
    };
    check();
    green::run(check);
}
