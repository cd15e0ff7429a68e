//! A blocking write of a stream socket returns once the whole buffer is
//! queued, as std's does (the kernel waits for room and goes on): only a
//! write timeout or an error after some bytes went out ends it short, with
//! the count sent so far (the error then reaches the next call, as the
//! kernel leaves it pending); in non-blocking mode it sends what fits. A
//! write of a Unix socket waiting for room ends, as std's, when its send
//! side is shut down, which the kernel does not announce.

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

/// What the stream types under test share, for [`after_a_reset_mid_write`].
trait Stream: Sized + std::os::fd::AsFd {
    fn connect(addr: std::net::SocketAddr) -> Self;
    fn try_clone(&self) -> Self;
    fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize>;
    fn take_error(&self) -> std::io::Result<Option<std::io::Error>>;
}

macro_rules! impl_stream {
    ($ty:ty) => {
        impl Stream for $ty {
            fn connect(addr: std::net::SocketAddr) -> Self {
                <$ty>::connect(addr).unwrap()
            }
            fn try_clone(&self) -> Self {
                <$ty>::try_clone(self).unwrap()
            }
            fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                <$ty>::peek(self, buf)
            }
            fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                <$ty>::take_error(self)
            }
        }
    };
}
impl_stream!(std::net::TcpStream);
impl_stream!(TcpStream);

/// The calls made after the write that the reset cut short.
#[derive(Clone, Copy, Debug)]
enum Call {
    Write,
    Read,
    /// Into or out of no bytes.
    WriteNothing,
    ReadNothing,
    Peek,
    TakeError,
    /// On a `try_clone` made before the write.
    CloneWrite,
    CloneRead,
}

/// A call's result as text: a count of bytes as "Ok(some)" when short of
/// [`N`], an error as its kind.
fn show(r: std::io::Result<usize>) -> String {
    match r {
        Ok(0) => "Ok(0)".to_string(),
        Ok(n) if n < N => "Ok(some)".to_string(),
        Ok(n) => format!("Ok({n})"),
        Err(e) => format!("{:?}", e.kind()),
    }
}

/// Writes [`N`] bytes to `s` while `peer` closes the other end with bytes
/// unread, and checks the close cut the write short; returns it as text.
fn write_cut_short<S>(s: &S, peer: std::thread::JoinHandle<()>) -> String
where
    for<'a> &'a S: Write,
{
    let wrote = show((&*s).write(&vec![1; N]));
    peer.join().unwrap();
    assert_eq!(wrote, "Ok(some)", "the peer's close ends the write short");
    wrote
}

/// Connects, writes [`N`] bytes to a peer that closes the connection with
/// them unread (a reset) once the first have arrived, then makes `calls`;
/// returns what the write and each call gave, as text (a write's count as
/// "some").
fn after_a_reset_mid_write<S: Stream>(calls: &[Call]) -> Vec<String>
where
    for<'a> &'a S: Read + Write,
{
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // Small buffers at both ends (no autotuning), so that the write cannot
    // be queued whole, whatever the system's limits.
    let small = 64 << 10;
    socket2::SockRef::from(&l)
        .set_recv_buffer_size(small)
        .unwrap();
    let addr = l.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (c, _) = l.accept().unwrap();
        c.peek(&mut [0]).unwrap(); // the write has begun
        std::thread::sleep(Duration::from_millis(50));
        drop(c); // bytes unread: the kernel resets the connection
    });
    let s = S::connect(addr);
    socket2::SockRef::from(&s)
        .set_send_buffer_size(small)
        .unwrap();
    let clone = s.try_clone();
    let mut trace = vec![write_cut_short(&s, peer)];
    let mut buf = [0; 16];
    for call in calls {
        trace.push(match call {
            Call::Write => show((&s).write(b"more")),
            Call::Read => show((&s).read(&mut buf)),
            Call::WriteNothing => show((&s).write(&[])),
            Call::ReadNothing => show((&s).read(&mut [])),
            Call::Peek => show(s.peek(&mut buf)),
            Call::TakeError => format!("{:?}", s.take_error().map(|e| e.map(|e| e.kind()))),
            Call::CloneWrite => show((&clone).write(b"more")),
            Call::CloneRead => show((&clone).read(&mut buf)),
        });
    }
    trace
}

/// A reset met by a write that got some bytes out: the write returns their
/// count, and the error (`ECONNRESET`) reaches the next call on the socket,
/// whichever it is and through whichever clone, once, as with std; it
/// was taken by green's send, so the next write got `EPIPE` and a read end
/// of file.
#[test]
fn an_error_after_a_partial_write_reaches_the_next_call_like_std_s() {
    let _watchdog = util::watchdog();
    use Call::*;
    for calls in [
        &[Write, Write][..],
        &[Read, Read, Write],
        &[WriteNothing, Write],
        &[ReadNothing, Read],
        &[Peek, Read],
        &[TakeError, TakeError, Write, Read],
        &[CloneWrite, Write],
        &[CloneRead, Read],
    ] {
        let std = after_a_reset_mid_write::<std::net::TcpStream>(calls);
        assert_eq!(
            after_a_reset_mid_write::<TcpStream>(calls),
            std,
            "{calls:?}, outside run"
        );
        let inside = green::run(|| after_a_reset_mid_write::<TcpStream>(calls));
        assert_eq!(inside, std, "{calls:?}, inside run");
    }
}

/// [`after_a_reset_mid_write`] for a Unix stream pair: `wrap` makes the
/// stream under test of one end.
fn unix_after_a_reset_mid_write<S>(
    wrap: impl FnOnce(std::os::unix::net::UnixStream) -> S,
    calls: &[Call],
) -> Vec<String>
where
    for<'a> &'a S: Read + Write,
{
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let small = 64 << 10;
    socket2::SockRef::from(&ours)
        .set_send_buffer_size(small)
        .unwrap();
    let peer = std::thread::spawn(move || {
        let mut one = [0];
        (&theirs).read_exact(&mut one).unwrap(); // the write has begun
        std::thread::sleep(Duration::from_millis(50));
        drop(theirs); // bytes unread: the peer's end records ECONNRESET
    });
    let s = wrap(ours);
    let mut trace = vec![write_cut_short(&s, peer)];
    let mut buf = [0; 16];
    for call in calls {
        trace.push(match call {
            Call::Write => show((&s).write(b"more")),
            Call::Read => show((&s).read(&mut buf)),
            other => unreachable!("{other:?} is not used with Unix streams"),
        });
    }
    trace
}

/// A Unix stream whose peer closes with bytes unread while a write waits
/// for room: std's write returns the count sent, and the kernel's wait for
/// room took the pending `ECONNRESET` with it, so the next read sees end
/// of file and the next write `EPIPE`. Green's second send met the closed
/// peer first (`EPIPE`) and left the error pending, for the next read.
#[test]
fn a_unix_stream_closed_mid_write_reads_end_of_file_next_like_std_s() {
    let _watchdog = util::watchdog();
    use Call::*;
    for calls in [&[Read, Read, Write][..], &[Write, Read]] {
        let std = unix_after_a_reset_mid_write(|s| s, calls);
        assert_eq!(
            unix_after_a_reset_mid_write(UnixStream::from, calls),
            std,
            "{calls:?}, outside run"
        );
        let inside = green::run(|| unix_after_a_reset_mid_write(UnixStream::from, calls));
        assert_eq!(inside, std, "{calls:?}, inside run");
    }
}

/// How long a write of the shut-down tests may wait: a wait that nothing
/// wakes ends here, at the write timeout.
const STUCK: Duration = Duration::from_secs(3);

/// Runs `f` beside the caller (a greenlet inside `green::run`, a thread
/// outside it); the returned closure joins it.
fn beside<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Box<dyn FnOnce() -> T> {
    if green::is_running() {
        let h = green::spawn(f);
        Box::new(move || h.join().unwrap())
    } else {
        let h = std::thread::spawn(f);
        Box::new(move || h.join().unwrap())
    }
}

/// Sleeps the greenlet inside `green::run`, the thread outside it.
fn pause(d: Duration) {
    if green::is_running() {
        green::sleep(d);
    } else {
        std::thread::sleep(d);
    }
}

/// How the send side of a Unix socket is shut down while a write waits
/// for room. Linux announces neither with a readiness event (a Unix
/// socket's poll reports writable by its buffer alone), yet each wakes
/// std's write.
#[derive(Clone, Copy, Debug)]
enum Shut {
    /// `shutdown(Write)` through another handle of the writer's socket.
    OwnWrite,
    /// `shutdown(Read)` by the peer, which shuts the writer's send side.
    PeerRead,
}

/// A Unix stream pair whose one end, wrapped by `wrap`, writes [`N`] bytes
/// twice while its send side is shut down as `shut` says, 50 ms after the
/// first bytes arrived (the buffer is full by then); returns what the
/// writes gave and whether they were woken before their timeout.
fn unix_write_while_send_side_shut<S: Send + 'static>(
    wrap: fn(std::os::unix::net::UnixStream) -> S,
    shut: Shut,
) -> Vec<String>
where
    for<'a> &'a S: Write,
{
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    ours.set_write_timeout(Some(STUCK)).unwrap();
    let other_handle = ours.try_clone().unwrap();
    let s = wrap(ours);
    let writer = beside(move || {
        let start = std::time::Instant::now();
        let first = show((&s).write(&vec![1; N]));
        let second = show((&s).write(&vec![1; N]));
        vec![first, second, format!("woken: {}", start.elapsed() < STUCK)]
    });
    // The write has begun (the hub's thread must not block in a std call).
    let mut one = [std::mem::MaybeUninit::uninit()];
    while socket2::SockRef::from(&theirs)
        .recv_with_flags(&mut one, libc::MSG_PEEK | libc::MSG_DONTWAIT)
        .is_err()
    {
        pause(Duration::from_millis(1));
    }
    pause(Duration::from_millis(50));
    match shut {
        Shut::OwnWrite => other_handle.shutdown(std::net::Shutdown::Write),
        Shut::PeerRead => theirs.shutdown(std::net::Shutdown::Read),
    }
    .unwrap();
    let trace = writer();
    drop(theirs); // only now: its close would announce itself
    trace
}

/// A connected Unix datagram socket, wrapped by `wrap`, sends into its
/// peer's full queue while its own send side is shut down through another
/// handle, 50 ms in; returns what the send gave and whether it was woken
/// before its timeout.
fn unix_send_while_send_side_shut<S: Send + 'static>(
    wrap: fn(std::os::unix::net::UnixDatagram) -> S,
    send: fn(&S, &[u8]) -> std::io::Result<usize>,
) -> Vec<String> {
    let (ours, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    while ours.send(b"fill").is_ok() {}
    ours.set_nonblocking(false).unwrap();
    ours.set_write_timeout(Some(STUCK)).unwrap();
    let other_handle = ours.try_clone().unwrap();
    let s = wrap(ours);
    let sender = beside(move || {
        let start = std::time::Instant::now();
        let sent = show(send(&s, b"late"));
        vec![sent, format!("woken: {}", start.elapsed() < STUCK)]
    });
    pause(Duration::from_millis(50));
    other_handle.shutdown(std::net::Shutdown::Write).unwrap();
    let trace = sender();
    drop(theirs);
    trace
}

/// A blocking write of a Unix socket waiting for room when its send side
/// is shut down (its own `shutdown(Write)` through a clone, the peer's
/// `shutdown(Read)`): std's write wakes at once with the count it sent
/// (then `EPIPE`; a datagram, `EPIPE`). Green's waited for a readiness
/// event the kernel never gives, to its timeout or for ever.
#[test]
fn a_unix_write_waiting_for_room_wakes_when_its_send_side_is_shut_like_std_s() {
    let _watchdog = util::watchdog();
    for shut in [Shut::OwnWrite, Shut::PeerRead] {
        let std = unix_write_while_send_side_shut(|s| s, shut);
        assert_eq!(std, ["Ok(some)", "BrokenPipe", "woken: true"]);
        assert_eq!(
            unix_write_while_send_side_shut(UnixStream::from, shut),
            std,
            "{shut:?}, outside run"
        );
        let inside = green::run(|| unix_write_while_send_side_shut(UnixStream::from, shut));
        assert_eq!(inside, std, "{shut:?}, inside run");
    }

    let std = unix_send_while_send_side_shut(|s| s, |s, b| s.send(b));
    assert_eq!(std, ["BrokenPipe", "woken: true"]);
    let green = |s| green_net::unix::UnixDatagram::from(s);
    let send = |s: &green_net::unix::UnixDatagram, b: &[u8]| s.send(b);
    assert_eq!(
        unix_send_while_send_side_shut(green, send),
        std,
        "datagram, outside run"
    );
    let inside = green::run(|| unix_send_while_send_side_shut(green, send));
    assert_eq!(inside, std, "datagram, inside run");
}
