//! Panics are contained: a panicking greenlet is reported once, by name,
//! and its payload goes to `join`; the hub and the other greenlets carry on.
//! A panic of the main greenlet comes out of `run`.

mod util;

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use util::{Drops, Log};

#[test]
fn a_panicking_greenlet_does_not_take_the_hub_down() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let before = green::spawn(move || {
            l.push("neighbour starts");
            // still yielding when the panic has been seen: bad panics in
            // the second iteration, main runs in the fourth
            for _ in 0..3 {
                green::yield_now();
            }
            l.push("neighbour ends");
            "neighbour"
        });
        let l = log.clone();
        let bad = green::spawn(move || -> u32 {
            l.push("bad starts");
            green::yield_now();
            panic!("bad greenlet");
        });
        let err = bad.join().unwrap_err();
        assert!(err.is_panic());
        assert!(!err.is_killed());
        assert_eq!(
            *err.into_panic().downcast::<&str>().unwrap(),
            "bad greenlet"
        );
        log.push("main saw the panic");
        assert_eq!(before.join().unwrap(), "neighbour");
        // the hub still works
        assert_eq!(green::spawn(|| 5).join().unwrap(), 5);
    });
    assert_eq!(
        log.lines(),
        [
            "neighbour starts",
            "bad starts",
            "main saw the panic",
            "neighbour ends"
        ]
    );
}

#[test]
fn payloads_of_every_type_reach_join() {
    let _w = util::watchdog();
    green::run(|| {
        let n = std::hint::black_box(7);
        let s = green::spawn(move || -> () { panic!("formatted {n}") });
        let n = green::spawn(|| -> () { panic::panic_any(42i64) });
        #[derive(Debug, PartialEq)]
        struct Custom(&'static str);
        let c = green::spawn(|| -> () { panic::panic_any(Custom("custom")) });
        let p = s.join().unwrap_err().into_panic();
        assert_eq!(p.downcast_ref::<String>().unwrap(), "formatted 7");
        let p = n.join().unwrap_err().into_panic();
        assert_eq!(*p.downcast::<i64>().unwrap(), 42);
        let p = c.join().unwrap_err().into_panic();
        assert_eq!(*p.downcast::<Custom>().unwrap(), Custom("custom"));
    });
}

#[test]
fn a_panicking_greenlet_unwinds_and_wakes_its_joiner() {
    let _w = util::watchdog();
    let drops = Drops::new();
    green::run(|| {
        let d = drops.clone();
        let bad = green::spawn(move || {
            let _guard = d.guard();
            green::sleep(Duration::from_millis(1));
            panic!("after a sleep");
        });
        // another greenlet waits for it in join
        let joiner = green::spawn(move || bad.join().unwrap_err().is_panic());
        assert!(joiner.join().unwrap());
    });
    assert_eq!(drops.count(), 1);
}

#[test]
fn a_panic_can_be_passed_on_with_resume_unwind() {
    let _w = util::watchdog();
    let payload = panic::catch_unwind(|| {
        green::run(|| {
            let h = green::spawn(|| -> () { panic!("passed on") });
            if let Err(e) = h.join() {
                panic::resume_unwind(e.into_panic());
            }
        })
    })
    .unwrap_err();
    assert_eq!(util::panic_message(&*payload), "passed on");
}

#[test]
fn a_panic_in_the_main_greenlet_leaves_run_as_a_panic() {
    let _w = util::watchdog();
    let drops = Drops::new();
    let log = Log::new();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        green::run(|| {
            for _ in 0..3 {
                let d = drops.clone();
                green::spawn(move || {
                    let _guard = d.guard();
                    green::sleep(Duration::from_secs(3600));
                });
            }
            green::yield_now();
            log.push("main panics");
            panic!("main greenlet fails: {}", 7);
        })
    }));
    let payload = result.unwrap_err();
    assert_eq!(util::panic_message(&*payload), "main greenlet fails: 7");
    // the others were killed (unwound) before the panic left run
    assert_eq!(drops.count(), 3);
    assert_eq!(log.lines(), ["main panics"]);
    assert!(!green::is_running());
    // the thread can run a hub again
    assert_eq!(green::run(|| green::spawn(|| 1).join().unwrap()), 1);
}

#[test]
fn main_can_catch_its_own_panic_and_go_on() {
    let _w = util::watchdog();
    let v = green::run(|| {
        let caught = panic::catch_unwind(|| {
            green::yield_now();
            panic!("caught in main")
        });
        assert_eq!(util::panic_message(&*caught.unwrap_err()), "caught in main");
        green::spawn(|| 3).join().unwrap()
    });
    assert_eq!(v, 3);
}

/// What the child of `a_greenlet_panic_is_reported_once_by_name` does.
fn report_scenario() {
    green::run(|| {
        let named = green::Builder::new()
            .name("worker".into())
            .spawn(|| -> () { panic!("boom from the worker") })
            .unwrap();
        let unnamed = green::spawn(|| -> () {
            green::yield_now();
            panic!("boom without a name")
        });
        // kills are quiet: this one must not show up at all
        let killed = green::Builder::new()
            .name("killed quietly".into())
            .spawn(|| green::sleep(Duration::from_secs(3600)))
            .unwrap();
        green::yield_now();
        killed.kill();
        assert!(named.join().unwrap_err().is_panic());
        assert!(unnamed.join().unwrap_err().is_panic());
        assert!(killed.join().unwrap_err().is_killed());
        // left alive at the end of run: killed, quietly too
        green::spawn(|| green::sleep(Duration::from_secs(3600)));
        green::yield_now();
        eprintln!("scenario done");
    });
}

#[test]
fn a_greenlet_panic_is_reported_once_by_name() {
    let _w = util::watchdog();
    let out = util::in_child_ok(
        "a_greenlet_panic_is_reported_once_by_name",
        report_scenario,
        &["scenario done"],
    );
    let err = &out.stderr;
    // `greenlet <Greenlet 1 "worker"> (thread '…') panicked at file:line:col:`
    // then the message on the next line
    let named = err
        .lines()
        .position(|l| l.starts_with(r#"greenlet <Greenlet 1 "worker"> (thread '"#))
        .unwrap_or_else(|| panic!("no report naming the worker\n{}", out.describe()));
    let header = err.lines().nth(named).unwrap();
    assert!(
        header.contains("panicked at") && header.contains("panic.rs"),
        "{header}"
    );
    assert_eq!(
        err.lines().nth(named + 1),
        Some("boom from the worker"),
        "{}",
        out.describe()
    );
    assert!(
        err.contains("greenlet <Greenlet 2> (thread '"),
        "{}",
        out.describe()
    );
    // once each, and nothing about the kills
    assert_eq!(err.matches("boom from the worker").count(), 1, "{err}");
    assert_eq!(err.matches("boom without a name").count(), 1, "{err}");
    assert_eq!(err.matches("panicked").count(), 2, "{err}");
    assert!(!err.contains("killed quietly"), "{err}");
    assert!(!err.contains("<Greenlet 3"), "{err}");
    assert!(!err.contains("<Greenlet 4"), "{err}");
}

/// Panics when dropped, as a greenlet-local value.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("a greenlet-local destructor panicked");
    }
}

green::local!(static BOMB: std::cell::RefCell<Option<Bomb>> = std::cell::RefCell::new(None));

#[test]
fn a_panicking_greenlet_local_destructor_is_the_greenlets_panic() {
    let _w = util::watchdog();
    let value = green::run(|| {
        let bomber = green::spawn(|| {
            BOMB.with(|b| *b.borrow_mut() = Some(Bomb));
            "returned"
        });
        let err = bomber.join().unwrap_err();
        assert!(err.is_panic());
        assert_eq!(
            util::panic_message(&*err.into_panic()),
            "a greenlet-local destructor panicked"
        );
        // a body that panicked itself keeps its own payload
        let both = green::spawn(|| -> () {
            BOMB.with(|b| *b.borrow_mut() = Some(Bomb));
            panic!("the body panicked first");
        });
        let err = both.join().unwrap_err();
        assert_eq!(
            util::panic_message(&*err.into_panic()),
            "the body panicked first"
        );
        assert_eq!(green::spawn(|| 5).join().unwrap(), 5); // the hub goes on
        "run returned"
    });
    assert_eq!(value, "run returned");
}

#[test]
fn a_panicking_greenlet_local_destructor_of_main_comes_out_of_run() {
    let _w = util::watchdog();
    let msg = util::panic_of(|| {
        green::run(|| {
            BOMB.with(|b| *b.borrow_mut() = Some(Bomb));
        })
    });
    assert_eq!(msg, "a greenlet-local destructor panicked");
    // main's own panic wins over its locals'
    let msg = util::panic_of(|| {
        green::run(|| {
            BOMB.with(|b| *b.borrow_mut() = Some(Bomb));
            panic!("main panicked first");
        })
    });
    assert_eq!(msg, "main panicked first");
}

#[test]
fn a_panicking_greenlet_local_destructor_of_a_scoped_greenlet_is_reported_by_the_scope() {
    let _w = util::watchdog();
    green::run(|| {
        let msg = util::panic_of(|| {
            green::scope(|s| {
                s.spawn(|| BOMB.with(|b| *b.borrow_mut() = Some(Bomb)));
            })
        });
        assert_eq!(msg, "a scoped greenlet panicked");
    });
}

/// What the child of
/// `a_panicking_greenlet_local_destructor_leaves_the_scoped_greenlets_be` does:
/// the reviewer's scenario, where the escaping panic unwound the hub with a
/// scope owner suspended and its child not started.
fn local_destructor_with_a_scope_scenario() {
    let value = green::run(|| {
        let owner = green::spawn(|| {
            let arr = [7u64; 64];
            green::scope(|s| {
                let reads = util::ReadsOnDrop(&arr);
                drop(s.spawn(move || drop(reads)));
                green::yield_now();
            });
        });
        let bomber = green::spawn(|| BOMB.with(|b| *b.borrow_mut() = Some(Bomb)));
        green::yield_now();
        green::yield_now();
        assert!(bomber.join().unwrap_err().is_panic());
        owner.join().unwrap();
        "run returned"
    });
    eprintln!("{value}");
}

#[test]
fn a_panicking_greenlet_local_destructor_leaves_the_scoped_greenlets_be() {
    let _w = util::watchdog();
    util::in_child_ok(
        "a_panicking_greenlet_local_destructor_leaves_the_scoped_greenlets_be",
        local_destructor_with_a_scope_scenario,
        &["the borrowed array reads 448\n", "run returned"],
    );
}
