//! Readiness waits: `green::io::wait_readable` / `wait_writable` park the
//! greenlet until the fd is ready (one reader and one writer may wait on one
//! fd at once), time out with `TimedOut`, and block the thread in `poll(2)`
//! outside `run`. Every wait here has a deadline, so that a missed wake-up
//! fails the test instead of hanging it.

mod util;

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use util::Log;

/// Far enough away never to pass in a passing test.
fn patience() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(20))
}

/// Reads what is there, waiting for readability as often as needed.
fn read_some(mut r: impl Read + AsFd) -> io::Result<Vec<u8>> {
    let mut buf = [0; 256];
    loop {
        match r.read(&mut buf) {
            Ok(n) => return Ok(buf[..n].to_vec()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                green::io::wait_readable(r.as_fd(), patience())?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Fills the socket's send buffer until a write would block.
fn fill(mut s: &UnixStream) -> usize {
    let chunk = [7u8; 4096];
    let mut total = 0;
    loop {
        match s.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return total,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_pipe_reader_wakes_when_the_writer_writes() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let (r, mut w) = std::io::pipe().unwrap();
        util::set_nonblocking(&r);
        let l = log.clone();
        let reader = green::spawn(move || {
            l.push("reader waits");
            let got = read_some(&r).unwrap();
            l.push(format!("reader got {}", String::from_utf8_lossy(&got)));
            green::io::deregister(&r);
        });
        let l = log.clone();
        let writer = green::spawn(move || {
            l.push("writer writes");
            w.write_all(b"ping").unwrap();
        });
        reader.join().unwrap();
        writer.join().unwrap();
    });
    assert_eq!(
        log.lines(),
        ["reader waits", "writer writes", "reader got ping"]
    );
}

#[test]
fn a_reader_and_a_writer_wait_on_one_fd_at_once() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let filled = fill(&a); // `a` is not writable now, and not readable
        let a = std::rc::Rc::new(a);

        let (a1, l) = (a.clone(), log.clone());
        let reader = green::spawn(move || {
            l.push("reader waits on a");
            let got = read_some(&*a1).unwrap();
            l.push(format!("reader got {:?}", String::from_utf8_lossy(&got)));
        });
        let (a2, l) = (a.clone(), log.clone());
        let writer = green::spawn(move || {
            l.push("writer waits on a");
            loop {
                match (&*a2).write(b"more") {
                    Ok(n) => break l.push(format!("writer wrote {n}")),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        green::io::wait_writable(&*a2, patience()).unwrap();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        });
        green::yield_now(); // both are waiting now, in opposite directions
        log.push("main writes to b");
        (&b).write_all(b"hi").unwrap();
        reader.join().unwrap();
        log.push("main drains b");
        let mut drained = 0;
        while drained < filled {
            drained += read_some(&b).unwrap().len();
        }
        writer.join().unwrap();
        green::io::deregister(&*a);
        green::io::deregister(&b);
    });
    assert_eq!(
        log.lines(),
        [
            "reader waits on a",
            "writer waits on a",
            "main writes to b",
            "reader got \"hi\"",
            "main drains b",
            "writer wrote 4"
        ]
    );
}

#[test]
fn an_fd_that_is_ready_already_does_not_wait() {
    let _w = util::watchdog();
    green::run(|| {
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.write_all(b"early").unwrap();
        // readable before anybody waited: the wait must still see it
        green::io::wait_readable(&a, patience()).unwrap();
        assert_eq!(read_some(&a).unwrap(), b"early");
        green::io::wait_writable(&a, patience()).unwrap();
        green::io::deregister(&a);
    });
}

#[test]
fn a_deadline_ends_the_wait_with_timed_out_never_early() {
    let _w = util::watchdog();
    green::run(|| {
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        // A wait may return spuriously, so retry as every caller must: try,
        // wait, try again, until the deadline.
        let deadline = Instant::now() + Duration::from_millis(10);
        let err = loop {
            let mut buf = [0; 8];
            match (&a).read(&mut buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => panic!("nothing should be readable: {other:?}"),
            }
            if let Err(e) = green::io::wait_readable(&a, Some(deadline)) {
                break e;
            }
        };
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(Instant::now() >= deadline, "timed out early");
        // a deadline in the past times out at once
        let err = green::io::wait_readable(&a, Some(Instant::now())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        // Writing: fill the buffer first. Here a spurious return is likely:
        // the writable edge seen when the fd was registered is remembered.
        fill(&a);
        let deadline = Instant::now() + Duration::from_millis(10);
        let err = loop {
            match (&a).write(b"x") {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => panic!("the buffer should be full: {other:?}"),
            }
            if let Err(e) = green::io::wait_writable(&a, Some(deadline)) {
                break e;
            }
        };
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(Instant::now() >= deadline, "timed out early");
        green::io::deregister(&a);
    });
}

#[test]
fn other_greenlets_run_while_one_waits_on_an_fd() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let l = log.clone();
        let reader = green::spawn(move || {
            let got = read_some(&a).unwrap();
            l.push(format!("read {}", got.len()));
            green::io::deregister(&a);
        });
        let l = log.clone();
        let worker = green::spawn(move || {
            for i in 0..3 {
                l.push(format!("work {i}"));
                green::yield_now();
            }
            (&b).write_all(b"done").unwrap();
            b
        });
        let _b = worker.join().unwrap();
        reader.join().unwrap();
    });
    assert_eq!(log.lines(), ["work 0", "work 1", "work 2", "read 4"]);
}

/// Socket pairs (150: 300 fds, so that the two tests that use this fit
/// side by side under a soft limit of 1,024), one greenlet waiting to read
/// each, and the pairs' other ends once all of them wait: `then(i, bytes)`
/// runs in reader `i` with what it read.
fn waiting_readers(
    then: impl Fn(usize, Vec<u8>) + Clone + 'static,
) -> (Vec<UnixStream>, Vec<green::JoinHandle<()>>) {
    const PAIRS: usize = 150;
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for i in 0..PAIRS {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let then = then.clone();
        readers.push(green::spawn(move || {
            let got = read_some(&a).unwrap();
            green::io::deregister(&a);
            then(i, got);
        }));
        writers.push(b);
    }
    green::yield_now(); // every reader waits now
    (writers, readers)
}

#[test]
fn more_fds_ready_at_once_than_one_poll_takes_all_wake() {
    // A poll takes at most 128 events from the kernel (`EVENTS_PER_WAIT`):
    // the rest must come with the next polls, none lost.
    let _w = util::watchdog();
    let log = Log::new();
    let pairs = green::run(|| {
        let l = log.clone();
        let (writers, readers) = waiting_readers(move |i, got| l.push(format!("{i} read {got:?}")));
        assert!(log.lines().is_empty());
        for (i, mut b) in writers.iter().enumerate() {
            b.write_all(&[i as u8]).unwrap();
        }
        for r in readers {
            r.join().unwrap();
        }
        writers.len()
    });
    assert!(pairs > 128);
    let mut lines = log.lines();
    lines.sort_by_key(|l| l.split(' ').next().unwrap().parse::<usize>().unwrap());
    let want: Vec<String> = (0..pairs)
        .map(|i| format!("{i} read [{}]", i as u8))
        .collect();
    assert_eq!(lines, want);
}

#[test]
fn io_keeps_up_with_a_greenlet_that_keeps_yielding() {
    // With greenlets always ready the hub polls only every 61 turns of its
    // loop; such a poll takes up to 1,024 events, so 150 sockets ready at
    // once all wake within about 61 yields, not 61 for every 128.
    let _w = util::watchdog();
    let woken = std::rc::Rc::new(std::cell::Cell::new(0));
    let yields = green::run(|| {
        let w = woken.clone();
        let (writers, readers) = waiting_readers(move |_, _| w.set(w.get() + 1));
        for mut b in &writers {
            b.write_all(b"x").unwrap();
        }
        let mut yields = 0;
        while woken.get() < writers.len() && yields < 1000 {
            green::yield_now();
            yields += 1;
        }
        for r in readers {
            r.join().unwrap();
        }
        yields
    });
    assert!(yields <= 100, "{yields} yields before every reader woke");
}

#[test]
fn deregister_wakes_the_waiters() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let a = std::rc::Rc::new(a);
        let (a1, l) = (a.clone(), log.clone());
        let waiter = green::spawn(move || {
            let r = green::io::wait_readable(&*a1, patience());
            l.push(format!("woken: {}", r.is_ok()));
        });
        green::yield_now();
        green::io::deregister(&*a); // before closing: the waiter retries
        waiter.join().unwrap();
    });
    assert_eq!(log.lines(), ["woken: true"]);
}

/// What the child of `an_fd_number_reused_after_a_deregister_elsewhere_is_watched`
/// does: a socket waited on in this hub is deregistered and closed on
/// another thread (as green-net's sockets are when dropped there), and a new
/// socket reuses its number.
fn reused_fd_scenario() {
    green::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let old = a.as_raw_fd();
        let writer = green::spawn(move || {
            green::yield_now();
            (&b).write_all(b"x").unwrap();
            b
        });
        assert_eq!(read_some(&a).unwrap(), b"x"); // waited: `old` is registered here
        let _b = writer.join().unwrap();
        std::thread::spawn(move || {
            green::io::deregister(&a); // reaches no hub on this thread
            drop(a);
        })
        .join()
        .unwrap();

        let (c, d) = UnixStream::pair().unwrap();
        c.set_nonblocking(true).unwrap();
        assert_eq!(c.as_raw_fd(), old, "the number is reused");
        let _writer = green::spawn(move || {
            green::sleep(Duration::from_millis(50));
            (&d).write_all(b"y").unwrap();
            green::sleep(Duration::from_secs(5)); // keeps `d` open
        });
        let start = Instant::now();
        let waited = green::io::wait_readable(&c, Some(start + Duration::from_secs(2)));
        eprintln!("waited {:?}: {waited:?}", start.elapsed());
        assert!(waited.is_ok(), "the new socket was never watched");
        assert_eq!(read_some(&c).unwrap(), b"y");
        green::io::deregister(&c);
    });
    eprintln!("done");
}

#[test]
fn an_fd_number_reused_after_a_deregister_elsewhere_is_watched() {
    let _w = util::watchdog();
    // Alone in a child process, so that no other test takes the number.
    util::in_child_ok(
        "an_fd_number_reused_after_a_deregister_elsewhere_is_watched",
        reused_fd_scenario,
        &["done"],
    );
}

/// What the child of `a_number_closed_without_deregister_stays_taken_until_deregistered`
/// does: a socket waited on is closed without `deregister` (breaking the
/// contract of `green::io`), and a new socket reuses its number. The hub's
/// entry still stands for the old file, so a wait on the new one is not
/// armed and times out, as the module docs say; a `deregister` of the
/// number clears the entry, and the next wait sees the new socket.
fn closed_without_deregister_scenario() {
    green::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let old = a.as_raw_fd();
        (&b).write_all(b"x").unwrap();
        green::io::wait_readable(&a, patience()).unwrap(); // registers `old`
        assert_eq!(read_some(&a).unwrap(), b"x");
        drop(a); // closed without deregister
        drop(b);

        let (c, d) = UnixStream::pair().unwrap();
        c.set_nonblocking(true).unwrap();
        assert_eq!(c.as_raw_fd(), old, "the number is reused");
        (&d).write_all(b"y").unwrap();
        let soon = Instant::now() + Duration::from_millis(100);
        let stale = green::io::wait_readable(&c, Some(soon));
        eprintln!("stale: {:?}", stale.map_err(|e| e.kind()));
        green::io::deregister(&c);
        let fresh = green::io::wait_readable(&c, patience());
        eprintln!("after deregister: {:?}", fresh.map_err(|e| e.kind()));
        assert_eq!(read_some(&c).unwrap(), b"y");
        green::io::deregister(&c);
    });
}

#[test]
fn a_number_closed_without_deregister_stays_taken_until_deregistered() {
    let _w = util::watchdog();
    // Alone in a child process, so that no other test takes the number.
    util::in_child_ok(
        "a_number_closed_without_deregister_stays_taken_until_deregistered",
        closed_without_deregister_scenario,
        &["stale: Err(TimedOut)", "after deregister: Ok(())"],
    );
}

#[test]
fn outside_run_a_wait_blocks_the_thread_in_poll() {
    let _w = util::watchdog();
    assert!(!green::is_running());
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        (&b).write_all(b"late").unwrap();
        b
    });
    green::io::wait_readable(&a, patience()).unwrap();
    // it blocked until the data was there
    let mut buf = [0; 8];
    assert_eq!((&a).read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"late");
    assert!(start.elapsed() >= Duration::from_millis(10));
    let _b = writer.join().unwrap();

    // deadlines work there too, and never early
    let deadline = Instant::now() + Duration::from_millis(10);
    let err = green::io::wait_readable(&a, Some(deadline)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(Instant::now() >= deadline);
    let err = green::io::wait_readable(&a, Some(Instant::now())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    // and an empty socket is writable at once
    green::io::wait_writable(&a, patience()).unwrap();
    // deregister outside run does nothing
    green::io::deregister(&a);
}

/// A regular file, or a device such as `/dev/null`, is always ready to
/// `poll(2)`, which the waits use outside `run`, and to gevent's loop
/// (libev treats epoll's `EPERM` for it so); epoll refuses it with `EPERM`.
/// Inside `run` the waits used to fail with that `PermissionDenied`: a retry
/// loop written for any fd failed inside `run` alone.
#[test]
fn a_file_epoll_cannot_watch_is_ready_as_poll_says_inside_run_too() {
    let _w = util::watchdog();
    let waits = || {
        let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .unwrap();
        let mut got = Vec::new();
        for fd in [file.as_fd(), null.as_fd()] {
            for _ in 0..2 {
                got.push(green::io::wait_readable(fd, patience()).map_err(|e| e.kind()));
                got.push(green::io::wait_writable(fd, patience()).map_err(|e| e.kind()));
            }
            green::io::deregister(fd);
        }
        got
    };
    let outside = waits();
    assert_eq!(outside, vec![Ok(()); 8]);
    assert_eq!(green::run(waits), outside, "inside run");
}

/// Waits until `s` has something to read (taking the readiness edge), then
/// reads it into a 64-byte buffer: a short read that drains the socket.
fn wait_and_read(mut s: &UnixStream) -> Vec<u8> {
    green::io::wait_readable(s, patience()).unwrap();
    let mut buf = [0; 64];
    let n = s.read(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn a_drained_mark_lasts_until_a_read_edge_whoever_takes_it() {
    let _w = util::watchdog();
    green::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        (&a).write_all(b"one").unwrap();
        assert_eq!(wait_and_read(&b), b"one");
        green::io::note_drained(&b);
        assert!(green::io::is_drained(&b));
        // The hub polls while this greenlet sleeps: nothing came.
        green::sleep(Duration::from_millis(5));
        assert!(green::io::is_drained(&b), "no edge, the mark stands");

        // Data that comes while nobody waits on `b`: its edge is a ready
        // bit, and the mark goes with it.
        let a = std::rc::Rc::new(a);
        let w = a.clone();
        let writer = green::spawn(move || (&*w).write_all(b"two").unwrap());
        green::sleep(Duration::from_millis(5));
        writer.join().unwrap();
        assert!(!green::io::is_drained(&b), "the edge took the mark");
        assert_eq!(wait_and_read(&b), b"two");

        // Data a wait of someone else's was woken by: the mark goes too.
        green::io::note_drained(&b);
        let b = std::rc::Rc::new(b);
        let r = b.clone();
        let other = green::spawn(move || green::io::wait_readable(&*r, patience()).unwrap());
        green::yield_now(); // `other` waits
        (&*a).write_all(b"three").unwrap();
        other.join().unwrap();
        assert!(!green::io::is_drained(&*b));
        green::io::deregister(&*b);
    });
}

#[test]
fn a_hang_up_or_urgent_data_turns_the_drained_mark_off() {
    let _w = util::watchdog();
    green::run(|| {
        // Data and the end of file in one edge: a read after the short one
        // must not wait, for no edge announces the end again.
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        (&a).write_all(b"last").unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(wait_and_read(&b), b"last");
        green::io::note_drained(&b);
        assert!(!green::io::is_drained(&b), "the hang-up was reported");
        green::io::deregister(&b);

        // TCP urgent data: a read stops short at its mark with data queued.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        b.set_nonblocking(true).unwrap();
        (&a).write_all(b"abc").unwrap();
        // SAFETY: sends one byte from a live buffer on an open socket.
        let sent = unsafe { libc::send(a.as_raw_fd(), b"!".as_ptr().cast(), 1, libc::MSG_OOB) };
        assert_eq!(sent, 1, "{}", io::Error::last_os_error());
        (&a).write_all(b"def").unwrap();
        green::sleep(Duration::from_millis(20)); // all of it arrives
        green::io::wait_readable(&b, patience()).unwrap();
        let mut buf = [0; 64];
        assert_eq!((&b).read(&mut buf).unwrap(), 3, "stops at the urgent mark");
        green::io::note_drained(&b);
        assert!(!green::io::is_drained(&b), "urgent data was reported");
        let n = (&b).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"def", "the rest was queued all along");
        green::io::deregister(&b);
    });
}

#[test]
fn a_drained_mark_is_forgotten_with_its_fd() {
    let _w = util::watchdog();
    green::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        (&a).write_all(b"x").unwrap();
        assert_eq!(wait_and_read(&b), b"x");
        green::io::note_drained(&b);
        green::io::deregister(&b);
        assert!(!green::io::is_drained(&b), "deregistered here");

        (&a).write_all(b"y").unwrap();
        assert_eq!(wait_and_read(&b), b"y");
        green::io::note_drained(&b);
        assert!(green::io::is_drained(&b));
        // Deregistered on another thread: the number may be another file's.
        std::thread::scope(|s| {
            s.spawn(|| green::io::deregister(&b));
        });
        assert!(!green::io::is_drained(&b), "deregistered elsewhere");
        green::io::deregister(&b);
    });
    // Outside `run` there is no mark.
    let (_a, b) = UnixStream::pair().unwrap();
    green::io::note_drained(&b);
    assert!(!green::io::is_drained(&b));
}
