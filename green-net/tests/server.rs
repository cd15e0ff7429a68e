//! StreamServer: a greenlet per connection, the cap, a graceful stop, and
//! recovery from running out of file descriptors.

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use green_net::{StreamServer, TcpStream};

/// For the watchdog of the tests whose regression would hang (an acceptor
/// that spins never lets the test's greenlet run again).
#[path = "../../green-core/tests/util/mod.rs"]
mod util;

const T: Duration = Duration::from_secs(20);

#[test]
fn the_cap_holds_back_connections_until_a_handler_ends() {
    green::run(|| {
        let running = Rc::new(Cell::new(0));
        let most = Rc::new(Cell::new(0));
        let (r, m) = (running.clone(), most.clone());
        let handle = StreamServer::bind("127.0.0.1:0")
            .unwrap()
            .max_connections(3)
            .start(move |mut conn: TcpStream, _| {
                r.set(r.get() + 1);
                m.set(m.get().max(r.get()));
                let mut b = [0; 1];
                let _ = conn.read_exact(&mut b);
                let _ = conn.write_all(&b);
                r.set(r.get() - 1);
            });
        let addr = handle.local_addr();
        let clients: Vec<_> = (0..10u8)
            .map(|i| {
                green::spawn(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(T)).unwrap();
                    green::sleep(Duration::from_millis(2));
                    c.write_all(&[i]).unwrap();
                    let mut b = [0; 1];
                    c.read_exact(&mut b).unwrap();
                    b[0]
                })
            })
            .collect();
        let echoed: Vec<u8> = green::joinall(clients)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(echoed, (0..10).collect::<Vec<u8>>());
        assert_eq!(most.get(), 3, "never more than the cap at once");
        handle.stop(Duration::from_secs(1));
    });
}

#[test]
fn stop_refuses_new_connections_waits_for_handlers_then_kills_the_rest() {
    green::run(|| {
        let finished = Rc::new(Cell::new(0));
        let f = finished.clone();
        let handle =
            StreamServer::bind("127.0.0.1:0")
                .unwrap()
                .start(move |mut conn: TcpStream, _| {
                    let mut b = [0; 1];
                    conn.read_exact(&mut b).unwrap(); // 0: quick; anything else: never ends
                    if b[0] == 0 {
                        f.set(f.get() + 1);
                        return;
                    }
                    green::sleep(Duration::from_secs(3600));
                });
        let addr = handle.local_addr();
        let mut quick = TcpStream::connect(addr).unwrap();
        let mut stuck = TcpStream::connect(addr).unwrap();
        green::sleep(Duration::from_millis(5));
        assert_eq!(handle.connections(), 2);
        quick.write_all(&[0]).unwrap();
        stuck.write_all(&[1]).unwrap();
        handle.stop(Duration::from_millis(50));
        assert_eq!(
            finished.get(),
            1,
            "the quick handler finished within the grace"
        );
        assert_eq!(handle.connections(), 0, "the stuck one was killed");
        assert!(handle.is_stopped());
        // its connection was closed by the kill
        stuck.set_read_timeout(Some(T)).unwrap();
        assert_eq!(stuck.read(&mut [0; 1]).unwrap(), 0);
        assert_eq!(
            TcpStream::connect(addr).unwrap_err().kind(),
            std::io::ErrorKind::ConnectionRefused
        );
    });
}

#[test]
fn stop_and_wait_leave_the_callers_park_token_alone() {
    green::run(|| {
        let stuck_server = || {
            let handle = StreamServer::bind("127.0.0.1:0")
                .unwrap()
                .start(|_, _| green::sleep(Duration::from_secs(3600)));
            let conn = TcpStream::connect(handle.local_addr()).unwrap();
            green::sleep(Duration::from_millis(5));
            assert_eq!(handle.connections(), 1);
            (handle, conn)
        };
        // A stop that runs out of grace leaves no token of its own behind
        // (until 2026-12-05 it woke its caller's next park at once)...
        let (handle, _conn) = stuck_server();
        handle.stop(Duration::from_millis(5));
        let start = std::time::Instant::now();
        green::park_timeout(Duration::from_millis(100));
        assert!(start.elapsed() >= Duration::from_millis(100));
        // ...and an unpark that comes during `wait` is kept for the next park.
        let (handle, _conn) = stuck_server();
        let main = green::current();
        let h = handle.clone();
        let stopper = green::spawn(move || {
            main.unpark();
            h.stop(Duration::from_millis(5));
        });
        handle.wait();
        stopper.join().unwrap();
        green::park(); // returns at once
    });
}

/// Out of descriptors (`EMFILE`), the server backs off and serves again once
/// some are freed. Runs in a child process, whose descriptor limit it lowers.
#[test]
fn accept_survives_emfile_and_recovers() {
    if std::env::var_os("GREEN_EMFILE_CHILD").is_some() {
        emfile_scenario();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "accept_survives_emfile_and_recovers",
            "--nocapture",
        ])
        .env("GREEN_EMFILE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("served after EMFILE"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("accept failed"),
        "the backoff is reported once: {stderr}"
    );
    assert_eq!(stderr.matches("accept failed").count(), 1, "{stderr}");
}

fn emfile_scenario() {
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let limit = libc::rlimit {
        rlim_cur: open + 24,
        rlim_max: open + 24,
    };
    // SAFETY: setrlimit only reads the struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    green::run(|| {
        let handle = StreamServer::bind("127.0.0.1:0")
            .unwrap()
            .start(|mut conn: TcpStream, _| {
                let mut b = [0; 1];
                if conn.read_exact(&mut b).is_ok() {
                    let _ = conn.write_all(&b);
                }
            });
        let addr = handle.local_addr();
        // Each client costs one fd, each accepted connection another: open
        // clients until the process is out of descriptors.
        let mut clients = Vec::new();
        while let Ok(c) = TcpStream::connect(addr) {
            clients.push(c);
            green::sleep(Duration::from_millis(1));
        }
        green::sleep(Duration::from_millis(50)); // the server meets EMFILE, backs off
        clients.truncate(clients.len() / 2); // free descriptors
        green::sleep(Duration::from_millis(50));
        let mut c = TcpStream::connect(addr).expect("a descriptor is free again");
        c.set_read_timeout(Some(T)).unwrap();
        c.write_all(&[9]).unwrap();
        let mut b = [0; 1];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b, [9]);
        println!("served after EMFILE");
        drop(clients);
        handle.stop(Duration::from_millis(100));
    });
}

/// gevent's `serve_forever` stops the server in a `finally`: a kill or a
/// timeout that ends the wait stops it too. It went on serving before, with
/// no handle left to stop it.
#[test]
fn serve_forever_unwound_by_a_kill_or_a_timeout_stops_the_server() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let server = StreamServer::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let serving = green::spawn(move || {
            server.serve_forever(|mut conn: TcpStream, _| {
                let _ = conn.write_all(b"hi");
            })
        });
        green::sleep(Duration::from_millis(10));
        TcpStream::connect(addr).expect("serving");
        serving.kill();
        assert!(serving.join().unwrap_err().is_killed());
        let refused = TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

        let server = StreamServer::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let timed_out = green::timeout(Duration::from_millis(20), || {
            server.serve_forever(|_, _| {});
        });
        assert!(timed_out.is_err());
        let refused = TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    });
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: `usage` is plain data, for which all zeroes is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one `rusage` into the place it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0);
    let t = usage.ru_utime;
    let s = usage.ru_stime;
    Duration::from_micros(
        (t.tv_sec * 1_000_000 + t.tv_usec + s.tv_sec * 1_000_000 + s.tv_usec) as u64,
    )
}

/// A server made from a listener the user set non-blocking waits for
/// connections as any other does: its acceptor polled the listener in a
/// loop before, keeping the hub's thread busy while nothing happened.
#[test]
fn a_server_on_a_non_blocking_listener_waits_without_spinning() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let listener = green_net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let handle = StreamServer::from(listener).start(|mut conn: TcpStream, _| {
            let _ = conn.write_all(b"hi");
        });
        let before = thread_cpu();
        green::sleep(Duration::from_millis(300));
        let busy = thread_cpu() - before;
        assert!(
            busy < Duration::from_millis(100),
            "the hub's thread was busy for {busy:?} of 300 ms with nothing to accept"
        );
        let mut c = TcpStream::connect(handle.local_addr()).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let mut b = [0; 2];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hi", "it still serves");
        handle.stop(Duration::from_secs(1));
    });
}

/// As gevent's (`max_accept`), the acceptor lets the other greenlets run
/// after a hundred accepts in a row: a burst of queued connections no
/// longer holds up a greenlet that was ready before it.
#[test]
fn a_burst_of_connections_does_not_hold_up_ready_greenlets() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let handle = StreamServer::bind("127.0.0.1:0").unwrap().start(|_, _| {
            green::sleep(Duration::from_secs(1));
        });
        let addr = handle.local_addr();
        // Queued in the listener's backlog before the acceptor first runs.
        let clients: Vec<_> = (0..120)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let h = handle.clone();
        let ticker = green::spawn(move || h.connections());
        let seen = ticker.join().unwrap();
        assert!(
            (1..=100).contains(&seen),
            "the ticker ran after {seen} of 120 accepts"
        );
        drop(clients);
        handle.stop(Duration::ZERO);
    });
}

/// A handler whose destructor takes a while to run, logging as it starts
/// and ends dying.
fn slow_to_die_server(log: &Rc<std::cell::RefCell<Vec<String>>>) -> green_net::ServerHandle {
    struct SlowToDie(Rc<std::cell::RefCell<Vec<String>>>, u16);
    impl Drop for SlowToDie {
        fn drop(&mut self) {
            self.0.borrow_mut().push(format!("{} dying", self.1));
            green::sleep(Duration::from_millis(20));
            self.0.borrow_mut().push(format!("{} dead", self.1));
        }
    }
    let log = log.clone();
    StreamServer::bind("127.0.0.1:0")
        .unwrap()
        .start(move |_conn: TcpStream, peer| {
            let _d = SlowToDie(log.clone(), peer.port());
            green::sleep(Duration::from_secs(3600));
        })
}

/// `n` clients of `handle`, once the server runs a handler for each.
fn connect_all(handle: &green_net::ServerHandle, n: usize) -> Vec<TcpStream> {
    let clients: Vec<_> = (0..n)
        .map(|_| TcpStream::connect(handle.local_addr()).unwrap())
        .collect();
    green::sleep(Duration::from_millis(5));
    assert_eq!(handle.connections(), n);
    clients
}

/// gevent's stop kills the handlers left after the grace together (its
/// pool's kill): they unwind side by side, not one after the other.
#[test]
fn stop_kills_the_handlers_left_all_at_once() {
    let _w = util::watchdog();
    green::run(|| {
        let log = Rc::new(std::cell::RefCell::new(Vec::new()));
        let handle = slow_to_die_server(&log);
        let clients = connect_all(&handle, 2);
        handle.stop(Duration::ZERO);
        let ports: Vec<u16> = clients
            .iter()
            .map(|c| c.local_addr().unwrap().port())
            .collect();
        let [a, b] = [ports[0], ports[1]];
        assert_eq!(
            *log.borrow(),
            [
                format!("{a} dying"),
                format!("{b} dying"),
                format!("{a} dead"),
                format!("{b} dead")
            ]
        );
        assert_eq!(handle.connections(), 0);
    });
}

/// A stop cut short while the handlers die leaves those still running
/// counted, and the next stop kills them (gevent's pool keeps a greenlet
/// until it has died); they were forgotten, left running for ever.
#[test]
fn a_stop_cut_short_leaves_the_handlers_still_running_counted() {
    let _w = util::watchdog();
    green::run(|| {
        let log = Rc::new(std::cell::RefCell::new(Vec::new()));
        let handle = slow_to_die_server(&log);
        let _clients = connect_all(&handle, 3);
        assert!(green::timeout(Duration::from_millis(5), || handle.stop(Duration::ZERO)).is_err());
        let dead = || log.borrow().iter().filter(|l| l.ends_with("dead")).count();
        assert_eq!(
            handle.connections(),
            3 - dead(),
            "the handlers still running are counted"
        );
        handle.stop(Duration::ZERO);
        assert_eq!(handle.connections(), 0);
        assert_eq!(dead(), 3, "the next stop killed them");
    });
}
