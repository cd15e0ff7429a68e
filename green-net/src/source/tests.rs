//! Unit tests of [`Source`](super::Source)'s retry loop, short reads and
//! timeouts (they reach its private parts).

use super::*;
use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;

/// Reads through `read_stream` into a 64-byte buffer; returns what came
/// and how many times the read was tried.
fn read_counted<T: Socket>(source: &Source<T>) -> (Vec<u8>, usize) {
    let tries = Cell::new(0);
    let mut buf = [0u8; 64];
    let n = source
        .read_stream(buf.len(), |s| {
            tries.set(tries.get() + 1);
            crate::sys::recv(s, &mut buf, 0)
        })
        .expect("a read within the timeout");
    (buf[..n].to_vec(), tries.get())
}

/// Writes `data` to `peer` 20 ms from now, from another greenlet.
fn write_later<W: 'static>(peer: &Rc<W>, data: &'static [u8]) -> green::JoinHandle<()>
where
    for<'a> &'a W: Write,
{
    let peer = peer.clone();
    green::spawn(move || {
        green::sleep(Duration::from_millis(20));
        (&*peer).write_all(data).unwrap();
    })
}

#[test]
fn after_a_short_tcp_read_the_next_waits_before_it_tries() {
    green::run(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let peer = Rc::new(peer);
        let source = Source::fresh(listener.accept().unwrap().0).short_reads_drain(true);
        // A hang would be a bug: the timeout fails the read instead.
        source
            .set_read_timeout(
                Some(Duration::from_secs(5)),
                std::net::TcpStream::set_read_timeout,
            )
            .unwrap();
        let w = write_later(&peer, b"ab");
        assert_eq!(
            read_counted(&source),
            (b"ab".to_vec(), 2),
            "WouldBlock, wait, read"
        );
        w.join().unwrap();
        let w = write_later(&peer, b"cd");
        assert_eq!(read_counted(&source), (b"cd".to_vec(), 1), "wait, read");
        w.join().unwrap();
        // A full read proves nothing: the next tries at once, and finds
        // the rest (a wait would find no edge: the user's took it).
        (&*peer).write_all(&[7; 100]).unwrap();
        green::io::wait_readable(source.get_ref(), None).unwrap();
        assert_eq!(read_counted(&source).0.len(), 64);
        assert_eq!(read_counted(&source), (vec![7; 36], 1));
    });
}

#[test]
fn a_socket_whose_short_reads_prove_nothing_tries_first() {
    green::run(|| {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = Rc::new(a);
        let source = Source::fresh(b);
        let w = write_later(&a, b"ab");
        assert_eq!(read_counted(&source), (b"ab".to_vec(), 2));
        w.join().unwrap();
        let w = write_later(&a, b"cd");
        assert_eq!(
            read_counted(&source),
            (b"cd".to_vec(), 2),
            "WouldBlock first"
        );
        w.join().unwrap();
    });
}

#[test]
fn timeouts_follow_std_rules() {
    let cell = AtomicU64::new(0);
    assert_eq!(load(&cell), None);
    let err = store(&cell, Some(Duration::ZERO)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    store(&cell, Some(Duration::from_millis(1500))).unwrap();
    assert_eq!(load(&cell), Some(Duration::from_millis(1500)));
    store(&cell, Some(Duration::MAX)).unwrap();
    assert!(load(&cell).unwrap() > Duration::from_secs(100 * 365 * 24 * 3600));
    store(&cell, None).unwrap();
    assert_eq!(load(&cell), None);
}
