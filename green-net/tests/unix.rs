//! `UnixStream`, `UnixListener`, `UnixDatagram`: std's behaviour, with
//! waits that yield to the hub.
//!
//! Socket files live in the temp dir under unique names and are removed by
//! a guard. Every wait that could hang on a bug has a timeout, and timing is
//! asserted only as a lower bound.

mod common;

use std::cell::Cell;
use std::io::{self, ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use green_net::unix::{SocketAddr, UnixDatagram, UnixListener, UnixStream};

/// Long enough never to fire on a healthy run; bounds a broken one.
const GUARD: Duration = Duration::from_secs(10);

/// A unique socket path in the temp dir, removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = format!("green-net-{}-{tag}-{n}.sock", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn guarded(stream: UnixStream) -> io::Result<UnixStream> {
    stream.set_read_timeout(Some(GUARD))?;
    stream.set_write_timeout(Some(GUARD))?;
    Ok(stream)
}

fn guarded_pair() -> io::Result<(UnixStream, UnixStream)> {
    let (a, b) = UnixStream::pair()?;
    Ok((guarded(a)?, guarded(b)?))
}

fn join<T>(h: green::JoinHandle<T>) -> T {
    h.join().expect("greenlet failed")
}

#[test]
fn the_types_are_send_and_sync_like_std_s() {
    fn check<T: Send + Sync>() {}
    check::<UnixStream>();
    check::<UnixListener>();
    check::<UnixDatagram>();
    check::<green_net::unix::Incoming<'static>>();
}

#[test]
fn stream_pair_echoes_between_greenlets() -> io::Result<()> {
    green::run(|| {
        let (mut a, mut b) = guarded_pair()?;
        let echo = green::spawn(move || -> io::Result<usize> {
            let mut buf = [0; 256];
            let mut total = 0;
            loop {
                let n = b.read(&mut buf)?;
                if n == 0 {
                    return Ok(total);
                }
                b.write_all(&buf[..n])?;
                total += n;
            }
        });
        for i in 0..20u8 {
            let msg = [i; 100];
            a.write_all(&msg)?;
            let mut back = [0; 100];
            a.read_exact(&mut back)?;
            assert_eq!(back, msg);
        }
        a.shutdown(Shutdown::Write)?;
        assert_eq!(join(echo)?, 2000);
        let mut rest = Vec::new();
        assert_eq!(a.read_to_end(&mut rest)?, 0, "EOF once the echo is gone");
        Ok(())
    })
}

/// Pushes `total` bytes through `stream` while `reader` drains the echo;
/// with 1 MiB both directions must park at once, or nothing moves.
fn writer_and_reader_at_once(
    writer: impl Write + 'static,
    reader: impl Read + 'static,
    echo_end: UnixStream,
) -> io::Result<()> {
    const TOTAL: usize = 1 << 20;
    let echo = green::spawn(move || -> io::Result<()> {
        let mut buf = vec![0; 16 * 1024];
        let mut end = echo_end;
        loop {
            let n = end.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            end.write_all(&buf[..n])?;
        }
    });
    let mut writer = writer;
    let w = green::spawn(move || -> io::Result<()> {
        let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        for _ in 0..TOTAL / chunk.len() {
            writer.write_all(&chunk)?;
        }
        Ok(())
    });
    let mut reader = reader;
    let r = green::spawn(move || -> io::Result<usize> {
        let mut buf = vec![0; 32 * 1024];
        let mut got = 0;
        while got < TOTAL {
            let n = reader.read(&mut buf)?;
            assert!(n > 0, "early EOF");
            for (i, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, ((got + i) % (64 * 1024) % 251) as u8);
            }
            got += n;
        }
        Ok(got)
    });
    join(w)?;
    assert_eq!(join(r)?, TOTAL);
    drop(echo); // the echo greenlet is killed when `run` returns
    Ok(())
}

#[test]
fn one_greenlet_reads_while_another_writes_through_shared_refs() -> io::Result<()> {
    struct Shared(Rc<UnixStream>);
    impl Read for Shared {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            (&*self.0).read(buf)
        }
    }
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            (&*self.0).write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            (&*self.0).flush()
        }
    }
    green::run(|| {
        let (a, b) = guarded_pair()?;
        let a = Rc::new(a);
        writer_and_reader_at_once(Shared(a.clone()), Shared(a), b)
    })
}

#[test]
fn one_greenlet_reads_while_another_writes_through_a_clone() -> io::Result<()> {
    green::run(|| {
        let (a, b) = guarded_pair()?;
        let clone = a.try_clone()?;
        assert_eq!(clone.read_timeout()?, Some(GUARD), "clones share timeouts");
        writer_and_reader_at_once(a, clone, b)
    })
}

#[test]
fn vectored_io_moves_every_slice() -> io::Result<()> {
    green::run(|| {
        let (mut a, mut b) = guarded_pair()?;
        let n = a.write_vectored(&[IoSlice::new(b"head,"), IoSlice::new(b"tail")])?;
        assert_eq!(n, 9);
        let (mut x, mut y) = ([0; 5], [0; 4]);
        let mut got = 0;
        while got < 9 {
            let mut bufs = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
            // the first call gets all: one write, nine bytes queued
            got += b.read_vectored(&mut bufs)?;
        }
        assert_eq!((&x, &y), (b"head,", b"tail"));
        Ok(())
    })
}

#[test]
fn listener_accepts_greenlet_clients_on_a_temp_path() -> io::Result<()> {
    let path = TempPath::new("accept");
    green::run(|| {
        let listener = UnixListener::bind(&path)?;
        assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_ref()));
        assert!(format!("{listener:?}").contains("fd"));
        let server = green::spawn(move || -> io::Result<()> {
            for stream in listener.incoming().take(5) {
                let mut stream = guarded(stream?)?;
                assert!(stream.peer_addr()?.is_unnamed(), "clients did not bind");
                green::spawn(move || -> io::Result<()> {
                    let mut id = [0];
                    stream.read_exact(&mut id)?;
                    stream.write_all(&[id[0] * 2])
                });
            }
            Ok(())
        });
        let clients: Vec<_> = (0..5u8)
            .map(|id| {
                let path = path.0.clone();
                green::spawn(move || -> io::Result<u8> {
                    let mut stream = guarded(UnixStream::connect(&path)?)?;
                    assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
                    stream.write_all(&[id])?;
                    let mut reply = [0];
                    stream.read_exact(&mut reply)?;
                    Ok(reply[0])
                })
            })
            .collect();
        let replies: Vec<u8> = clients.into_iter().map(join).collect::<io::Result<_>>()?;
        assert_eq!(replies, [0, 2, 4, 6, 8]);
        join(server)
    })?;
    drop(path);
    Ok(())
}

#[test]
fn accept_and_connect_by_address() -> io::Result<()> {
    let path = TempPath::new("addr");
    green::run(|| {
        let addr = SocketAddr::from_pathname(&path)?;
        let listener = UnixListener::bind_addr(&addr)?;
        let client = green::spawn(move || UnixStream::connect_addr(&addr));
        let accepted = (&listener)
            .into_iter()
            .next()
            .expect("incoming never ends")?;
        let client = join(client)?;
        assert_eq!(
            client.peer_addr()?.as_pathname(),
            accepted.local_addr()?.as_pathname()
        );
        Ok(())
    })
}

#[cfg(target_os = "linux")]
#[test]
fn connect_to_an_abstract_name() -> io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    green::run(|| {
        let name = format!("green-net-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
        let listener = UnixListener::bind_addr(&addr)?;
        let client = green::spawn(move || UnixStream::connect_addr(&addr));
        let (_server_side, _) = listener.accept()?;
        let client = join(client)?;
        assert_eq!(
            client.peer_addr()?.as_abstract_name(),
            Some(name.as_bytes())
        );
        Ok(())
    })
}

#[test]
fn connect_errors_are_std_s() -> io::Result<()> {
    let path = TempPath::new("refused");
    let check = |path: &Path| {
        let err = UnixStream::connect(path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        let err = UnixStream::connect("bad\0path").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let long = "x".repeat(200);
        let err = UnixStream::connect(long).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        // a socket file nobody listens on any more
        drop(UnixListener::bind(path).unwrap());
        let err = UnixStream::connect(path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        std::fs::remove_file(path).unwrap();
    };
    check(path.as_ref()); // outside run: std's own connect
    green::run(|| check(path.as_ref())); // inside: ours
                                         // std's verdict on the same inputs, for comparison
    let std_err = std::os::unix::net::UnixStream::connect("bad\0path").unwrap_err();
    assert_eq!(std_err.kind(), ErrorKind::InvalidInput);
    Ok(())
}

/// With a backlog of 1, Linux makes the third pending connect fail with
/// `EAGAIN`; std's would sleep in the kernel, ours retries without blocking
/// the hub, and every client gets through once the server accepts.
#[test]
fn connect_waits_while_the_backlog_is_full() -> io::Result<()> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let path = TempPath::new("backlog");
    green::run(|| {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.bind(&SockAddr::unix(&path)?)?;
        socket.listen(1)?;
        let listener = UnixListener::from(std::os::unix::net::UnixListener::from(socket));

        let connected = Rc::new(Cell::new(0));
        let clients: Vec<_> = (0..6)
            .map(|_| {
                let path = path.0.clone();
                let connected = connected.clone();
                green::spawn(move || -> io::Result<UnixStream> {
                    let stream = UnixStream::connect(&path)?;
                    connected.set(connected.get() + 1);
                    Ok(stream)
                })
            })
            .collect();
        // the clients run, fill the backlog, and wait without blocking us
        green::sleep(Duration::from_millis(30));
        assert!(
            connected.get() < 6,
            "the backlog of 1 did not hold them back"
        );
        let mut accepted = Vec::new();
        for _ in 0..6 {
            accepted.push(listener.accept()?.0);
        }
        for c in clients {
            join(c)?;
        }
        assert_eq!(connected.get(), 6);
        Ok(())
    })
}

#[test]
fn read_timeout_fires_not_early_with_would_block_and_yields() -> io::Result<()> {
    green::run(|| {
        let (mut a, _b) = UnixStream::pair()?;
        let timeout = Duration::from_millis(50);
        a.set_read_timeout(Some(timeout))?;

        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        green::spawn(move || r.set(true));

        let start = Instant::now();
        let err = a.read(&mut [0; 8]).unwrap_err();
        assert!(
            start.elapsed() >= timeout,
            "woke after {:?}",
            start.elapsed()
        );
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(ran.get(), "the hub was blocked during the read");

        let d = UnixDatagram::unbound()?;
        d.set_read_timeout(Some(timeout))?;
        let start = Instant::now();
        assert_eq!(
            d.recv_from(&mut [0; 8]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        assert!(start.elapsed() >= timeout);
        Ok(())
    })
}

#[test]
fn write_timeout_fires_when_the_peer_does_not_read() -> io::Result<()> {
    green::run(|| {
        let (mut a, _b) = UnixStream::pair()?;
        let timeout = Duration::from_millis(30);
        a.set_write_timeout(Some(timeout))?;
        let chunk = [0u8; 64 * 1024];
        let start = Instant::now();
        let mut written = 0;
        let err = loop {
            match a.write(&chunk) {
                Ok(n) => written += n,
                Err(e) => break e,
            }
        };
        assert!(written > 0, "the buffer took something first");
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(start.elapsed() >= timeout);
        Ok(())
    })
}

#[test]
fn nonblocking_mode_returns_would_block() -> io::Result<()> {
    let path = TempPath::new("nonblocking");
    green::run(|| {
        let (mut a, _b) = UnixStream::pair()?;
        a.set_nonblocking(true)?;
        assert_eq!(
            a.read(&mut [0; 8]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );

        let listener = UnixListener::bind(&path)?;
        listener.try_clone()?.set_nonblocking(true)?;
        assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);

        let (d, _e) = UnixDatagram::pair()?;
        d.set_nonblocking(true)?;
        assert_eq!(
            d.recv(&mut [0; 8]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        // still std's answer after the read half is shut
        d.shutdown(Shutdown::Read)?;
        assert_eq!(
            d.recv(&mut [0; 8]).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        Ok(())
    })
}

#[test]
fn eof_after_shutdown_write_wakes_a_parked_reader() -> io::Result<()> {
    green::run(|| {
        let (a, mut b) = guarded_pair()?;
        let reader = green::spawn(move || -> io::Result<Vec<u8>> {
            let mut all = Vec::new();
            b.read_to_end(&mut all)?; // parks until the shutdown
            Ok(all)
        });
        green::yield_now(); // let it park
        (&a).write_all(b"last words")?;
        a.shutdown(Shutdown::Write)?;
        assert_eq!(join(reader)?, b"last words");
        assert!((&a).write_all(b"more").is_err(), "the write half is shut");
        Ok(())
    })
}

#[test]
fn datagram_shutdown_read_wakes_a_parked_receiver_with_zero() -> io::Result<()> {
    green::run(|| {
        let (a, b) = UnixDatagram::pair()?;
        b.set_read_timeout(Some(GUARD))?;
        a.send(b"queued")?;
        let b = Rc::new(b);
        let b2 = b.clone();
        let receiver = green::spawn(move || -> io::Result<Vec<usize>> {
            let mut lens = Vec::new();
            let mut buf = [0; 16];
            for _ in 0..3 {
                lens.push(b2.recv(&mut buf)?); // the last one parks
            }
            Ok(lens)
        });
        green::yield_now();
        b.shutdown(Shutdown::Read)?;
        // queued data first, then 0, then 0 again: std's blocking answers
        assert_eq!(join(receiver)?, [6, 0, 0]);
        let (n, from) = b.recv_from(&mut [0; 8])?;
        assert_eq!(n, 0);
        assert!(from.is_unnamed());
        Ok(())
    })
}

#[test]
fn datagram_pair_and_paths() -> io::Result<()> {
    let server_path = TempPath::new("dgram-server");
    let client_path = TempPath::new("dgram-client");
    green::run(|| {
        let (a, b) = UnixDatagram::pair()?;
        a.send(b"paired")?;
        let mut buf = [0; 32];
        assert_eq!(b.recv(&mut buf)?, 6);
        assert!(a.peer_addr()?.is_unnamed());

        let server = UnixDatagram::bind(&server_path)?;
        server.set_read_timeout(Some(GUARD))?;
        let client = UnixDatagram::bind(&client_path)?;
        client.set_read_timeout(Some(GUARD))?;
        let echo = green::spawn(move || -> io::Result<()> {
            let mut buf = [0; 32];
            for _ in 0..3 {
                let (n, from) = server.recv_from(&mut buf)?;
                server.send_to_addr(&buf[..n], &from)?;
            }
            Ok(())
        });
        for msg in [&b"one"[..], b"two", b"three"] {
            assert_eq!(client.send_to(msg, &server_path)?, msg.len());
            let (n, from) = client.recv_from(&mut buf)?;
            assert_eq!(&buf[..n], msg);
            assert_eq!(from.as_pathname(), Some(server_path.as_ref()));
        }
        join(echo)?;

        let sender = UnixDatagram::unbound()?;
        sender.connect(&client_path)?;
        assert_eq!(
            sender.peer_addr()?.as_pathname(),
            Some(client_path.as_ref())
        );
        sender.send(b"connected")?;
        assert_eq!(client.recv(&mut buf)?, 9);
        let err = UnixDatagram::unbound()?.send_to(b"x", "/nonexistent/green.sock");
        assert_eq!(err.unwrap_err().kind(), ErrorKind::NotFound);
        Ok(())
    })
}

/// More datagrams than the receiver's queue holds (Linux: 10 by default):
/// the sender waits for room, parked, and every datagram arrives in order.
#[test]
fn datagram_sender_waits_for_room_in_a_full_queue() -> io::Result<()> {
    let path = TempPath::new("dgram-full");
    green::run(|| {
        let receiver = UnixDatagram::bind(&path)?;
        receiver.set_read_timeout(Some(GUARD))?;
        let p = path.0.clone();
        let unconnected = green::spawn(move || -> io::Result<()> {
            let sender = UnixDatagram::unbound()?;
            sender.set_write_timeout(Some(GUARD))?;
            for i in 0..100u8 {
                sender.send_to(&[0, i], &p)?;
            }
            Ok(())
        });
        let p = path.0.clone();
        let connected = green::spawn(move || -> io::Result<()> {
            let sender = UnixDatagram::unbound()?;
            sender.set_write_timeout(Some(GUARD))?;
            sender.connect(&p)?;
            for i in 0..100u8 {
                sender.send(&[1, i])?;
            }
            Ok(())
        });
        let mut next = [0u8; 2];
        let mut buf = [0; 4];
        for _ in 0..200 {
            green::yield_now(); // a slow reader: the queue fills up
            let n = receiver.recv(&mut buf)?;
            assert_eq!(n, 2);
            let who = usize::from(buf[0]);
            assert_eq!(buf[1], next[who], "in order per sender");
            next[who] += 1;
        }
        join(unconnected)?;
        join(connected)?;
        assert_eq!(next, [100, 100]);
        Ok(())
    })
}

/// A queue full of *another* socket's datagrams: Linux gives the waiting
/// sender no readiness event, yet it must get through once room is made,
/// and time out (not spin forever) when none is.
#[test]
fn datagram_send_to_a_queue_full_of_others_datagrams() -> io::Result<()> {
    let path = TempPath::new("dgram-others");
    green::run(|| {
        let receiver = UnixDatagram::bind(&path)?;
        let filler = UnixDatagram::unbound()?;
        filler.set_nonblocking(true)?;
        let mut queued = 0;
        while filler.send_to(b"f", &path).is_ok() {
            queued += 1;
        }
        assert!(queued > 0);

        let sender = UnixDatagram::unbound()?;
        let timeout = Duration::from_millis(40);
        sender.set_write_timeout(Some(timeout))?;
        let start = Instant::now();
        let err = sender.send_to(b"s", &path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(
            start.elapsed() >= timeout,
            "gave up after {:?}",
            start.elapsed()
        );

        sender.set_write_timeout(Some(GUARD))?;
        let drained = Rc::new(Cell::new(false));
        let d = drained.clone();
        let drainer = green::spawn(move || -> io::Result<UnixDatagram> {
            green::sleep(Duration::from_millis(20));
            d.set(true);
            let mut buf = [0; 4];
            for _ in 0..queued {
                receiver.recv(&mut buf)?;
            }
            Ok(receiver)
        });
        assert_eq!(sender.send_to(b"s", &path)?, 1);
        assert!(drained.get(), "it got through only once room was made");
        let receiver = join(drainer)?;
        receiver.set_read_timeout(Some(GUARD))?;
        let mut buf = [0; 4];
        assert_eq!(receiver.recv(&mut buf)?, 1);
        assert_eq!(&buf[..1], b"s");
        Ok(())
    })
}

#[test]
fn outside_run_it_blocks_the_thread_like_std() -> io::Result<()> {
    assert!(!green::is_running());
    let path = TempPath::new("outside");
    let listener = UnixListener::bind(&path)?;
    let p = path.0.clone();
    let peer = thread::spawn(move || -> io::Result<()> {
        thread::sleep(Duration::from_millis(20));
        let mut s = std::os::unix::net::UnixStream::connect(&p)?;
        s.write_all(b"from a thread")?;
        s.shutdown(Shutdown::Write)?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        assert_eq!(reply, "reply");
        Ok(())
    });
    let (mut conn, _) = listener.accept()?; // blocks the thread
    let mut got = String::new();
    conn.read_to_string(&mut got)?;
    assert_eq!(got, "from a thread");
    conn.write_all(b"reply")?;
    drop(conn);
    peer.join().unwrap()?;

    // and our connect, outside run, to a std listener
    let path2 = TempPath::new("outside-std");
    let std_listener = std::os::unix::net::UnixListener::bind(&path2)?;
    let acceptor = thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = std_listener.accept()?;
        s.write_all(b"hi")
    });
    let mut client = UnixStream::connect(&path2)?;
    let mut hi = [0; 2];
    client.read_exact(&mut hi)?;
    assert_eq!(&hi, b"hi");
    acceptor.join().unwrap()?;

    assert_eq!(client.read(&mut [0; 4])?, 0, "EOF: the acceptor is gone");

    let timeout = Duration::from_millis(30);
    let (mut a, _b) = UnixStream::pair()?;
    a.set_read_timeout(Some(timeout))?;
    let start = Instant::now();
    assert_eq!(
        a.read(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert!(start.elapsed() >= timeout);

    let (d, e) = UnixDatagram::pair()?;
    let sender = thread::spawn(move || -> io::Result<usize> {
        thread::sleep(Duration::from_millis(20));
        std::os::unix::net::UnixDatagram::from(e).send(b"dgram")
    });
    let mut buf = [0; 8];
    assert_eq!(d.recv(&mut buf)?, 5);
    assert_eq!(sender.join().unwrap()?, 5);
    Ok(())
}

#[test]
fn conversions_keep_mode_and_timeouts() -> io::Result<()> {
    let (std_a, _std_b) = std::os::unix::net::UnixStream::pair()?;
    std_a.set_read_timeout(Some(Duration::from_millis(700)))?;
    std_a.set_nonblocking(true)?;
    let mut a = UnixStream::from(std_a);
    assert_eq!(a.read_timeout()?, Some(Duration::from_millis(700)));
    assert_eq!(
        a.read(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert!(format!("{a:?}").starts_with("UnixStream { fd: "));

    let fd: OwnedFd = a.into();
    let a = UnixStream::from(fd);
    a.set_nonblocking(false)?;
    let raw = a.as_raw_fd();
    let back = std::os::unix::net::UnixStream::from(a);
    assert_eq!(back.as_raw_fd(), raw);
    assert_eq!(back.read_timeout()?, Some(Duration::from_millis(700)));
    back.set_read_timeout(Some(Duration::from_millis(20)))?;
    let start = Instant::now();
    let err = (&back).read(&mut [0; 4]).unwrap_err(); // blocking again
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    // It blocked; the kernel's own timeout may end up to a tick early (see
    // udp.rs), unlike green's, which never does.
    assert!(start.elapsed() >= Duration::from_millis(10));

    let (std_d, _std_e) = std::os::unix::net::UnixDatagram::pair()?;
    std_d.set_nonblocking(true)?;
    let d = UnixDatagram::from(std_d);
    assert_eq!(
        d.recv(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    d.shutdown(Shutdown::Read)?;
    assert_eq!(
        d.recv(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    d.set_nonblocking(false)?;
    assert_eq!(d.recv(&mut [0; 4])?, 0, "blocking after shutdown(Read): 0");
    let fd: OwnedFd = d.into();
    let d = std::os::unix::net::UnixDatagram::from(fd);
    assert!(d.take_error()?.is_none());

    let path = TempPath::new("convert");
    let l = UnixListener::from(std::os::unix::net::UnixListener::bind(&path)?);
    let fd: OwnedFd = l.into();
    let l = UnixListener::from(fd);
    assert_eq!(l.local_addr()?.as_pathname(), Some(path.as_ref()));
    assert!(l.take_error()?.is_none());
    let _std: std::os::unix::net::UnixListener = l.into();
    Ok(())
}

/// A listener on `path` with a read timeout (`SO_RCVTIMEO`, which green
/// keeps when it wraps a std listener) of `timeout`, so an accept that
/// would wait forever on a bug ends instead.
fn listener_with_timeout(path: &TempPath, timeout: Duration) -> io::Result<UnixListener> {
    let std_listener = std::os::unix::net::UnixListener::bind(path)?;
    socket2::SockRef::from(&std_listener).set_read_timeout(Some(timeout))?;
    Ok(UnixListener::from(std_listener))
}

#[test]
fn accept_on_a_listener_whose_receiving_side_is_shut_fails_like_std_s() -> io::Result<()> {
    // Go's listener-close tests, with std's means: shutdown(2) of the
    // listener's receiving side through another handle. The kernel's
    // blocking accept of a Unix listener then fails with EINVAL, at once or
    // when the shutdown comes, while its non-blocking accept keeps failing
    // with EAGAIN though poll reports the listener readable: green's accept
    // must not wait (or spin) on that until its timeout.
    let path = TempPath::new("shut-listener-std");
    let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    socket2::SockRef::from(&std_listener).shutdown(Shutdown::Read)?;
    let std_err = std_listener.accept().unwrap_err();
    assert_eq!(std_err.raw_os_error(), Some(libc::EINVAL));
    std_listener.set_nonblocking(true)?;
    let std_err = std_listener.accept().unwrap_err();
    assert_eq!(std_err.kind(), ErrorKind::WouldBlock, "{std_err}");

    let shut_first = || -> io::Result<()> {
        let path = TempPath::new("shut-listener-first");
        let listener = listener_with_timeout(&path, GUARD)?;
        socket2::SockRef::from(&listener.try_clone()?).shutdown(Shutdown::Read)?;
        let start = Instant::now();
        let err = listener.accept().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        // Again, with the readiness edge of the shutdown consumed.
        let err = listener.accept().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        assert!(start.elapsed() < GUARD, "the accept waited for its timeout");
        // The kernel's non-blocking accept: EAGAIN, as std's.
        listener.set_nonblocking(true)?;
        let err = listener.accept().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        Ok(())
    };
    green::run(shut_first)?;
    shut_first()?;

    // Shut by another greenlet (a thread outside `run`) while the accept
    // waits.
    green::run(|| -> io::Result<()> {
        let path = TempPath::new("shut-listener-parked");
        let listener = listener_with_timeout(&path, GUARD)?;
        let clone = listener.try_clone()?;
        let shutter = green::spawn(move || {
            green::sleep(Duration::from_millis(20));
            socket2::SockRef::from(&clone).shutdown(Shutdown::Read)
        });
        let start = Instant::now();
        let err = listener.accept().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        assert!(start.elapsed() < GUARD, "the accept waited for its timeout");
        join(shutter)
    })?;
    let path = TempPath::new("shut-listener-thread");
    let listener = listener_with_timeout(&path, GUARD)?;
    let clone = listener.try_clone()?;
    let shutter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        socket2::SockRef::from(&clone).shutdown(Shutdown::Read)
    });
    let start = Instant::now();
    let err = listener.accept().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    assert!(start.elapsed() < GUARD, "the accept waited for its timeout");
    shutter.join().expect("the shutting thread panicked")
}

#[test]
fn a_datagram_receive_returns_0_once_any_handle_shuts_the_receiving_side() -> io::Result<()> {
    // As std's blocking receive, when the shutdown comes through a handle
    // green did not make (a raw fd here), before or while it waits: green's
    // own `shutdown` was already seen, this one must not wait for the
    // timeout.
    common::with_receiving_side_shut(|shut_later: &dyn Fn(OwnedFd)| {
        let (a, _b) = UnixDatagram::pair()?;
        a.set_read_timeout(Some(GUARD))?;
        let start = Instant::now();
        shut_later(a.as_fd().try_clone_to_owned()?);
        assert_eq!(a.recv(&mut [0; 8])?, 0);
        let (n, from) = a.recv_from(&mut [0; 8])?;
        assert_eq!(n, 0);
        assert!(from.is_unnamed());
        assert!(start.elapsed() < GUARD, "a receive waited for its timeout");
        Ok(())
    })
}
