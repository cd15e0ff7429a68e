//! Joining: values, errors, `joinall`, detaching, handles that outlive
//! their hub.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use util::Log;

#[test]
fn join_returns_the_greenlets_value() {
    let _w = util::watchdog();
    green::run(|| {
        let s = green::spawn(|| String::from("text"));
        let v = green::spawn(|| vec![1u8, 2, 3]);
        // not Send: a greenlet never leaves its thread
        let rc = green::spawn(|| Rc::new(5));
        let unit = green::spawn(|| ());
        assert_eq!(s.join().unwrap(), "text");
        assert_eq!(v.join().unwrap(), [1, 2, 3]);
        assert_eq!(*rc.join().unwrap(), 5);
        unit.join().unwrap();
    });
}

#[test]
fn join_waits_while_the_others_run() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let slow = green::spawn(move || {
            l.push("slow starts");
            green::sleep(Duration::from_millis(5));
            l.push("slow ends");
            "slow"
        });
        let l = log.clone();
        let quick = green::spawn(move || {
            l.push("quick");
            "quick"
        });
        log.push("main joins slow");
        assert_eq!(slow.join().unwrap(), "slow");
        log.push("main joined slow");
        assert!(quick.is_finished());
        assert_eq!(quick.join().unwrap(), "quick");
    });
    assert_eq!(
        log.lines(),
        [
            "main joins slow",
            "slow starts",
            "quick",
            "slow ends",
            "main joined slow"
        ]
    );
}

#[test]
fn joining_a_finished_greenlet_does_not_switch() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let done = green::spawn(|| 7);
        green::yield_now();
        assert!(done.is_finished());
        let l = log.clone();
        let later = green::spawn(move || l.push("later"));
        assert_eq!(done.join().unwrap(), 7);
        log.push("main joined");
        later.join().unwrap();
    });
    assert_eq!(log.lines(), ["main joined", "later"]);
}

#[test]
fn greenlets_join_each_other() {
    let _w = util::watchdog();
    green::run(|| {
        let inner = green::spawn(|| {
            green::sleep(Duration::from_millis(2));
            20
        });
        let outer = green::spawn(move || inner.join().unwrap() + 1);
        assert_eq!(outer.join().unwrap(), 21);
    });
}

#[test]
fn joinall_returns_results_in_handle_order() {
    let _w = util::watchdog();
    green::run(|| {
        // finishing in reverse order does not change the result order
        let handles: Vec<_> = (0..5u64)
            .map(|i| {
                green::spawn(move || {
                    green::sleep(Duration::from_millis(5 - i));
                    i * i
                })
            })
            .collect();
        let results: Vec<u64> = green::joinall(handles)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(results, [0, 1, 4, 9, 16]);
        assert!(green::joinall(Vec::<green::JoinHandle<()>>::new()).is_empty());
    });
}

/// gevent's `joinall` takes a list of greenlets that all run; green's takes
/// any iterator, and one that spawns as it goes (`(0..n).map(|i|
/// green::spawn(..))`, never collected) must spawn them all before the
/// first join, or each greenlet would start only once the one before had
/// ended: ten 30 ms sleeps took 300 ms, not 30.
#[test]
fn joinall_of_a_lazy_iterator_of_spawns_runs_them_together() {
    let _w = util::watchdog();
    green::run(|| {
        let log = Log::new();
        let start = Instant::now();
        let results = green::joinall((0..10u32).map(|i| {
            let log = log.clone();
            green::spawn(move || {
                log.push(format!("start {i}"));
                green::sleep(Duration::from_millis(30));
                i
            })
        }));
        let took = start.elapsed();
        let results: Vec<u32> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(results, (0..10).collect::<Vec<_>>());
        // every greenlet started before any had finished
        let starts: Vec<String> = (0..10).map(|i| format!("start {i}")).collect();
        assert_eq!(log.take(), starts);
        assert!(took < Duration::from_millis(150), "took {took:?}");
    });
}

#[test]
fn joinall_reports_each_failure_in_its_place() {
    let _w = util::watchdog();
    green::run(|| {
        let ok = green::spawn(|| 1);
        let panicked = green::spawn(|| -> i32 { panic!("second fails") });
        let killed = green::spawn(|| {
            green::sleep(Duration::from_secs(3600));
            3
        });
        green::yield_now();
        killed.kill();
        let ids = [ok.id(), panicked.id(), killed.id()];
        let results = green::joinall([ok, panicked, killed]);
        assert_eq!(results.len(), 3);
        assert_eq!(*results[0].as_ref().unwrap(), 1);
        let e1 = results[1].as_ref().unwrap_err();
        assert!(e1.is_panic() && !e1.is_killed());
        assert_eq!(e1.id(), ids[1]);
        let e2 = results[2].as_ref().unwrap_err();
        assert!(e2.is_killed() && !e2.is_panic());
        assert_eq!(e2.id(), ids[2]);
    });
}

#[test]
fn join_errors_describe_themselves() {
    let _w = util::watchdog();
    green::run(|| {
        let p = green::spawn(|| -> () { panic!("boom") });
        let n = std::hint::black_box(42);
        let s = green::spawn(move || -> () { panic!("formatted {n}") });
        let a = green::spawn(|| -> () { std::panic::panic_any(7u32) });
        let k = green::spawn(|| green::sleep(Duration::from_secs(3600)));
        green::yield_now();
        k.kill();

        let e = p.join().unwrap_err();
        assert_eq!(e.to_string(), "greenlet 1 panicked: boom");
        assert_eq!(format!("{e:?}"), "JoinError::Panicked(1, ..)");
        let e = s.join().unwrap_err();
        assert_eq!(e.to_string(), "greenlet 2 panicked: formatted 42");
        let e = a.join().unwrap_err();
        assert_eq!(e.to_string(), "greenlet 3 panicked");
        assert_eq!(*e.into_panic().downcast::<u32>().unwrap(), 7);
        let e = k.join().unwrap_err();
        assert_eq!(e.to_string(), "greenlet 4 was killed");
        assert_eq!(format!("{e:?}"), "JoinError::Killed(4)");
        // a kill has no payload to give
        let e = e.try_into_panic().unwrap_err();
        assert!(e.is_killed());
        let msg = util::panic_of(|| e.into_panic());
        assert!(msg.contains("killed greenlet"), "{msg}");
    });
    fn is_error<E: std::error::Error + 'static>() {}
    is_error::<green::JoinError>();
}

/// Gives a greenlet its own handle and has `wait` wait on it: a panic
/// that names the greenlet and `how`, not a hang.
fn waiting_for_itself_panics(wait: fn(green::JoinHandle<()>), how: &str) {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let cell: Rc<RefCell<Option<green::JoinHandle<()>>>> = Rc::default();
        let (c, l) = (cell.clone(), log.clone());
        let h = green::spawn(move || {
            let me = c.borrow_mut().take().expect("its own handle");
            l.push(util::panic_of(|| wait(me)));
        });
        *cell.borrow_mut() = Some(h);
        green::yield_now();
    });
    let lines = log.lines();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].contains("a greenlet cannot wait for itself")
            && lines[0].contains(&format!("<Greenlet 1> {how}")),
        "{lines:?}"
    );
}

#[test]
fn a_greenlet_cannot_join_itself() {
    waiting_for_itself_panics(|me| drop(me.join()), "joined itself");
}

#[test]
fn dropping_the_handle_detaches_the_greenlet() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        drop(green::spawn(move || {
            for _ in 0..3 {
                green::yield_now();
            }
            l.push("detached greenlet finished");
        }));
        green::sleep(Duration::from_millis(5));
        log.push("main");
    });
    assert_eq!(log.lines(), ["detached greenlet finished", "main"]);
}

#[test]
fn a_handle_can_outlive_its_hub() {
    let _w = util::watchdog();
    let (finished, unfinished) = green::run(|| {
        let finished = green::spawn(|| "done");
        let unfinished = green::spawn(|| green::sleep(Duration::from_secs(3600)));
        green::yield_now();
        (finished, unfinished)
    });
    // Outside run: the result of a finished greenlet is still there, and
    // the one still alive at the end of run was killed.
    assert!(finished.is_finished());
    assert_eq!(finished.join().unwrap(), "done");
    assert!(unfinished.is_finished());
    assert!(unfinished.join().unwrap_err().is_killed());
}

#[test]
fn a_greenlet_handle_first_asked_for_after_its_hub_is_gone_still_works() {
    // The `Greenlet` handle is made on first use; here that is after `run`
    // returned, and again inside a later `run` (another hub, same thread).
    let _w = util::watchdog();
    let named = green::run(|| {
        let h = green::Builder::new()
            .name("late".into())
            .spawn(|| 7)
            .unwrap();
        green::yield_now(); // it runs to the end
        h
    });
    let g = named.greenlet().clone();
    assert_eq!(g.name(), Some("late"));
    assert_eq!(format!("{g:?}"), format!("<Greenlet {} \"late\">", g.id()));
    assert_eq!(named.greenlet(), &g, "one handle, made once");
    g.unpark(); // finished: nothing to wake, and no hub to tell
    let other = green::run(|| {
        let h = green::spawn(|| ());
        let again = green::spawn(|| ());
        // asked for first inside another hub's run: not that hub's greenlet
        g.unpark();
        h.join().unwrap();
        again
    });
    other.greenlet().unpark();
    assert_eq!(named.join().unwrap(), 7);
}

#[test]
fn a_greenlet_on_a_reused_record_starts_afresh() {
    // A hub reuses the records of finished greenlets for new spawns: nothing
    // of the old greenlet may show through, and its handles stay its own.
    green::local! {
        static MARK: std::cell::Cell<u32> = std::cell::Cell::new(0);
    }
    let _w = util::watchdog();
    green::run(|| {
        let first = green::Builder::new()
            .name("first".into())
            .spawn(|| {
                MARK.with(|m| m.set(7));
                green::current()
            })
            .unwrap();
        let first_id = first.id();
        let old = first.join().unwrap();
        let second = green::spawn(|| {
            let me = green::current();
            let fresh = (me.id(), me.name().map(String::from), MARK.with(|m| m.get()));
            green::park(); // only its own handle wakes it
            fresh
        });
        let second_id = second.id();
        assert_ne!(second_id, first_id);
        green::yield_now(); // it parks
        old.unpark(); // the old greenlet's handle: finished, wakes nobody
        for _ in 0..3 {
            green::yield_now();
        }
        assert!(
            !second.is_finished(),
            "woken through the old greenlet's handle"
        );
        assert_eq!(old.id(), first_id);
        assert_eq!(old.name(), Some("first"));
        second.greenlet().unpark();
        assert_eq!(second.join().unwrap(), (second_id, None, 0));
    });
}

#[test]
fn link_runs_a_callback_after_the_greenlet_ends() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let worker = green::spawn(move || {
            l.push("worker");
            green::yield_now();
            l.push("worker ends");
        });
        let l = log.clone();
        let linked = worker.link(move || l.push("callback"));
        linked.join().unwrap();
        assert!(worker.is_finished());
    });
    assert_eq!(log.lines(), ["worker", "worker ends", "callback"]);
}

/// gevent's `g.join(timeout)`: `wait_timeout` waits at most its timeout
/// and keeps the handle, whose greenlet can still be joined.
#[test]
fn wait_timeout_keeps_the_handle_whether_or_not_the_greenlet_finished() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        // Finished before: true at once, without a switch.
        let done = green::spawn(|| 7);
        green::yield_now();
        let l = log.clone();
        let later = green::spawn(move || l.push("later"));
        assert!(done.wait_timeout(Duration::from_secs(60)));
        log.push("finished before");
        assert_eq!(done.join().unwrap(), 7);
        later.join().unwrap();

        // Finishes within the timeout: true once it has, then join at once.
        let l = log.clone();
        let soon = green::spawn(move || {
            green::sleep(Duration::from_millis(5));
            l.push("soon done");
            8
        });
        assert!(soon.wait_timeout(Duration::from_secs(60)));
        log.push("waited for soon");
        assert!(soon.is_finished());
        assert_eq!(soon.join().unwrap(), 8);

        // Times out: false after the timeout, the greenlet runs on and is
        // joined later.
        let l = log.clone();
        let slow = green::spawn(move || {
            green::sleep(Duration::from_millis(30));
            l.push("slow done");
            9
        });
        let start = Instant::now();
        assert!(!slow.wait_timeout(Duration::from_millis(5)));
        assert!(start.elapsed() >= Duration::from_millis(5));
        log.push("gave up on slow");
        assert!(!slow.is_finished());
        assert!(!slow.wait_timeout(Duration::from_millis(1)), "and again");
        assert_eq!(slow.join().unwrap(), 9);
    });
    assert_eq!(
        log.lines(),
        [
            "finished before",
            "later",
            "soon done",
            "waited for soon",
            "gave up on slow",
            "slow done"
        ]
    );
}

/// A greenlet waited for in vain can still be killed through its handle.
#[test]
fn a_greenlet_waited_for_in_vain_can_be_killed() {
    let _w = util::watchdog();
    green::run(|| {
        let sleeper = green::spawn(|| green::sleep(Duration::from_secs(3600)));
        assert!(!sleeper.wait_timeout(Duration::from_millis(2)));
        sleeper.kill();
        assert!(sleeper.wait_timeout(Duration::ZERO));
        assert!(sleeper.join().unwrap_err().is_killed());
    });
}

/// Even a zero timeout lets the ready greenlets run once, so a greenlet
/// that finishes in that turn is reported finished, and a loop of zero
/// waits does not starve what it waits for; a huge timeout waits as long
/// as it takes.
#[test]
fn wait_timeout_zero_lets_the_others_run_once_and_a_huge_one_waits_to_the_end() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let quick = green::spawn(|| 1);
        assert!(quick.wait_timeout(Duration::ZERO));
        assert_eq!(quick.join().unwrap(), 1);

        let l = log.clone();
        let yielder = green::spawn(move || {
            for i in 0..3 {
                l.push(format!("turn {i}"));
                green::yield_now();
            }
        });
        let mut zero_waits = 0;
        while !yielder.wait_timeout(Duration::ZERO) {
            zero_waits += 1;
            log.push(format!("zero wait {zero_waits}"));
        }
        assert!((1..=3).contains(&zero_waits), "{zero_waits}");
        yielder.join().unwrap();

        for huge in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
            let sleeper = green::spawn(|| green::sleep(Duration::from_millis(5)));
            assert!(sleeper.wait_timeout(huge));
            sleeper.join().unwrap();
        }
    });
    let lines = log.lines();
    assert_eq!(lines[0], "turn 0");
    assert!(lines.contains(&"turn 2".to_string()), "{lines:?}");
}

/// A wait cut short from outside (a `green::timeout` around it) keeps the
/// handle too.
#[test]
fn a_wait_timeout_cut_short_keeps_the_handle() {
    let _w = util::watchdog();
    green::run(|| {
        let slow = green::spawn(|| {
            green::sleep(Duration::from_millis(20));
            "slow"
        });
        let cut = green::timeout(Duration::from_millis(2), || {
            slow.wait_timeout(Duration::from_secs(60))
        });
        assert!(cut.is_err());
        assert!(slow.wait_timeout(Duration::from_secs(60)));
        assert_eq!(slow.join().unwrap(), "slow");
    });
}

#[test]
fn a_greenlet_cannot_wait_for_itself() {
    waiting_for_itself_panics(
        |me| {
            me.wait_timeout(Duration::from_secs(1));
        },
        "waited for itself in JoinHandle::wait_timeout",
    );
}

/// Outside `run`, every greenlet has finished: a handle that outlived its
/// hub answers true at once.
#[test]
fn wait_timeout_outside_run_is_true_at_once() {
    let _w = util::watchdog();
    let (done, killed) = green::run(|| {
        let done = green::spawn(|| "done");
        let killed = green::spawn(|| green::sleep(Duration::from_secs(3600)));
        green::yield_now();
        (done, killed)
    });
    assert!(done.wait_timeout(Duration::ZERO));
    assert!(killed.wait_timeout(Duration::from_secs(3600)));
    assert_eq!(done.join().unwrap(), "done");
    assert!(killed.join().unwrap_err().is_killed());
}
