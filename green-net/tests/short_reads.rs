//! A TCP read that comes back short has emptied the receive queue, so inside
//! `green::run` the next read waits for readiness before it tries (one
//! `recv` per request instead of two). These tests hold it to never making
//! a read wait while something is queued: after a peek or a wait of the
//! user's own, with data and the end of file in one edge, past urgent data,
//! in non-blocking mode, and on sockets whose short reads prove nothing
//! (Unix streams, which stop short at passed descriptors). Each read has a
//! timeout, so a wrong wait fails the test instead of hanging it.

use std::io::{ErrorKind, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use green_net::unix::UnixStream;
use green_net::{ListenOptions, TcpListener, TcpStream};

/// Far longer than any passing read takes.
const PATIENCE: Duration = Duration::from_secs(5);

/// A connected pair inside `run`: (the reader, with a read timeout; the
/// peer that writes to it).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    peer.set_nodelay(true).unwrap();
    let (reader, _) = listener.accept().unwrap();
    reader.set_read_timeout(Some(PATIENCE)).unwrap();
    (reader, peer)
}

/// One read into a 64-byte buffer.
fn read64(mut r: impl Read) -> Vec<u8> {
    let mut buf = [0; 64];
    let n = r.read(&mut buf).expect("a read within the timeout");
    buf[..n].to_vec()
}

/// Writes `data` to `peer` from another greenlet, 20 ms from now, while
/// the caller waits.
fn write_later(peer: &TcpStream, data: &'static [u8]) -> green::JoinHandle<()> {
    let peer = peer.try_clone().unwrap();
    green::spawn(move || {
        green::sleep(Duration::from_millis(20));
        (&peer).write_all(data).unwrap();
    })
}

#[test]
fn a_read_after_a_peek_or_a_wait_of_ones_own_gets_what_came() {
    green::run(|| {
        let (reader, peer) = tcp_pair();
        let mut buf = [0; 64];
        let writer = write_later(&peer, b"one");
        assert_eq!(read64(&reader), b"one", "short: drained");
        // A peek that waits takes the edge of what comes next.
        let writer2 = write_later(&peer, b"two");
        assert_eq!(reader.peek(&mut buf).unwrap(), 3);
        assert_eq!(read64(&reader), b"two");
        // So does a wait of the user's own.
        let writer3 = write_later(&peer, b"three");
        green::io::wait_readable(&reader, None).unwrap();
        assert_eq!(read64(&reader), b"three");
        for w in [writer, writer2, writer3] {
            w.join().unwrap();
        }
    });
}

#[test]
fn data_and_the_end_of_file_in_one_edge_are_both_read() {
    green::run(|| {
        let (reader, peer) = tcp_pair();
        (&peer).write_all(b"last words").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        // The wait takes the one edge that reports both.
        green::io::wait_readable(&reader, None).unwrap();
        assert_eq!(read64(&reader), b"last words");
        assert_eq!(read64(&reader), b"", "end of file, at once");
    });
}

#[test]
fn urgent_data_never_makes_a_read_wait_with_data_queued() {
    green::run(|| {
        let (reader, peer) = tcp_pair();
        let sock = socket2::SockRef::from(&peer);
        (&peer).write_all(b"abc").unwrap();
        assert_eq!(sock.send_out_of_band(b"!").unwrap(), 1);
        (&peer).write_all(b"def").unwrap();
        green::sleep(Duration::from_millis(20)); // all of it arrives
        green::io::wait_readable(&reader, None).unwrap();
        assert_eq!(read64(&reader), b"abc", "a read stops at the urgent mark");
        assert_eq!(read64(&reader), b"def", "and the rest was queued");
    });
}

#[test]
fn a_read_that_waits_first_keeps_the_read_timeout_and_wakes_for_data() {
    green::run(|| {
        let (reader, peer) = tcp_pair();
        let writer = write_later(&peer, b"x");
        assert_eq!(read64(&reader), b"x"); // waited (the hub knows it), drained
        writer.join().unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let start = Instant::now();
        let err = (&reader).read(&mut [0; 64]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "std's timeout error");
        assert!(start.elapsed() >= Duration::from_millis(30), "never early");
        reader.set_read_timeout(Some(PATIENCE)).unwrap();
        let writer = write_later(&peer, b"y");
        assert_eq!(read64(&reader), b"y");
        writer.join().unwrap();
    });
}

#[test]
fn in_non_blocking_mode_a_read_always_tries() {
    green::run(|| {
        let (reader, peer) = tcp_pair();
        let writer = write_later(&peer, b"x");
        assert_eq!(read64(&reader), b"x"); // waited, drained, in blocking mode
        writer.join().unwrap();
        reader.set_nonblocking(true).unwrap();
        (&peer).write_all(b"y").unwrap();
        // No switch since: the hub has not seen the edge yet, the kernel
        // has the byte (loopback delivers within the write).
        assert_eq!(read64(&reader), b"y");
    });
}

/// Sends `data` with a duplicate of `fd` attached (`SCM_RIGHTS`) on the
/// Unix socket `sock`.
fn send_with_fd(sock: &impl AsRawFd, data: &[u8], fd: RawFd) {
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)]; // aligned for cmsghdr
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: `msg` describes `control`, which has room for one header and
    // one fd (CMSG_SPACE); CMSG_FIRSTHDR returns its start, which is
    // aligned, and CMSG_DATA points inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
    }
    // SAFETY: `msg` and everything it points at live across the call; the
    // data is only read.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, 0) };
    assert_eq!(
        n,
        data.len() as isize,
        "{}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn unix_streams_stop_short_at_passed_descriptors_so_their_reads_try_first() {
    green::run(|| {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let reader = UnixStream::from(b);
        reader.set_read_timeout(Some(PATIENCE)).unwrap();
        send_with_fd(&a, b"ab", a.as_raw_fd());
        (&a).write_all(b"cd").unwrap();
        green::io::wait_readable(&reader, None).unwrap();
        assert_eq!(read64(&reader), b"ab", "a read stops after passed fds");
        assert_eq!(read64(&reader), b"cd", "and the rest was queued");

        // The same socket handed to TcpStream: the kernel says it is no TCP
        // socket, so it is not trusted either.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let reader = TcpStream::from(OwnedFd::from(b));
        reader.set_read_timeout(Some(PATIENCE)).unwrap();
        send_with_fd(&a, b"ef", a.as_raw_fd());
        (&a).write_all(b"gh").unwrap();
        green::io::wait_readable(&reader, None).unwrap();
        assert_eq!(read64(&reader), b"ef");
        assert_eq!(read64(&reader), b"gh");
    });
}

/// Leaves `reader` marked drained, if its short reads are trusted: a read
/// that waits (so the hub watches the fd) and comes back short.
fn read_short_after_a_wait(reader: &TcpStream, peer: &TcpStream) {
    let writer = write_later(peer, b"hello");
    assert_eq!(read64(reader), b"hello");
    writer.join().unwrap();
}

#[test]
fn every_way_to_get_a_tcp_stream_trusts_its_short_reads() {
    green::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connected = TcpStream::connect(addr).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let clone = accepted.try_clone().unwrap();
        let from_std = TcpStream::from(std::net::TcpStream::connect(addr).unwrap());
        let (from_std_peer, _) = listener.accept().unwrap();

        let options = ListenOptions::new().bind("127.0.0.1:0").unwrap();
        let options_peer = TcpStream::connect(options.local_addr().unwrap()).unwrap();
        let (from_options, _) = options.accept().unwrap();

        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let converted = TcpListener::from(std_listener);
        let converted_peer = TcpStream::connect(converted.local_addr().unwrap()).unwrap();
        let (from_converted, _) = converted.accept().unwrap();

        for (name, reader, peer) in [
            ("connected", &connected, &accepted),
            ("accepted", &accepted, &connected),
            ("a clone", &clone, &connected),
            ("converted from std", &from_std, &from_std_peer),
            ("accepted from ListenOptions", &from_options, &options_peer),
            (
                "accepted from a converted listener",
                &from_converted,
                &converted_peer,
            ),
        ] {
            read_short_after_a_wait(reader, peer);
            assert!(green::io::is_drained(reader), "{name}: marked");
        }
    });
}

#[test]
fn urgent_data_keeps_the_marks_off_after_its_byte_is_gone() {
    green::run(|| {
        let (reader, peer) = tcp_pair();
        read_short_after_a_wait(&reader, &peer);
        let sock = socket2::SockRef::from(&peer);
        (&peer).write_all(b"abc").unwrap();
        assert_eq!(sock.send_out_of_band(b"!").unwrap(), 1);
        (&peer).write_all(b"def").unwrap();
        green::sleep(Duration::from_millis(20)); // the hub sees the urgent data
        let mut byte = [0u8; 1];
        // SAFETY: reads at most one byte into a live buffer.
        let n = unsafe {
            libc::recv(
                reader.as_raw_fd(),
                byte.as_mut_ptr().cast(),
                1,
                libc::MSG_OOB,
            )
        };
        assert_eq!((n, byte), (1, *b"!"), "the urgent byte, out of band");
        // New data, reported without urgency now: the mark stays in the
        // stream all the same.
        (&peer).write_all(b"ghi").unwrap();
        green::sleep(Duration::from_millis(20));
        green::io::wait_readable(&reader, None).unwrap(); // takes the edge
        assert_eq!(read64(&reader), b"abc", "a read stops at the mark");
        assert_eq!(read64(&reader), b"defghi");
    });
}

#[test]
fn a_vectored_read_past_the_kernels_buffer_count_proves_nothing() {
    green::run(|| {
        let (reader, peer) = tcp_pair();
        // A short vectored read is trusted like any other.
        let writer = write_later(&peer, b"hello");
        let (mut x, mut y) = ([0u8; 4], [0u8; 60]);
        let mut bufs = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
        assert_eq!((&reader).read_vectored(&mut bufs).unwrap(), 5);
        writer.join().unwrap();
        assert!(
            green::io::is_drained(&reader),
            "a short vectored read marks"
        );
        let writer = write_later(&peer, &[7; 2000]);
        // 1,025 one-byte buffers: the kernel fills the first 1,024 only.
        let mut store = vec![[0u8; 1]; 1025];
        let mut bufs: Vec<IoSliceMut<'_>> = store.iter_mut().map(|b| IoSliceMut::new(b)).collect();
        assert_eq!((&reader).read_vectored(&mut bufs).unwrap(), 1024);
        writer.join().unwrap();
        assert!(!green::io::is_drained(&reader));
        let mut buf = [0; 4096];
        assert_eq!((&reader).read(&mut buf).unwrap(), 976, "the rest, at once");
    });
}
