//! The order in which greenlets run: a FIFO run queue, one batch per hub
//! iteration (see `src/hub/ready.rs`), so programs without IO or timers run
//! the same way every time. Also greenlet identity: ids, names, `Debug`.

mod util;

use std::cell::Cell;
use std::rc::Rc;

use util::Log;

#[test]
fn a_spawned_greenlet_waits_until_its_parent_switches() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let child = green::spawn(move || l.push("child"));
        log.push("parent after spawn");
        assert!(
            !child.is_finished(),
            "the child ran before the parent switched"
        );
        green::yield_now();
        log.push("parent after yield");
        assert!(child.is_finished());
    });
    assert_eq!(
        log.lines(),
        ["parent after spawn", "child", "parent after yield"]
    );
}

#[test]
fn greenlets_run_in_spawn_order_and_the_yielder_goes_last() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        for name in ["a", "b", "c"] {
            let l = log.clone();
            green::spawn(move || l.push(name));
        }
        green::yield_now();
        log.push("main");
    });
    assert_eq!(log.lines(), ["a", "b", "c", "main"]);
}

#[test]
fn yielding_greenlets_alternate() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let handles: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let l = log.clone();
                green::spawn(move || {
                    for i in 0..3 {
                        l.push(format!("{name}{i}"));
                        green::yield_now();
                    }
                })
            })
            .collect();
        green::joinall(handles);
    });
    assert_eq!(log.lines(), ["a0", "b0", "a1", "b1", "a2", "b2"]);
}

#[test]
fn greenlets_made_ready_during_an_iteration_run_in_the_next_one() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let a = green::spawn(move || {
            l.push("a");
            let l2 = l.clone();
            // queued behind b and main, who were ready before it
            green::spawn(move || l2.push("c (spawned by a)"));
        });
        let l = log.clone();
        let b = green::spawn(move || l.push("b"));
        green::yield_now();
        log.push("main");
        green::yield_now();
        log.push("main again");
        a.join().unwrap();
        b.join().unwrap();
    });
    assert_eq!(
        log.lines(),
        ["a", "b", "main", "c (spawned by a)", "main again"]
    );
}

#[test]
fn an_unparked_greenlet_goes_to_the_back_of_the_queue() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let sleeper = green::spawn(move || {
            l.push("parker parks");
            green::park();
            l.push("parker woken");
        });
        green::yield_now(); // let it park
        let l = log.clone();
        let other = green::spawn(move || l.push("other"));
        sleeper.greenlet().unpark(); // queued after `other`
        log.push("main unparked");
        green::yield_now();
        log.push("main");
        sleeper.join().unwrap();
        other.join().unwrap();
    });
    assert_eq!(
        log.lines(),
        [
            "parker parks",
            "main unparked",
            "other",
            "parker woken",
            "main"
        ]
    );
}

#[test]
fn an_unpark_before_park_makes_park_return_at_once() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let other = green::spawn(move || l.push("other"));
        green::current().unpark();
        green::park(); // consumes the token: no switch
        log.push("main parked and returned");
        assert!(!other.is_finished());
        other.join().unwrap();
        // the token was used up: a timed park now really waits
        green::park_timeout(std::time::Duration::from_millis(1));
    });
    assert_eq!(log.lines(), ["main parked and returned", "other"]);
}

/// A mix of spawns, yields, joins and wake-ups, run twice: same trace.
#[test]
fn the_same_program_runs_the_same_way_every_time() {
    let _w = util::watchdog();
    fn program() -> Vec<String> {
        let log = Log::new();
        green::run(|| {
            let handles: Vec<_> = (0..5)
                .map(|i| {
                    let l = log.clone();
                    green::spawn(move || {
                        for step in 0..i {
                            l.push(format!("{i}.{step}"));
                            if (i + step) % 2 == 0 {
                                green::yield_now();
                            } else {
                                let l2 = l.clone();
                                green::spawn(move || l2.push(format!("child of {i}")));
                            }
                        }
                        i
                    })
                })
                .collect();
            let sum: i32 = green::joinall(handles)
                .into_iter()
                .map(Result::unwrap)
                .sum();
            log.push(format!("sum {sum}"));
        });
        log.take()
    }
    // Worked out by hand from the FIFO rules: each iteration runs the batch
    // that was ready when it began; spawned and yielding greenlets, and the
    // joiner woken by a finish, queue up behind it.
    let expected = [
        "1.0",
        "2.0",
        "3.0",
        "3.1",
        "4.0", // iteration 2: g0 finishes, wakes main
        "child of 1",
        "2.1",
        "child of 3",
        "3.2",
        "4.1",
        "4.2", // iteration 3
        "child of 2",
        "child of 3",
        "child of 4",
        "4.3", // iteration 4
        "child of 4",
        "sum 10",
    ];
    for _ in 0..3 {
        assert_eq!(program(), expected);
    }
}

#[test]
fn ids_are_sequential_in_spawn_order_and_main_is_zero() {
    let _w = util::watchdog();
    green::run(|| {
        let main = green::current();
        assert_eq!(main.id().as_u64(), 0);
        let thread = std::thread::current();
        assert_eq!(main.name(), thread.name(), "named like its thread");
        let expected = format!(r#"<Greenlet 0 "{}">"#, thread.name().unwrap());
        assert_eq!(format!("{main:?}"), expected);
        let handles: Vec<_> = (0..3)
            .map(|_| green::spawn(|| green::current().id()))
            .collect();
        let ids: Vec<u64> = handles.iter().map(|h| h.id().as_u64()).collect();
        assert_eq!(ids, [1, 2, 3]);
        for h in handles {
            let id = h.id();
            assert_eq!(
                h.join().unwrap(),
                id,
                "current() inside is the same greenlet"
            );
        }
        // ids are never reused, even though slots are
        let next = green::spawn(|| ());
        assert_eq!(next.id().as_u64(), 4);
        assert_eq!(format!("{}", next.id()), "4");
        let debug = format!("{:?}", next.id());
        assert!(debug.starts_with("GreenletId { hub: "), "{debug}");
        assert!(debug.ends_with(", seq: 4 }"), "{debug}");
    });
}

#[test]
fn names_show_in_debug_output() {
    let _w = util::watchdog();
    green::run(|| {
        let named = green::Builder::new()
            .name("worker".into())
            .spawn(|| format!("{:?}", green::current()))
            .unwrap();
        let unnamed = green::spawn(|| format!("{:?}", green::current()));
        assert_eq!(named.name(), Some("worker"));
        assert_eq!(unnamed.name(), None);
        assert_eq!(format!("{named:?}"), r#"JoinHandle(<Greenlet 1 "worker">)"#);
        assert_eq!(format!("{:?}", unnamed.greenlet()), "<Greenlet 2>");
        assert_eq!(named.join().unwrap(), r#"<Greenlet 1 "worker">"#);
        assert_eq!(unnamed.join().unwrap(), "<Greenlet 2>");
    });
}

#[test]
fn ids_of_different_hubs_differ_even_with_equal_numbers() {
    let _w = util::watchdog();
    let first = green::run(green::current);
    let second = green::run(green::current);
    assert_eq!(first.id().as_u64(), second.id().as_u64());
    assert_ne!(first.id(), second.id());
    assert_ne!(first, second);
    let other_thread = std::thread::spawn(|| green::run(|| green::current().id()))
        .join()
        .unwrap();
    assert_ne!(other_thread, first.id());
}

#[test]
fn is_running_only_inside_run() {
    let _w = util::watchdog();
    assert!(!green::is_running());
    let inside = Rc::new(Cell::new(false));
    let i = inside.clone();
    green::run(move || {
        let h = green::spawn(move || i.set(green::is_running()));
        h.join().unwrap();
        assert!(green::is_running());
    });
    assert!(inside.get());
    assert!(!green::is_running());
}

#[test]
fn run_returns_the_main_greenlets_value() {
    let _w = util::watchdog();
    let v = green::run(|| {
        let h = green::spawn(|| vec![1, 2, 3]);
        h.join().unwrap()
    });
    assert_eq!(v, [1, 2, 3]);
    // and a hub can be made again on the same thread
    assert_eq!(green::run(|| "again"), "again");
}

#[test]
fn the_main_greenlet_is_named_like_its_thread() {
    let _w = util::watchdog();
    let in_thread = |name: Option<&str>| {
        let mut b = std::thread::Builder::new();
        if let Some(name) = name {
            b = b.name(name.into());
        }
        let main = b.spawn(|| green::run(green::current)).unwrap().join();
        let main = main.unwrap();
        (main.name().map(String::from), format!("{main:?}"))
    };
    assert_eq!(
        in_thread(Some("worker-x")),
        (Some("worker-x".into()), r#"<Greenlet 0 "worker-x">"#.into())
    );
    assert_eq!(in_thread(None), (None, "<Greenlet 0>".into()));
}

#[test]
fn the_ids_of_two_hubs_differ_and_print_differently() {
    let _w = util::watchdog();
    let ids = green::Runtime::new().hubs(2).run(|_| green::current().id());
    assert_eq!(
        ids[0].as_u64(),
        ids[1].as_u64(),
        "both main greenlets are 0"
    );
    assert_ne!(ids[0], ids[1]);
    assert_ne!(format!("{:?}", ids[0]), format!("{:?}", ids[1]));
}
