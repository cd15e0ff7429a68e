//! `green_std::sync::{Once, OnceLock, LazyLock}`: an initializer that
//! switches greenlets (it sleeps, reads a file) while others of its hub
//! reach the same cell; std's types block the hub's thread there for ever.

use std::time::Duration;

use green_std::sync::{LazyLock, Once, OnceLock};
use green_std::{fs, thread};

// green-core's test helpers (the watchdog: a hang aborts the test binary
// after its limit, naming the test, instead of hanging CI).
#[path = "../../green-core/tests/util/mod.rs"]
mod core_util;

/// A file for the initializers to read, through `green_std::fs` (so
/// through `green::unblock`: the reading greenlet parks).
fn config_file(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("green-sync-once-{}-{name}", std::process::id()));
    std::fs::write(&path, "port=80\n").unwrap();
    path
}

#[test]
fn a_lazy_lock_whose_initializer_reads_a_file_serves_two_greenlets() {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    static CONFIG: LazyLock<String> = LazyLock::new(|| {
        let text = fs::read_to_string(PATH.get().unwrap()).unwrap();
        thread::sleep(Duration::from_millis(20));
        text.trim().to_string()
    });
    PATH.set(config_file("lazy")).unwrap();
    let _w = core_util::watchdog();
    let got = green::run(|| {
        let handlers: Vec<_> = (0..2).map(|_| thread::spawn(|| CONFIG.clone())).collect();
        handlers
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(got, ["port=80", "port=80"]);
    let _ = std::fs::remove_file(PATH.get().unwrap());
}

#[test]
fn a_once_lock_whose_initializer_sleeps_serves_two_greenlets() {
    static CELL: OnceLock<u32> = OnceLock::new();
    let _w = core_util::watchdog();
    let got = green::run(|| {
        let init = || {
            *CELL.get_or_init(|| {
                thread::sleep(Duration::from_millis(20));
                7
            })
        };
        let a = thread::spawn(init);
        let b = thread::spawn(init);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(got, (7, 7));
}

#[test]
fn a_once_whose_closure_yields_serves_two_greenlets() {
    static INIT: Once = Once::new();
    let _w = core_util::watchdog();
    green::run(|| {
        let a = thread::spawn(|| INIT.call_once(thread::yield_now));
        let b = thread::spawn(|| INIT.call_once(|| unreachable!("a runs it")));
        a.join().unwrap();
        b.join().unwrap();
    });
    assert!(INIT.is_completed());
}

#[test]
fn every_once_name_of_std_sync_is_green_s() {
    // Each line compiles only if green_std's name is green's type, not
    // std's (the `std::sync::*` glob would otherwise provide it).
    #[allow(deprecated)]
    static OLD: green::sync::Once = green_std::sync::ONCE_INIT;
    let once: green::sync::Once = green_std::sync::Once::new();
    let cell: green::sync::OnceLock<u8> = green_std::sync::OnceLock::new();
    let lazy: green::sync::LazyLock<u8> = green_std::sync::LazyLock::new(|| 1);
    once.call_once_force(|state: &green_std::sync::OnceState| {
        let _: &green::sync::OnceState = state;
    });
    OLD.call_once(|| {});
    assert!(once.is_completed() && OLD.is_completed());
    assert_eq!((cell.get_or_init(|| 2), *lazy), (&2, 1));
}
