//! `green_std::thread`: inside `green::run` every wait parks the greenlet,
//! and what a program can observe (names, ids, panics) is std's.
#![allow(deprecated)] // sleep_ms, park_timeout_ms: deprecated, still std's

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use green_std::thread;

// green-core's test helpers (scenarios in a child process).
#[path = "../../green-core/tests/util/mod.rs"]
mod core_util;

/// Runs `f` on a thread of its own and returns its value; a hang fails the
/// test after 20 s instead of hanging it.
fn watchdog<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(v)) => v,
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("the test did not finish within 20 s"),
    }
}

/// Inside `run`: how many 10 ms ticks of a sibling greenlet's schedule
/// passed while `wait` ran, and in how many runs of the sibling (none if
/// `wait` blocks the hub; one run if it blocks it and yields at its end).
/// The sibling ticks at fixed times, every 10 ms from its start, and
/// catches up at once on the ticks it was run too late for, so a wait of
/// 300 ms counts about 30 ticks however loaded the machine is, if the hub
/// ran the sibling meanwhile.
fn ticks_during(wait: impl FnOnce()) -> (u32, u32) {
    let counts = Rc::new(Cell::new((0, 0)));
    let c = counts.clone();
    let ticker = green::spawn(move || {
        let start = Instant::now();
        loop {
            let (ticks, runs) = c.get();
            green::sleep_until(start + Duration::from_millis(10) * (ticks + 1));
            let late = (start.elapsed().as_millis() / 10) as u32;
            c.set((late.max(ticks + 1), runs + 1));
        }
    });
    green::yield_now();
    wait();
    let n = counts.get();
    ticker.kill();
    n
}

/// Whether the ticks of [`ticks_during`] say that the hub ran meanwhile.
fn hub_ran((ticks, runs): (u32, u32)) -> bool {
    ticks >= 10 && runs >= 2
}

#[test]
fn joining_an_os_thread_inside_run_parks() {
    let (ticks, payload) = watchdog(|| {
        // Its 300 ms start once the ticker runs, not before run.
        let (go, set_off) = mpsc::channel();
        let slow = thread::spawn(move || {
            set_off.recv().unwrap();
            std::thread::sleep(Duration::from_millis(300));
        });
        let failing = thread::spawn(|| panic!("os thread fails"));
        green::run(move || {
            let ticks = ticks_during(|| {
                go.send(()).unwrap();
                slow.join().unwrap();
            });
            let payload = failing.join().unwrap_err();
            (ticks, payload.downcast_ref::<&str>().copied())
        })
    });
    assert!(
        hub_ran(ticks),
        "hub blocked: {ticks:?} ticks (runs) in 300 ms"
    );
    assert_eq!(payload, Some("os thread fails"), "std's panic payload");
}

#[test]
fn joining_an_os_thread_inside_run_holds_no_pool_thread() {
    // With one pool thread, a greenlet that joins an OS thread must not
    // hold it while the thread runs: here the thread needs the pool itself
    // (it runs a hub of its own that offloads work), so a join that waited
    // on the pool deadlocked both.
    // The join still returns only once the thread is gone, as std's: after
    // its thread-local destructors.
    const TEST: &str = "joining_an_os_thread_inside_run_holds_no_pool_thread";
    static DESTROYED: AtomicBool = AtomicBool::new(false);
    struct Local;
    impl Drop for Local {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(50));
            DESTROYED.store(true, Ordering::SeqCst);
        }
    }
    thread_local!(static LOCAL: Local = const { Local });
    let out = core_util::in_child(TEST, &[("GREEN_BLOCKING_THREADS", "1")], || {
        let (go, wait) = mpsc::channel::<()>();
        let worker = thread::spawn(move || {
            LOCAL.with(|_| ());
            wait.recv().unwrap();
            green::run(|| green::unblock(|| 6 * 7))
        });
        let got = green::run(move || {
            let joiner = green::spawn(move || {
                let got = worker.join().unwrap();
                (got, DESTROYED.load(Ordering::SeqCst))
            });
            green::yield_now(); // the joiner waits in join
            go.send(()).unwrap();
            green::timeout(Duration::from_secs(10), || joiner.join().unwrap())
        });
        assert_eq!(got.ok(), Some((42, true)), "the join never returned");
    });
    assert!(out.status.success(), "{}", out.describe());
}

#[test]
fn sleep_ms_and_park_timeout_ms_inside_run_park() {
    let (slept, parked) = watchdog(|| {
        green::run(|| {
            let slept = ticks_during(|| thread::sleep_ms(300));
            let parked = ticks_during(|| thread::park_timeout_ms(300));
            (slept, parked)
        })
    });
    assert!(
        hub_ran(slept),
        "sleep_ms blocked the hub: {slept:?} ticks (runs) in 300 ms"
    );
    assert!(
        hub_ran(parked),
        "park_timeout_ms blocked the hub: {parked:?} ticks (runs) in 300 ms"
    );
}

#[test]
fn a_nul_in_a_name_panics_like_std() {
    fn panics(spawn: impl FnOnce()) -> Option<String> {
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(spawn)).err()?;
        payload.downcast_ref::<String>().cloned()
    }
    let std = panics(|| drop(std::thread::Builder::new().name("a\0b".into()).spawn(|| ())));
    let message = std.as_deref().unwrap_or_default();
    assert!(message.starts_with("thread name may not contain interior null bytes"));
    let spawn = || drop(thread::Builder::new().name("a\0b".into()).spawn(|| ()));
    let scoped = || {
        thread::scope(|s| {
            drop(
                thread::Builder::new()
                    .name("a\0b".into())
                    .spawn_scoped(s, || ()),
            )
        })
    };
    assert_eq!(panics(spawn), std, "spawn, outside run");
    assert_eq!(panics(scoped), std, "spawn_scoped, outside run");
    let inside = watchdog(move || green::run(move || (panics(spawn), panics(scoped))));
    assert_eq!(inside, (std.clone(), std), "inside run");
}

#[test]
fn the_main_greenlet_is_named_like_its_thread() {
    let names = |name: Option<&str>| {
        let mut b = std::thread::Builder::new();
        if let Some(name) = name {
            b = b.name(name.into());
        }
        let names = b.spawn(|| {
            let name = || thread::current().name().map(String::from);
            (name(), green::run(name))
        });
        names.unwrap().join().unwrap()
    };
    let (outside, inside) = watchdog(move || names(Some("worker-x")));
    assert_eq!(outside.as_deref(), Some("worker-x"));
    assert_eq!(inside, outside, "inside run");
    assert_eq!(
        watchdog(move || names(None)),
        (None, None),
        "an unnamed thread"
    );
    // Hub 0 runs on the calling thread and keeps its name.
    let hubs = green::Runtime::new().hubs(2).thread_name("hub");
    let names = hubs.run(|_| thread::current().name().map(String::from));
    let here = std::thread::current().name().map(String::from);
    assert_eq!(names, [here, Some("hub-1".into())], "a Runtime's hubs");
}

#[test]
fn distinct_thread_ids_print_differently() {
    let ids = watchdog(|| {
        green::Runtime::new()
            .hubs(2)
            .run(|_| thread::current().id())
    });
    assert_ne!(ids[0], ids[1]);
    assert_ne!(format!("{:?}", ids[0]), format!("{:?}", ids[1]));
    // Outside run, std's own output.
    let (std, ours) = (std::thread::current().id(), thread::current().id());
    assert_eq!(format!("{ours:?}"), format!("{std:?}"));
}

#[test]
fn builders_and_handles_print_as_std_s() {
    let std = std::thread::Builder::new()
        .name("x".into())
        .stack_size(1 << 16);
    let ours = thread::Builder::new().name("x".into()).stack_size(1 << 16);
    assert_eq!(format!("{ours:?}"), format!("{std:?}"), "Builder");
    assert_eq!(
        format!("{:?}", thread::Builder::new()),
        format!("{:?}", std::thread::Builder::new())
    );
    let std = format!("{:?}", std::thread::spawn(|| ()));
    let scoped_std = std::thread::scope(|s| format!("{:?}", s.spawn(|| ())));
    let handles = || {
        let spawned = format!("{:?}", thread::spawn(|| ()));
        let scoped = thread::scope(|s| format!("{:?}", s.spawn(|| ())));
        (spawned, scoped)
    };
    let want = (std, scoped_std);
    assert_eq!(handles(), want, "outside run");
    assert_eq!(watchdog(move || green::run(handles)), want, "inside run");
}
