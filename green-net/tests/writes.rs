//! A blocking write of a stream socket returns once the whole buffer is
//! queued, as std's does (the kernel waits for room and goes on): only a
//! write timeout or an error after some bytes went out ends it short, with
//! the count sent so far; in non-blocking mode it sends what fits.

use std::io::{ErrorKind, IoSlice, Read, Write};
use std::time::Duration;

use green_net::unix::UnixStream;
use green_net::TcpStream;

// green-core's test helpers (the watchdog, scenarios in a child process).
#[path = "../../green-core/tests/util/mod.rs"]
mod util;

/// More than the kernel queues at once on loopback (several MiB).
const N: usize = 16 << 20;

/// A reader thread that accepts one connection, waits 100 ms (the writer
/// fills the buffers meanwhile), then reads to the end; returns the count.
fn slow_reader() -> (std::net::SocketAddr, std::thread::JoinHandle<usize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let mut v = Vec::new();
        c.read_to_end(&mut v).unwrap();
        v.len()
    });
    (addr, reader)
}

/// One `write` and one `write_vectored` of [`N`] bytes each, to a reader
/// that is slow to start.
fn one_call_sends_it_all() {
    let (addr, reader) = slow_reader();
    let mut s = TcpStream::connect(addr).unwrap();
    assert_eq!(s.write(&vec![1; N]).unwrap(), N, "write");
    let (a, b) = (vec![2; N / 2], vec![3; N / 2]);
    let bufs = [IoSlice::new(&a), IoSlice::new(&[]), IoSlice::new(&b)];
    assert_eq!(s.write_vectored(&bufs).unwrap(), N, "write_vectored");
    drop(s);
    assert_eq!(reader.join().unwrap(), 2 * N);

    let (mut u, v) = UnixStream::pair().unwrap();
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let mut std_v = std::os::unix::net::UnixStream::from(v);
        let mut got = Vec::new();
        std_v.read_to_end(&mut got).unwrap();
        got
    });
    assert_eq!(u.write(&vec![4; N]).unwrap(), N, "UnixStream write");
    drop(u);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), N);
    assert!(got.iter().all(|&b| b == 4));
}

#[test]
fn a_blocking_write_queues_the_whole_buffer_like_std() {
    let _watchdog = util::watchdog();
    let (addr, reader) = slow_reader();
    let n = std::net::TcpStream::connect(addr)
        .unwrap()
        .write(&vec![1; N])
        .unwrap();
    assert_eq!((n, reader.join().unwrap()), (N, N), "std");
    one_call_sends_it_all();
    ends_short_only_at_its_timeout_or_in_non_blocking_mode();
    green::run(|| {
        one_call_sends_it_all();
        ends_short_only_at_its_timeout_or_in_non_blocking_mode();
    });
}

/// The write timeout ends a blocking write that got some bytes out with
/// their count, as the kernel's does; non-blocking mode sends what fits.
fn ends_short_only_at_its_timeout_or_in_non_blocking_mode() {
    {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let _peer = l.accept().unwrap(); // never reads
        s.set_write_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let n = s.write(&vec![1; N]).unwrap();
        assert!(
            0 < n && n < N,
            "a timed-out write returns what it sent: {n}"
        );
        // The kernel may still make room (its buffers grow); once none
        // comes, a write that sent nothing fails with std's kind.
        let err = loop {
            match s.write(&vec![1; N]) {
                Ok(n) => assert!(n < N, "a short write: {n}"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock);

        let mut s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let _peer = l.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        let n = s.write(&vec![1; N]).unwrap();
        assert!(0 < n && n < N, "non-blocking: what fits ({n})");
    }
}
