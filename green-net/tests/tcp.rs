//! TCP: many clients on one hub, interop with std both ways, timeouts,
//! resets, half-close, refusal, large transfers both ways at once, host
//! names, kills that release sockets — and the same bodies outside
//! `green::run`, with std's behaviour.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use green_net::{ListenOptions, TcpListener, TcpStream};

// green-core's test helpers (the watchdog, scenarios in a child process).
#[path = "../../green-core/tests/util/mod.rs"]
mod util;

const T: Duration = Duration::from_secs(20);

/// Starts a task: a greenlet inside `green::run`, a thread outside.
type Spawn<'a> = &'a dyn Fn(Box<dyn FnOnce() + Send>);

/// Runs `body` inside `green::run` (spawning with greenlets) and then
/// outside it (spawning with threads), so each test checks both.
fn both(body: fn(spawn: Spawn<'_>)) {
    green::run(|| {
        let handles = std::cell::RefCell::new(Vec::new());
        body(&|f| handles.borrow_mut().push(green::spawn(f)));
        for h in handles.take() {
            h.join().unwrap();
        }
    });
    let handles = std::sync::Mutex::new(Vec::new());
    body(&|f| handles.lock().unwrap().push(std::thread::spawn(f)));
    for h in handles.into_inner().unwrap() {
        h.join().unwrap();
    }
}

fn echo_server(spawn: Spawn<'_>, connections: usize) -> SocketAddr {
    let listener = ListenOptions::new()
        .backlog(4096)
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = listener.local_addr().unwrap();
    spawn(Box::new(move || {
        for _ in 0..connections {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(T)).unwrap();
            let mut buf = [0u8; 4096];
            loop {
                match conn.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => conn.write_all(&buf[..n]).unwrap(),
                    Err(e) => panic!("server read: {e}"),
                }
            }
        }
    }));
    addr
}

/// Raises this process's soft limit on open files to its hard limit, and
/// says whether `needed` fit: a thousand connections take two thousand fds
/// on loopback, and many systems start processes at 1,024.
fn raise_fd_limit(needed: u64) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only write and read the struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
    lim.rlim_cur >= needed
}

#[test]
fn a_thousand_clients_on_one_hub_byte_exact() {
    if !raise_fd_limit(2_200) {
        eprintln!("skipped: the hard limit on open files is below 2,200");
        return;
    }
    green::run(|| {
        let listener = ListenOptions::new()
            .backlog(4096)
            .bind("127.0.0.1:0")
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = green::spawn(move || {
            for _ in 0..1000 {
                let (mut conn, _) = listener.accept().unwrap();
                green::spawn(move || {
                    let mut buf = [0u8; 256];
                    loop {
                        match conn.read(&mut buf).unwrap() {
                            0 => break,
                            n => conn.write_all(&buf[..n]).unwrap(),
                        }
                    }
                });
            }
        });
        let clients: Vec<_> = (0..1000u32)
            .map(|i| {
                green::spawn(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(T)).unwrap();
                    for round in 0..3u32 {
                        let msg =
                            format!("client {i} round {round} {}", "x".repeat((i % 50) as usize));
                        c.write_all(msg.as_bytes()).unwrap();
                        let mut back = vec![0; msg.len()];
                        c.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg.as_bytes());
                    }
                })
            })
            .collect();
        for c in green::joinall(clients) {
            c.unwrap();
        }
        server.join().unwrap();
    });
}

#[test]
fn green_client_against_std_server_and_std_client_against_green_server() {
    // a std thread-per-connection server, a green client
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_addr = std_listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = std_listener.accept().unwrap();
        let mut buf = [0; 5];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
    });
    green::run(|| {
        let mut c = TcpStream::connect(std_addr).unwrap();
        c.write_all(b"hello").unwrap();
        let mut back = [0; 5];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello");
    });
    server.join().unwrap();

    // a green server, a std client on a plain thread
    let (tx, rx) = std::sync::mpsc::channel();
    let green_server = std::thread::spawn(move || {
        green::run(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            let (mut conn, _) = l.accept().unwrap();
            let mut buf = [0; 5];
            conn.read_exact(&mut buf).unwrap();
            conn.write_all(&buf).unwrap();
        });
    });
    let addr = rx.recv_timeout(T).unwrap();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.write_all(b"world").unwrap();
    let mut back = [0; 5];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"world");
    green_server.join().unwrap();
}

#[test]
fn read_and_write_timeouts_fire_not_early_with_std_kinds() {
    both(|spawn| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (done_tx, done_rx) = green::channel::unbounded::<()>(); // works in both modes
        spawn(Box::new(move || {
            let (_conn, _) = listener.accept().unwrap();
            // hold the connection, never read or write, until told
            let _ = done_rx.recv_timeout(T);
        }));
        let mut c = TcpStream::connect(addr).unwrap();
        assert_eq!(
            c.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        // 40 ms is a whole number of jiffies at every usual HZ (100, 250,
        // 300, 1000), so the kernel keeps it as is (see timeouts.rs).
        c.set_read_timeout(Some(Duration::from_millis(40))).unwrap();
        assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(40)));
        let start = Instant::now();
        let err = c.read(&mut [0; 8]).unwrap_err();
        assert!(
            start.elapsed() >= Duration::from_millis(40),
            "read timed out early"
        );
        assert_eq!(
            err.kind(),
            ErrorKind::WouldBlock,
            "std's kind for SO_RCVTIMEO on Unix"
        );
        // the write side: fill the peer's buffers until the timeout fires
        c.set_write_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let chunk = vec![0u8; 1 << 16];
        let err = loop {
            if let Err(e) = c.write(&chunk) {
                break e;
            }
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        done_tx.send(()).unwrap();
    });
}

#[test]
fn connect_errors_match_std() {
    both(|_spawn| {
        // refused: a port that was bound and released
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = TcpStream::connect(port).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        let err = TcpStream::connect_timeout(&port, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = TcpStream::connect("not an address").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let none: &[SocketAddr] = &[];
        assert_eq!(
            TcpStream::connect(none).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

/// std's `connect_timeout` tries the connect before it looks at the
/// duration: an address the kernel rejects at once gives the kernel's error
/// even with a zero timeout; only a connect left in progress gets
/// `InvalidInput`.
#[test]
fn connect_timeout_tries_the_connect_before_refusing_a_zero_timeout() {
    let _watchdog = util::watchdog();
    both(|_spawn| {
        let broadcast: SocketAddr = "255.255.255.255:80".parse().unwrap();
        let std_err = std::net::TcpStream::connect_timeout(&broadcast, Duration::ZERO).unwrap_err();
        let err = TcpStream::connect_timeout(&broadcast, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), std_err.kind(), "{err} (std: {std_err})");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn localhost_resolves() {
    both(|spawn| {
        let addr = echo_server(spawn, 2);
        let target = format!("localhost:{}", addr.port());
        let mut c = TcpStream::connect(target.as_str()).unwrap();
        c.write_all(b"ping").unwrap();
        let mut b = [0; 4];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        drop(c); // the echo server serves one connection at a time
        let mut c = TcpStream::connect(("localhost", addr.port())).unwrap();
        c.write_all(b"pong").unwrap();
        let mut b = [0; 4];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"pong");
    });
}

#[test]
fn half_close_gives_the_reader_eof_and_the_other_way_still_works() {
    both(|spawn| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(Box::new(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut all = Vec::new();
            conn.read_to_end(&mut all).unwrap(); // ends at the client's shutdown
            conn.write_all(&all).unwrap(); // the other direction still works
        }));
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.write_all(b"half").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"half");
    });
}

#[test]
fn a_reader_waiting_wakes_with_eof_when_another_handle_shuts_the_read_side() {
    // tokio's tcp_shutdown scenario, as std's threads see it: a read blocked
    // on one handle returns Ok(0) once a clone shuts the reading side.
    // Inside `run` the reader is parked by the time the clone's greenlet runs.
    both(|spawn| {
        for how in [Shutdown::Read, Shutdown::Both] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (_peer, _) = listener.accept().unwrap();
            c.set_read_timeout(Some(T)).unwrap();
            let other = c.try_clone().unwrap();
            spawn(Box::new(move || other.shutdown(how).unwrap()));
            let mut buf = [0; 16];
            assert_eq!(c.read(&mut buf).unwrap(), 0, "{how:?}");
        }
    });
}

#[test]
fn peer_reset_is_connection_reset() {
    both(|spawn| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = green::channel::unbounded::<()>(); // works in both modes
        spawn(Box::new(move || {
            let (conn, _) = listener.accept().unwrap();
            // close with unread data in the receive queue: the kernel resets
            let _ = rx.recv_timeout(T);
            drop(conn);
        }));
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.write_all(b"unread").unwrap();
        // let it arrive (a green sleep inside run, a thread sleep outside)
        if green::is_running() {
            green::sleep(Duration::from_millis(20));
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
        tx.send(()).unwrap();
        let err = c.read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    });
}

#[test]
fn tens_of_mib_both_ways_at_once_on_one_socket() {
    const SIZE: usize = 24 << 20;
    green::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let pattern = |i: usize| (i as u8).wrapping_mul(31).wrapping_add((i >> 13) as u8);
        let data: std::rc::Rc<Vec<u8>> = std::rc::Rc::new((0..SIZE).map(pattern).collect());
        let server = green::spawn(move || {
            // echo everything back as it comes
            let (conn, _) = listener.accept().unwrap();
            let conn = std::rc::Rc::new(conn);
            let (r, w) = (conn.clone(), conn);
            let (tx, rx) = green::channel::bounded::<Vec<u8>>(4);
            let reader = green::spawn(move || {
                let mut buf = vec![0; 1 << 16];
                loop {
                    let n = (&*r).read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    tx.send(buf[..n].to_vec()).unwrap();
                }
            });
            for chunk in rx.iter() {
                (&*w).write_all(&chunk).unwrap();
            }
            reader.join().unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let c = std::rc::Rc::new(TcpStream::connect(addr).unwrap());
        let (writer_side, reader_side) = (c.clone(), c);
        let d = data.clone();
        // one greenlet writes the whole buffer while another reads the echo
        let writer = green::spawn(move || {
            (&*writer_side).write_all(&d).unwrap();
            writer_side.shutdown(Shutdown::Write).unwrap();
        });
        let mut back = Vec::with_capacity(SIZE);
        (&*reader_side).read_to_end(&mut back).unwrap();
        writer.join().unwrap();
        server.join().unwrap();
        assert_eq!(back.len(), SIZE);
        assert!(back == *data, "the echo differs");
    });
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The fd count is process-wide and the other tests open sockets in
/// parallel: this one runs alone, in a child process.
#[test]
fn a_greenlet_killed_in_read_releases_its_socket() {
    if std::env::var_os("GREEN_FD_CHILD").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_greenlet_killed_in_read_releases_its_socket",
                "--nocapture",
            ])
            .env("GREEN_FD_CHILD", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    green::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let before = open_fds();
        let server = green::spawn(move || listener.accept().map(|(c, _)| c));
        let reader = green::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            let _ = c.read(&mut [0; 8]); // blocks forever: nobody writes
        });
        let accepted = server.join().unwrap().unwrap();
        green::yield_now();
        assert!(open_fds() > before);
        reader.kill();
        assert!(reader.join().unwrap_err().is_killed());
        drop(accepted);
        // the listener went with the server greenlet's closure
        assert_eq!(open_fds(), before - 1, "every socket was closed");
    });
}

#[test]
fn nonblocking_mode_returns_would_block_and_clones_share_settings() {
    both(|spawn| {
        let addr = echo_server(spawn, 1);
        let c = TcpStream::connect(addr).unwrap();
        let clone = c.try_clone().unwrap();
        // a whole number of jiffies at every usual HZ: kept as is
        clone
            .set_read_timeout(Some(Duration::from_millis(40)))
            .unwrap();
        assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(40)));
        c.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let err = (&clone).read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "non-blocking reads do not wait"
        );
        c.set_nonblocking(false).unwrap();
        // A round trip can take longer than 40 ms on a loaded machine (a
        // read timeout then fails with WouldBlock, as std's does): this
        // part checks that blocking mode is back, with a roomy timeout.
        clone
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        (&c).write_all(b"ok").unwrap();
        let mut b = [0; 2];
        (&clone).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ok");
    });
}

#[test]
#[allow(deprecated)]
fn the_deprecated_only_v6_methods_answer_as_std_s() {
    // std's deprecated TcpListener::set_only_v6/only_v6 are stable API, so
    // code calling them must compile against green too, and get std's
    // answers: the option read back, and Linux's refusal on a bound socket.
    let green = TcpListener::bind("[::1]:0").unwrap();
    let std = std::net::TcpListener::bind("[::1]:0").unwrap();
    assert_eq!(green.only_v6().unwrap(), std.only_v6().unwrap());
    let (g, s) = (green.set_only_v6(true), std.set_only_v6(true));
    assert_eq!(
        g.as_ref().map_err(|e| e.raw_os_error()),
        s.as_ref().map_err(|e| e.raw_os_error()),
        "green {g:?}, std {s:?}"
    );
}
