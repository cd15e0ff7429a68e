//! The blocking detector (gevent's monitor thread): with a max blocking
//! time set, a greenlet that keeps its hub from switching for longer is
//! reported on stderr, once per episode, naming the greenlet and the hub's
//! thread; waiting the green way never is. The setting is process-wide, so
//! each scenario runs in a child process with `GREEN_MAX_BLOCKING_TIME`.
//! The scenarios that expect no report use 100 ms, twice the others': a
//! hub thread the OS leaves unscheduled mid-batch for that long (a loaded
//! CI machine) would be reported, rightly, but fail them.

mod util;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// What every report says.
const REPORT: &str = "has blocked the hub of thread";

fn reports(stderr: &str) -> usize {
    stderr.matches(REPORT).count()
}

/// Runs `green::run(f)` on a thread named `name`.
fn run_on_thread(name: &str, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || green::run(f))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_greenlet_that_blocks_its_thread_is_reported_once() {
    let _watchdog = util::watchdog();
    let test = "a_greenlet_that_blocks_its_thread_is_reported_once";
    let out = util::in_child(test, &[("GREEN_MAX_BLOCKING_TIME", "50")], || {
        run_on_thread("hub", || {
            let stuck = green::Builder::new()
                .name("stuck".into())
                .spawn(|| std::thread::sleep(Duration::from_millis(400)))
                .unwrap();
            stuck.join().unwrap();
        });
    });
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(reports(&out.stderr), 1, "{}", out.describe());
    for expected in [
        "green: greenlet <Greenlet 1 \"stuck\"> has blocked the hub of thread 'hub' for ",
        "(more than the 50 ms max blocking time)",
        "green::unblock",
        // The end of the episode, said by the monitor or by the hub as it
        // ends.
        "green: the hub of thread 'hub' runs again: greenlet <Greenlet 1 \"stuck\"> blocked it for ",
    ] {
        assert!(out.stderr.contains(expected), "no {expected:?}\n{}", out.describe());
    }
}

/// The child ran to its end ("ran" on stdout) and reported nothing.
fn ran_without_a_report(out: &util::ChildOutput) {
    assert!(
        out.status.success() && out.stdout.contains("ran"),
        "{}",
        out.describe()
    );
    assert_eq!(reports(&out.stderr), 0, "{}", out.describe());
}

#[test]
fn greenlets_that_sleep_and_do_green_io_are_not_reported() {
    let _watchdog = util::watchdog();
    let test = "greenlets_that_sleep_and_do_green_io_are_not_reported";
    let out = util::in_child(test, &[("GREEN_MAX_BLOCKING_TIME", "100")], || {
        green::run(|| {
            let end = Instant::now() + Duration::from_millis(400);
            let (mut a, mut b) = UnixStream::pair().unwrap();
            b.set_nonblocking(true).unwrap();
            let sleepers: Vec<_> = (1..=3u64)
                .map(|i| {
                    green::spawn(move || {
                        while Instant::now() < end {
                            green::sleep(Duration::from_millis(7 * i));
                        }
                    })
                })
                .collect();
            // A byte every 30 ms, read by a greenlet that waits for it.
            let writer = green::spawn(move || {
                while Instant::now() < end {
                    a.write_all(b"x").unwrap();
                    green::sleep(Duration::from_millis(30));
                }
            });
            let reader = green::spawn(move || {
                let mut got = 0;
                let mut buf = [0; 16];
                loop {
                    match b.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            green::io::wait_readable(&b, None).unwrap();
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                green::io::deregister(&b);
                got
            });
            green::joinall(sleepers);
            writer.join().unwrap();
            assert!(reader.join().unwrap() > 0);
        });
        println!("ran");
    });
    ran_without_a_report(&out);
}

#[test]
fn a_hub_idle_in_its_poller_is_not_reported() {
    let _watchdog = util::watchdog();
    let test = "a_hub_idle_in_its_poller_is_not_reported";
    let out = util::in_child(test, &[("GREEN_MAX_BLOCKING_TIME", "100")], || {
        green::run(|| green::sleep(Duration::from_millis(300)));
        println!("ran");
    });
    ran_without_a_report(&out);
}

#[test]
fn the_report_names_the_thread_of_the_blocked_hub() {
    let _watchdog = util::watchdog();
    let test = "the_report_names_the_thread_of_the_blocked_hub";
    let out = util::in_child(test, &[("GREEN_MAX_BLOCKING_TIME", "50")], || {
        let run = || {
            green::Runtime::new()
                .hubs(2)
                .thread_name("worker")
                .run(|hub| match hub {
                    1 => std::thread::sleep(Duration::from_millis(400)),
                    _ => green::sleep(Duration::from_millis(400)),
                })
        };
        std::thread::Builder::new()
            .name("first".into())
            .spawn(run)
            .unwrap()
            .join()
            .unwrap();
    });
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(reports(&out.stderr), 1, "{}", out.describe());
    // Hub 1's main greenlet is named like its thread.
    let expected = "greenlet <Greenlet 0 \"worker-1\"> has blocked the hub of thread 'worker-1'";
    assert!(out.stderr.contains(expected), "{}", out.describe());
    assert!(!out.stderr.contains("'first'"), "{}", out.describe());
}

#[test]
fn the_setting_made_in_code_turns_the_detector_on_and_off() {
    let _watchdog = util::watchdog();
    let test = "the_setting_made_in_code_turns_the_detector_on_and_off";
    let out = util::in_child(test, &[], || {
        assert_eq!(green::max_blocking_time(), None, "off by default");
        green::set_max_blocking_time(Some(Duration::from_millis(50)));
        run_on_thread("watched", || std::thread::sleep(Duration::from_millis(300)));
        // Off again: a hub watched since it started is silenced too.
        run_on_thread("silenced", || {
            green::set_max_blocking_time(None);
            std::thread::sleep(Duration::from_millis(300));
        });
        run_on_thread("unwatched", || {
            std::thread::sleep(Duration::from_millis(300))
        });
    });
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(reports(&out.stderr), 1, "{}", out.describe());
    assert!(
        out.stderr.contains("of thread 'watched' for"),
        "{}",
        out.describe()
    );
}

#[test]
fn a_max_blocking_time_that_is_not_a_number_is_a_clear_panic() {
    let _watchdog = util::watchdog();
    let test = "a_max_blocking_time_that_is_not_a_number_is_a_clear_panic";
    for (value, shown) in [
        ("soon", r#"GREEN_MAX_BLOCKING_TIME="soon""#),
        ("0.1", r#"GREEN_MAX_BLOCKING_TIME="0.1""#),
        ("0", r#"GREEN_MAX_BLOCKING_TIME="0""#),
    ] {
        let out = util::in_child(test, &[("GREEN_MAX_BLOCKING_TIME", value)], || {
            green::run(|| ());
            println!("ran");
        });
        assert!(!out.status.success(), "{value}: {}", out.describe());
        assert!(
            out.stderr.contains(shown) && out.stderr.contains("is not a number of milliseconds"),
            "{value}: {}",
            out.describe()
        );
    }
    // Empty means unset, as for green's other variables.
    let out = util::in_child(test, &[("GREEN_MAX_BLOCKING_TIME", "")], || {
        green::run(|| ());
        assert_eq!(green::max_blocking_time(), None);
        println!("ran");
    });
    assert!(
        out.status.success() && out.stdout.contains("ran"),
        "{}",
        out.describe()
    );
}

/// The body of the greenlet of
/// [`the_blocked_greenlet_s_stack_is_printed_from_its_next_switch`]: blocks
/// the thread, then switches.
#[inline(never)]
fn handler_that_blocks_the_hub() {
    std::thread::sleep(Duration::from_millis(300));
    green::yield_now();
    std::hint::black_box(());
}

/// gevent's monitor prints the blocked greenlet's stack. The monitor
/// cannot take another thread's, so the hub takes it at the greenlet's
/// first switch after the report: the function that made the blocking call
/// is on it, with its callers.
#[test]
fn the_blocked_greenlet_s_stack_is_printed_from_its_next_switch() {
    let _watchdog = util::watchdog();
    let test = "the_blocked_greenlet_s_stack_is_printed_from_its_next_switch";
    let out = util::in_child(test, &[("GREEN_MAX_BLOCKING_TIME", "50")], || {
        run_on_thread("hub", || {
            let other = green::spawn(|| {
                for _ in 0..3 {
                    green::yield_now();
                }
            });
            green::Builder::new()
                .name("stuck".into())
                .spawn(handler_that_blocks_the_hub)
                .unwrap()
                .join()
                .unwrap();
            other.join().unwrap();
        });
    });
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(reports(&out.stderr), 1, "{}", out.describe());
    let trace = out
        .stderr
        .split("green: greenlet <Greenlet 2 \"stuck\">, reported blocking the hub of thread 'hub', went on from here (its first switch after the report):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no trace\n{}", out.describe()));
    assert!(
        trace.contains("handler_that_blocks_the_hub"),
        "the trace does not name the blocking function\n{}",
        out.describe()
    );
    // Taken on the greenlet's stack, at the green call it made next; the
    // hub's own frames and the greenlet's start are left out.
    assert!(trace.contains("yield_now"), "{}", out.describe());
    for internal in [
        "green::hub::",
        "green::monitor::",
        "green::coroutine::enter",
    ] {
        assert!(!trace.contains(internal), "{internal}\n{}", out.describe());
    }
}

/// A greenlet that blocks its hub and ends without another switch leaves
/// no trace, and one whose stack is too small to take it safely is not
/// traced: the reports come all the same.
#[test]
fn no_trace_is_taken_from_a_small_stack() {
    let _watchdog = util::watchdog();
    let test = "no_trace_is_taken_from_a_small_stack";
    let out = util::in_child(test, &[("GREEN_MAX_BLOCKING_TIME", "50")], || {
        run_on_thread("hub", || {
            green::Builder::new()
                .name("small".into())
                .stack_size(16 * 1024)
                .spawn(handler_that_blocks_the_hub)
                .unwrap()
                .join()
                .unwrap();
            green::spawn(|| std::thread::sleep(Duration::from_millis(300)))
                .join()
                .unwrap();
        });
    });
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(reports(&out.stderr), 2, "{}", out.describe());
    assert!(
        !out.stderr.contains("went on from here"),
        "{}",
        out.describe()
    );
}

/// Recurses until `used` bytes of the greenlet's stack below `top` are in
/// use, then blocks the hub and switches from there.
#[inline(never)]
fn block_and_switch_deep(top: usize, used: usize) {
    let frame = [0u8; 512];
    let here = std::hint::black_box(&frame).as_ptr() as usize;
    if top - here < used {
        block_and_switch_deep(top, used);
    } else {
        handler_that_blocks_the_hub();
    }
    std::hint::black_box(&frame);
}

/// A greenlet deep in a stack large enough to be traced switches with
/// too little of it left to take a trace on: none is taken, and the
/// program goes on as it does unwatched (it overflowed its 64 KiB stack
/// with 6 KiB left, debug and release, when the size alone was checked).
#[test]
fn no_trace_is_taken_with_little_stack_left() {
    let _watchdog = util::watchdog();
    let test = "no_trace_is_taken_with_little_stack_left";
    let out = util::in_child(test, &[("GREEN_MAX_BLOCKING_TIME", "50")], || {
        run_on_thread("hub", || {
            green::Builder::new()
                .name("deep".into())
                .stack_size(64 * 1024)
                .spawn(|| {
                    let top = 0u8;
                    let top = std::hint::black_box(&top) as *const u8 as usize;
                    block_and_switch_deep(top, 58 * 1024);
                })
                .unwrap()
                .join()
                .unwrap();
        });
    });
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(reports(&out.stderr), 1, "{}", out.describe());
    assert!(
        !out.stderr.contains("went on from here"),
        "{}",
        out.describe()
    );
}
