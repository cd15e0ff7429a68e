//! Timeouts: every kind of green wait is interrupted, never early; nesting
//! as gevent documents; nothing is lost.

use std::cell::{Cell, RefCell};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use green::channel;
use green::sync::Mutex;

const SHORT: Duration = Duration::from_millis(10);
const LONG: Duration = Duration::from_secs(60);

/// Runs `wait` under a SHORT timeout; it must be interrupted, not early.
fn interrupted<T>(wait: impl FnOnce() -> T) {
    let start = Instant::now();
    let result = green::timeout(SHORT, wait);
    assert!(result.is_err(), "the wait was not interrupted");
    assert!(start.elapsed() >= SHORT, "interrupted early");
}

#[test]
fn every_kind_of_wait_is_interrupted() {
    green::run(|| {
        interrupted(|| green::sleep(LONG));
        interrupted(green::park);

        let (tx, rx) = channel::channel::<u8>();
        interrupted(|| rx.recv());
        interrupted(|| tx.send(1));
        interrupted(|| channel::Select::new().recv(&rx, |_| ()).wait());

        let m = Rc::new(Mutex::new(()));
        let m2 = m.clone();
        let holder = green::spawn(move || {
            let _g = m2.lock().unwrap();
            green::sleep(LONG);
        });
        green::yield_now();
        interrupted(|| drop(m.lock()));
        holder.kill();
        let sleeper = green::spawn(|| green::sleep(LONG));
        interrupted(move || sleeper.join());

        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        interrupted(|| green::io::wait_readable(&a, None));

        interrupted(|| green::unblock(|| std::thread::sleep(Duration::from_millis(50))));
    });
}

#[test]
fn destructors_run_and_the_greenlet_carries_on() {
    green::run(|| {
        let dropped = Rc::new(Cell::new(false));
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let d = dropped.clone();
        let r = green::timeout(SHORT, move || {
            let _f = Flag(d);
            green::sleep(LONG);
        });
        assert!(r.is_err());
        assert!(dropped.get());
        green::sleep(Duration::from_millis(1)); // waits still work after
    });
}

#[test]
fn a_timeout_that_does_not_fire_changes_nothing() {
    green::run(|| {
        let r = green::timeout(LONG, || {
            green::sleep(Duration::from_millis(1));
            5
        });
        assert_eq!(r, Ok(5));
        // Dropped: it never fires later.
        green::sleep(Duration::from_millis(2));
        let t = green::Timeout::start(Duration::from_millis(1));
        t.cancel();
        green::sleep(Duration::from_millis(5));
    });
}

#[test]
fn nested_inner_fires_first() {
    let log = RefCell::new(Vec::new());
    green::run(|| {
        let outer = green::timeout(LONG, || {
            let inner = green::timeout(SHORT, || green::sleep(LONG));
            log.borrow_mut().push(format!("inner {}", inner.is_err()));
            green::sleep(Duration::from_millis(1));
            "outer body done"
        });
        log.borrow_mut().push(format!("outer {outer:?}"));
    });
    assert_eq!(
        *log.borrow(),
        ["inner true", "outer Ok(\"outer body done\")"]
    );
}

#[test]
fn nested_outer_fires_through_the_inner() {
    let log = RefCell::new(Vec::new());
    green::run(|| {
        let outer = green::timeout(SHORT, || {
            let inner = green::timeout(LONG, || green::sleep(LONG));
            log.borrow_mut().push(format!("after inner {inner:?}")); // never reached
        });
        log.borrow_mut()
            .push(format!("outer fired {}", outer.is_err()));
    });
    assert_eq!(*log.borrow(), ["outer fired true"]);
}

#[test]
fn nested_both_fired_in_one_turn_the_inner_then_the_outer() {
    // Both deadlines pass while another greenlet holds the thread, so both
    // timeouts fire in the hub's next turn, the inner's first. The inner is
    // raised and caught; the outer, which fired while the inner's interrupt
    // was pending, must still be raised at the next switch point (as gevent
    // raises each timer's exception in turn), not lost.
    let log = RefCell::new(Vec::new());
    green::run(|| {
        let hog = green::spawn(|| {
            let start = Instant::now();
            while start.elapsed() < SHORT * 3 {
                std::hint::spin_loop(); // holds the thread past both deadlines
            }
        });
        let outer = green::timeout(SHORT, || {
            let inner = green::timeout(SHORT / 2, || green::sleep(LONG));
            log.borrow_mut().push(format!("inner {}", inner.is_err()));
            green::sleep(Duration::from_secs(2)); // interrupted at once
            "outer body done"
        });
        log.borrow_mut().push(format!("outer {}", outer.is_err()));
        hog.join().unwrap();
    });
    assert_eq!(*log.borrow(), ["inner true", "outer true"]);
}

/// A destructor that cleans up under its own timeouts, for the tests below:
/// a sleep longer than its timeout, then a receive whose value comes late.
struct BoundedCleanup {
    log: Rc<RefCell<Vec<String>>>,
    late: Option<channel::Receiver<u8>>,
}

impl Drop for BoundedCleanup {
    fn drop(&mut self) {
        let start = Instant::now();
        let slept = green::timeout(SHORT, || green::sleep(SHORT * 20));
        let early = start.elapsed() < SHORT * 20;
        let rx = self.late.take().unwrap();
        let got = green::timeout(SHORT, || rx.recv());
        self.log
            .borrow_mut()
            .push(format!("sleep {slept:?} cut short {early}, recv {got:?}"));
    }
}

/// A greenlet that sends on `tx` long after `BoundedCleanup`'s timeouts.
fn late_sender(tx: channel::Sender<u8>) -> green::JoinHandle<()> {
    green::spawn(move || {
        green::sleep(SHORT * 20);
        let _ = tx.send(1);
    })
}

#[test]
fn a_timeout_a_destructor_starts_fires_while_a_kill_unwinds() {
    // A cleanup bounded by `green::timeout` is bounded under a kill too:
    // its `Elapsed` is caught inside the destructor, so it may be raised
    // there although the greenlet unwinds.
    let log = Rc::new(RefCell::new(Vec::new()));
    green::run(|| {
        let (tx, rx) = channel::channel::<u8>();
        let sender = late_sender(tx);
        let cleanup = BoundedCleanup {
            log: log.clone(),
            late: Some(rx),
        };
        let victim = green::spawn(move || {
            let _cleanup = cleanup;
            green::sleep(LONG);
        });
        green::yield_now();
        victim.kill();
        assert!(victim.join().unwrap_err().is_killed());
        sender.join().unwrap();
    });
    assert_eq!(
        *log.borrow(),
        ["sleep Err(Elapsed(..)) cut short true, recv Err(Elapsed(..))"]
    );
}

#[test]
fn a_timeout_a_destructor_starts_fires_while_a_panic_unwinds() {
    let log = Rc::new(RefCell::new(Vec::new()));
    green::run(|| {
        let (tx, rx) = channel::channel::<u8>();
        let sender = late_sender(tx);
        let cleanup = BoundedCleanup {
            log: log.clone(),
            late: Some(rx),
        };
        let panicker = green::spawn(move || {
            let _cleanup = cleanup;
            panic!("the body panics");
        });
        assert!(panicker.join().unwrap_err().is_panic());
        sender.join().unwrap();
    });
    assert_eq!(
        *log.borrow(),
        ["sleep Err(Elapsed(..)) cut short true, recv Err(Elapsed(..))"]
    );
}

#[test]
fn timeouts_that_could_unwind_out_of_a_destructor_do_not_fire_there() {
    // Raised in these destructors, each would unwind out of one that runs
    // for an unwind, and abort: a timeout started before the kill, a bare
    // guard, and a destructor's timeout whose body caught a panic of its
    // own (a destructor of that panic may lie in between). Each waits out
    // its sleep instead.
    struct Sleeps(Duration);
    impl Drop for Sleeps {
        fn drop(&mut self) {
            green::sleep(self.0);
        }
    }
    struct Cleanup(Rc<RefCell<Vec<String>>>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let guarded = std::panic::catch_unwind(|| {
                let _t = green::Timeout::start(SHORT);
                green::sleep(SHORT * 3);
            });
            let after_panic = green::timeout(SHORT, || {
                let caught = std::panic::catch_unwind(|| {
                    let _sleeps = Sleeps(SHORT * 3);
                    panic!("a panic of its own");
                });
                assert!(caught.is_err());
                green::sleep(SHORT);
            });
            self.0.borrow_mut().push(format!(
                "guard {}, after a panic {after_panic:?}",
                guarded.is_ok()
            ));
        }
    }
    let log = Rc::new(RefCell::new(Vec::new()));
    green::run(|| {
        let l = log.clone();
        let victim = green::spawn(move || {
            let outer = green::timeout(SHORT, || {
                let _sleeps = Sleeps(SHORT * 3); // the outer timeout fires in here
                let _cleanup = Cleanup(l.clone());
                green::sleep(LONG);
            });
            l.borrow_mut().push(format!("never: {outer:?}"));
        });
        green::yield_now();
        victim.kill();
        assert!(victim.join().unwrap_err().is_killed());
    });
    assert_eq!(*log.borrow(), ["guard true, after a panic Ok(())"]);
}

#[test]
fn a_busy_greenlet_is_interrupted_at_its_next_wait() {
    green::run(|| {
        let steps = Cell::new(0);
        let r = green::timeout(Duration::from_millis(1), || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(5) {
                std::hint::spin_loop(); // no switch point: cannot be interrupted
            }
            steps.set(1);
            green::yield_now(); // the next switch point: interrupted here
            steps.set(2);
        });
        assert!(r.is_err());
        assert_eq!(steps.get(), 1);
    });
}

#[test]
fn an_uncaught_timeout_ends_the_greenlet_with_elapsed() {
    green::run(|| {
        let h = green::spawn(|| {
            let _t = green::Timeout::start(SHORT);
            green::sleep(LONG);
        });
        let err = h.join().unwrap_err();
        assert!(err.is_panic());
        assert!(err.into_panic().is::<green::Elapsed>());
    });
}

#[test]
fn a_value_received_as_the_timeout_fires_is_not_lost() {
    green::run(|| {
        // The value is delivered and the timeout fires in the same hub
        // turn; whichever wins, the value is either returned or still in
        // the channel.
        for delay_us in [0u64, 500, 1_000, 2_000] {
            let (tx, rx) = channel::unbounded::<u32>();
            let sender = green::spawn(move || {
                green::sleep(Duration::from_micros(delay_us) + Duration::from_millis(1));
                tx.send(7).unwrap();
            });
            let got = green::timeout(Duration::from_millis(1), || rx.recv());
            sender.join().unwrap();
            match got {
                Ok(v) => assert_eq!(v, Ok(7)),
                Err(_) => assert_eq!(rx.try_recv(), Ok(7), "the value was lost"),
            }
        }
    });
}

#[test]
fn a_send_taken_as_its_timeout_fires_reports_success() {
    // The receiver's wake-up and the sender's timeout come in one hub turn
    // (another greenlet holds the thread past both), the receiver's first:
    // it takes the value from the waiting sender. The send happened, so it
    // must return Ok (the timeout then waits for the next switch point),
    // not report Elapsed for a value the receiver has.
    green::run(|| {
        for cap in [0, 1] {
            let (tx, rx) = channel::bounded::<u32>(cap);
            if cap == 1 {
                tx.send(0).unwrap(); // full: the send below waits
            }
            let deadline = Instant::now() + SHORT;
            let receiver = green::spawn(move || {
                green::sleep_until(deadline - Duration::from_millis(1));
                let got: Vec<u32> = rx.try_iter().collect();
                (got, rx)
            });
            let sender = green::spawn(move || green::timeout_at(deadline, || tx.send(7)));
            let hog = green::spawn(|| {
                let start = Instant::now();
                while start.elapsed() < SHORT * 3 {
                    std::hint::spin_loop();
                }
            });
            hog.join().unwrap();
            let sent = sender.join().unwrap();
            let (got, rx) = receiver.join().unwrap();
            let got: Vec<u32> = got.into_iter().chain(rx.try_iter()).collect();
            let delivered = got.contains(&7);
            assert_eq!(
                sent.is_ok(),
                delivered,
                "cap {cap}: send {sent:?}, receiver got {got:?}"
            );
            assert!(delivered, "cap {cap}: the receiver ran first and took it");
        }
    });
}

#[test]
fn a_select_send_taken_as_its_timeout_fires_reports_success() {
    // As `a_send_taken_as_its_timeout_fires_reports_success`, through a
    // select: the receiver ran first and took the value, so the select
    // completes its send.
    green::run(|| {
        let (tx, rx) = channel::channel::<u32>();
        let (other, _unread) = channel::channel::<u32>();
        let deadline = Instant::now() + SHORT;
        let receiver = green::spawn(move || {
            green::sleep_until(deadline - Duration::from_millis(1));
            rx.try_iter().collect::<Vec<u32>>()
        });
        let sender = green::spawn(move || {
            green::timeout_at(deadline, || {
                channel::Select::new()
                    .send(&tx, 7, |r| r.is_ok())
                    .send(&other, 8, |r| r.is_ok())
                    .wait()
            })
        });
        let hog = green::spawn(|| {
            let start = Instant::now();
            while start.elapsed() < SHORT * 3 {
                std::hint::spin_loop();
            }
        });
        hog.join().unwrap();
        let sent = sender.join().unwrap();
        let got = receiver.join().unwrap();
        assert_eq!(got, [7], "the receiver ran first and took it");
        assert_eq!(sent, Ok(true), "the send happened");
    });
}
