//! A loop over `incoming()` that skips errors, as std's docs suggest, never
//! starves the hub: inside `green::run` an accept that fails lets the other
//! greenlets run before it returns the error (a short sleep when the
//! process is out of descriptors or memory, a yield otherwise), so the
//! greenlet that would close files, the timers and the IO all go on.

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use green_net::unix::UnixStream;
use green_net::TcpListener;

// green-core's test helpers (the watchdog, scenarios in a child process).
#[path = "../../green-core/tests/util/mod.rs"]
mod util;

/// Out of descriptors (`EMFILE`): the skipping loop recovers once another
/// greenlet frees some. In a child process, which lowers its limit.
#[test]
fn an_incoming_loop_that_skips_emfile_lets_the_hub_free_descriptors() {
    let _watchdog = util::watchdog();
    util::in_child_ok(
        "an_incoming_loop_that_skips_emfile_lets_the_hub_free_descriptors",
        || {
            let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
            let lim = libc::rlimit {
                rlim_cur: open + 16,
                rlim_max: open + 16,
            };
            // SAFETY: setrlimit only reads the struct.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
            let accepted = green::run(|| {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = l.local_addr().unwrap();
                let mut files = Vec::new();
                while let Ok(f) = std::fs::File::open("/dev/null") {
                    files.push(f);
                }
                files.pop(); // room for one client: its accept meets EMFILE
                let _client = std::net::TcpStream::connect(addr).unwrap();
                let errors = Rc::new(Cell::new(0));
                let e = errors.clone();
                let acceptor = green::spawn(move || {
                    for conn in l.incoming() {
                        match conn {
                            Ok(_) => return true,
                            Err(_) => e.set(e.get() + 1), // log and go on
                        }
                    }
                    false
                });
                green::sleep(Duration::from_millis(20));
                assert!(errors.get() > 0, "the acceptor met EMFILE");
                drop(files);
                acceptor.join().unwrap()
            });
            assert!(accepted);
        },
        &[],
    );
}

/// Any other accept error (here `EINVAL`, a socket that is not listening)
/// yields: a loop that skips it lets timers fire and IO complete.
#[test]
fn an_incoming_loop_that_skips_errors_lets_timers_and_io_run() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let l = TcpListener::from(std::net::TcpListener::from(socket)); // never listens

        let slept = Rc::new(Cell::new(false));
        let s = slept.clone();
        green::spawn(move || {
            green::sleep(Duration::from_millis(20));
            s.set(true);
        });
        let (mut a, b) = UnixStream::pair().unwrap();
        let read = Rc::new(Cell::new(false));
        let r = read.clone();
        green::spawn(move || {
            let mut buf = [0; 2];
            a.read_exact(&mut buf).unwrap();
            r.set(true);
        });
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            std::os::unix::net::UnixStream::from(b)
                .write_all(b"hi")
                .unwrap();
        });

        let start = Instant::now();
        let mut errors = 0;
        for conn in l.incoming() {
            match conn {
                Ok(_) => panic!("a socket that is not listening accepted"),
                Err(_) => errors += 1, // log and go on
            }
            if (slept.get() && read.get()) || start.elapsed() > Duration::from_secs(5) {
                break;
            }
        }
        writer.join().unwrap();
        assert!(
            slept.get(),
            "the timer fired while accept failed ({errors} errors)"
        );
        assert!(
            read.get(),
            "the read completed while accept failed ({errors} errors)"
        );
    });
}
