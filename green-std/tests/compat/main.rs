//! The compatibility suite: programs written in plain std style, each
//! compiled twice from the same source — once with `sys` = `std`, once with
//! `sys` = `green_std` — and run both ways. The outputs must be equal, and
//! the green build must have run every "thread" on the test's own OS thread,
//! with as many alive at once as the program allows (1,000 for
//! `thousand_sleepers`).
//!
//! A program is a file in `programs/` with a `pub fn main() -> String`
//! whose output is deterministic under both builds. Thread bodies call
//! `crate::probe::task()`, which records the OS thread they run on and how
//! many are alive.

use std::sync::Mutex as StdMutex;

mod probe;

macro_rules! programs {
    ($($name:ident => min_alive: $min:expr),* $(,)?) => {
        mod with_std {
            $(pub mod $name {
                #[allow(unused_imports)]
                use std as sys;
                include!(concat!("programs/", stringify!($name), ".rs"));
            })*
        }
        mod with_green {
            $(pub mod $name {
                #[allow(unused_imports)]
                use green_std as sys;
                include!(concat!("programs/", stringify!($name), ".rs"));
            })*
        }
        $(
            #[test]
            fn $name() {
                compare(stringify!($name), with_std::$name::main, with_green::$name::main, $min);
            }
        )*
    };
}

programs! {
    echo_server => min_alive: 100,
    producer_consumer => min_alive: 7,
    mutex_counter => min_alive: 100,
    condvar_queue => min_alive: 1, // each worker drains the queue without switching
    barrier => min_alive: 50,
    park_unpark => min_alive: 2,
    thousand_sleepers => min_alive: 1000,
    scoped_slice => min_alive: 100,
    files => min_alive: 10, // a pool job that finishes before its greenlet parks skips the park
    child_process => min_alive: 20,
    once_cells => min_alive: 20, // all wait while an initializer sleeps
}

/// One program at a time: the probe is process-wide.
static SERIAL: StdMutex<()> = StdMutex::new(());

fn compare(name: &str, std_main: fn() -> String, green_main: fn() -> String, min_alive: usize) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());

    probe::reset();
    let with_std = std_main();
    let std_probe = probe::take();

    probe::reset();
    let with_green = green::run(green_main);
    let green_probe = probe::take();

    assert_eq!(with_std, with_green, "{name}: the two builds disagree");
    assert!(!with_std.is_empty(), "{name}: no output");
    assert!(
        std_probe.os_threads > 1,
        "{name}: the std build should use OS threads"
    );
    assert_eq!(
        green_probe.os_threads, 1,
        "{name}: the green build left the hub's thread"
    );
    assert!(
        green_probe.on_caller,
        "{name}: the green build ran its tasks on another thread"
    );
    assert!(
        green_probe.max_alive >= min_alive,
        "{name}: only {} tasks alive at once in the green build, expected {min_alive}",
        green_probe.max_alive
    );
}
