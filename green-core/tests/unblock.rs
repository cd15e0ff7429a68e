//! `unblock`: blocking work on the thread pool, while the hub keeps running
//! the other greenlets; results and panics come back to the caller.

mod util;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use util::Log;

/// Long enough that a hub blocked by the job would fail the test rather
/// than hang it.
const PATIENCE: Duration = Duration::from_secs(20);

#[test]
fn unblock_returns_the_closures_value_from_a_pool_thread() {
    let _w = util::watchdog();
    green::run(|| {
        let hub_thread = std::thread::current().id();
        let (value, thread, name) = green::unblock(move || {
            let me = std::thread::current();
            (6 * 7, me.id(), me.name().map(String::from))
        });
        assert_eq!(value, 42);
        assert_ne!(thread, hub_thread);
        assert_eq!(name.as_deref(), Some("green-blocking"));
        assert_eq!(green::unblock(|| String::from("owned")), "owned");
    });
}

#[test]
fn the_hub_runs_other_greenlets_while_a_job_blocks() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        // The job blocks its pool thread until a greenlet has run: that can
        // only happen if the hub goes on while the job blocks.
        let (ran, wait_for_it) = mpsc::channel::<&'static str>();
        let l = log.clone();
        let other = green::spawn(move || {
            l.push("other greenlet runs");
            green::yield_now();
            ran.send("hello from a greenlet").unwrap();
            l.push("other greenlet sent");
        });
        log.push("main calls unblock");
        let got = green::unblock(move || wait_for_it.recv_timeout(PATIENCE));
        assert_eq!(got, Ok("hello from a greenlet"));
        log.push("main got the result");
        other.join().unwrap();
    });
    assert_eq!(
        log.lines(),
        [
            "main calls unblock",
            "other greenlet runs",
            "other greenlet sent",
            "main got the result"
        ]
    );
}

#[test]
fn many_greenlets_unblock_at_once() {
    let _w = util::watchdog();
    green::run(|| {
        let handles: Vec<_> = (0..50u64)
            .map(|i| {
                green::spawn(move || {
                    green::unblock(move || {
                        std::thread::sleep(Duration::from_millis(1));
                        i * 2
                    })
                })
            })
            .collect();
        let results: Vec<u64> = green::joinall(handles)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(results, (0..50).map(|i| i * 2).collect::<Vec<_>>());
    });
}

#[test]
fn a_call_lets_the_ready_greenlets_run_even_when_its_job_is_done_at_once() {
    let _w = util::watchdog();
    green::run(|| {
        // A ticker that is always ready, and two greenlets calling into the
        // pool back to back, so that a worker is often still awake and done
        // with a trivial job before its caller looks (until 2026-12-05 the
        // caller then went on without a switch, and a greenlet reading a
        // cached file could run through it while the others waited).
        let ticks = Rc::new(Cell::new(0u64));
        let stop = Rc::new(Cell::new(false));
        let ticker = {
            let (ticks, stop) = (ticks.clone(), stop.clone());
            green::spawn(move || {
                while !stop.get() {
                    ticks.set(ticks.get() + 1);
                    green::yield_now();
                }
            })
        };
        let caller = |name: &'static str| {
            let ticks = ticks.clone();
            move || {
                for i in 0..500 {
                    let before = ticks.get();
                    green::unblock(|| ());
                    assert!(
                        ticks.get() > before,
                        "{name}'s call {i} returned before the ready ticker ran"
                    );
                }
            }
        };
        let (a, b) = (green::spawn(caller("a")), green::spawn(caller("b")));
        a.join().unwrap();
        b.join().unwrap();
        stop.set(true);
        ticker.join().unwrap();
    });
}

#[test]
fn an_unpark_before_or_during_a_call_is_kept_for_the_callers_park() {
    let _w = util::watchdog();
    green::run(|| {
        let main = green::current();
        // Before: as a file read on a std thread leaves the token alone.
        main.unpark();
        green::unblock(|| ());
        green::park(); // returns at once
                       // During: the job waits for the unpark, so it comes mid-call.
        let (unparked, wait_for_it) = mpsc::channel::<()>();
        let waker = {
            let main = main.clone();
            green::spawn(move || {
                main.unpark();
                unparked.send(()).unwrap();
            })
        };
        green::unblock(move || wait_for_it.recv_timeout(PATIENCE).unwrap());
        waker.join().unwrap();
        green::park(); // returns at once
    });
}

#[test]
fn a_panic_in_the_job_continues_in_the_caller() {
    let _w = util::watchdog();
    green::run(|| {
        let caught = panic::catch_unwind(|| green::unblock(|| -> u8 { panic!("job fails") }));
        assert_eq!(util::panic_message(&*caught.unwrap_err()), "job fails");
        // in a spawned greenlet, the payload reaches join
        let h = green::spawn(|| green::unblock(|| -> u8 { panic::panic_any(5u16) }));
        let payload = h.join().unwrap_err().into_panic();
        assert_eq!(*payload.downcast::<u16>().unwrap(), 5);
        // the pool still works
        assert_eq!(green::unblock(|| 1), 1);
    });
}

#[test]
fn killing_the_caller_lets_the_job_finish() {
    let _w = util::watchdog();
    let finished = Arc::new(AtomicBool::new(false));
    let (release, released) = mpsc::channel::<()>();
    green::run(|| {
        let f = finished.clone();
        let caller = green::spawn(move || {
            green::unblock(move || {
                released.recv_timeout(PATIENCE).unwrap();
                f.store(true, Ordering::SeqCst);
                "dropped"
            })
        });
        green::yield_now(); // the job is out
        caller.kill();
        assert!(caller.join().unwrap_err().is_killed());
        assert!(
            !finished.load(Ordering::SeqCst),
            "the kill waited for the job"
        );
        release.send(()).unwrap();
        // the job still runs to its end, on its own
        while !finished.load(Ordering::SeqCst) {
            green::sleep(Duration::from_millis(1));
        }
    });
}

#[test]
fn outside_run_unblock_just_calls_the_closure() {
    let _w = util::watchdog();
    let here = std::thread::current().id();
    let there = green::unblock(|| std::thread::current().id());
    assert_eq!(there, here);
    let caught = panic::catch_unwind(AssertUnwindSafe(|| green::unblock(|| panic!("outside"))));
    assert_eq!(util::panic_message(&*caught.unwrap_err()), "outside");
}

/// Two jobs that can only finish together (each waits for the other), sent
/// back to back while one pool thread is idle: each needs a thread of its
/// own. The pool once counted the idle thread, already woken for the first
/// job but not yet running it, as free for the second too, and queued the
/// second behind the first (a FIFO open waiting for its other end hung so).
#[test]
fn jobs_sent_back_to_back_to_one_idle_thread_run_side_by_side() {
    let _w = util::watchdog();
    let together = green::run(|| {
        // one pool thread, idle once its job is done
        green::unblock(|| ());
        green::sleep(Duration::from_millis(50));
        let (to_a, from_b) = mpsc::channel::<()>();
        let (to_b, from_a) = mpsc::channel::<()>();
        let a = green::spawn(move || {
            green::unblock(move || {
                to_b.send(()).unwrap();
                from_b.recv_timeout(Duration::from_secs(2)).is_ok()
            })
        });
        let b = green::spawn(move || {
            green::unblock(move || {
                to_a.send(()).unwrap();
                from_a.recv_timeout(Duration::from_secs(2)).is_ok()
            })
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(
        together,
        (true, true),
        "the two jobs did not run at the same time"
    );
}

/// Jobs back to back, with nothing else for the hub to wait for: each one
/// finishes while the hub looks at what is still out. The hub once read
/// the wake-up inbox before a shared count of jobs out, and a job that
/// queued its wake-up and finished between the two reads left its greenlet
/// declared deadlocked (green-std's doctests hit it; about once in five
/// release runs of 200,000 jobs). A job's end now arrives with its wake-up
/// and the hub counts its jobs itself (`hub::remote`), so there is no
/// second read to fall between.
#[test]
fn a_job_finishing_while_the_hub_looks_is_never_a_deadlock() {
    let _w = util::watchdog();
    green::run(|| {
        for i in 0..20_000 {
            assert_eq!(green::unblock(move || i), i);
        }
    });
}
