//! Misuse panics with a message that says what to do: `run` inside `run`,
//! and the greenlet API outside `run`; and what a program did to its own
//! process before `run` (a closed stdout) does not trip the hub.

mod util;

use std::time::{Duration, Instant};

/// What the API says outside `run` (hub/mod.rs `outside_run`).
const OUTSIDE: &str = "green: this function must be called from a greenlet, inside green::run; \
                       wrap your program in `green::run(|| ...)`";

#[test]
fn run_inside_run_panics_and_says_what_to_do() {
    let _w = util::watchdog();
    let v = green::run(|| {
        let msg = util::panic_of(|| green::run(|| ()));
        assert!(
            msg.contains("green::run called inside green::run: a thread has one hub"),
            "{msg}"
        );
        assert!(
            msg.contains("spawn a greenlet with green::spawn instead"),
            "{msg}"
        );
        assert!(
            msg.contains("call green::run from another OS thread"),
            "{msg}"
        );
        // from a spawned greenlet too
        let h = green::spawn(|| util::panic_of(|| green::run(|| ())));
        assert!(h.join().unwrap().contains("inside green::run"));
        // the outer hub is unharmed
        green::spawn(|| 7).join().unwrap()
    });
    assert_eq!(v, 7);
}

#[test]
fn the_greenlet_api_outside_run_panics_and_says_what_to_do() {
    let _w = util::watchdog();
    let cases: Vec<(&str, String)> = vec![
        ("spawn", util::panic_of(|| green::spawn(|| ()))),
        (
            "spawn_later",
            util::panic_of(|| green::spawn_later(Duration::from_millis(1), || ())),
        ),
        (
            "Builder::spawn",
            util::panic_of(|| green::Builder::new().spawn(|| ())),
        ),
        ("current", util::panic_of(green::current)),
        ("yield_now", util::panic_of(green::yield_now)),
        (
            "sleep",
            util::panic_of(|| green::sleep(Duration::from_millis(1))),
        ),
        ("sleep(0)", util::panic_of(|| green::sleep(Duration::ZERO))),
        (
            "sleep_until",
            util::panic_of(|| green::sleep_until(Instant::now() + Duration::from_millis(1))),
        ),
        ("park", util::panic_of(green::park)),
        (
            "park_timeout",
            util::panic_of(|| green::park_timeout(Duration::from_millis(1))),
        ),
    ];
    for (what, msg) in cases {
        assert!(msg.starts_with(OUTSIDE), "{what}: {msg:?}");
        assert!(msg.contains("green::run"), "{what}: {msg:?}");
    }
    assert!(!green::is_running());
}

#[test]
fn joining_an_unfinished_greenlet_outside_run_is_impossible() {
    let _w = util::watchdog();
    // a handle that escapes run belongs to a finished greenlet: run killed
    // whatever was still alive, so join outside run never has to wait
    let h = green::run(|| green::spawn(|| green::sleep(Duration::from_secs(3600))));
    assert!(h.is_finished());
    assert!(h.join().unwrap_err().is_killed());
}

#[test]
fn the_threads_own_hub_is_gone_after_a_panic_in_run() {
    let _w = util::watchdog();
    let _ = util::panic_of(|| green::run(|| panic!("first run fails")));
    assert!(!green::is_running());
    let msg = util::panic_of(green::current);
    assert!(msg.starts_with(OUTSIDE), "{msg}");
    assert_eq!(green::run(|| 1), 1);
}

/// A program that closed its stdout before `run` (a daemon, say): the
/// hub's own descriptors must not take the free number 1, or std's
/// `println!` (which takes `EBADF` on a closed stdout as success, and
/// prints nothing) writes to the hub's epoll instance and panics.
#[test]
fn a_closed_stdout_stays_closed_inside_run() {
    let _w = util::watchdog();
    util::in_child_ok(
        "a_closed_stdout_stays_closed_inside_run",
        || {
            // SAFETY: fd 1 is the process's stdout, owned by no Rust value
            // (std's handle writes to the number, and takes EBADF as
            // success); nothing else opens a file meanwhile.
            assert_eq!(unsafe { libc::close(1) }, 0);
            green::run(|| {
                println!("discarded, as std discards it");
                green::sleep(Duration::from_millis(1)); // the poller works
                println!("discarded too");
            });
            eprintln!("ran with stdout closed");
        },
        &["ran with stdout closed"],
    );
}
