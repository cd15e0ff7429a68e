//! Timers: `sleep`, `sleep_until`, `spawn_later` and `park_timeout` fire in
//! deadline order (equal deadlines in the order they were set) and never
//! early. Only lower bounds on time are asserted.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use util::Log;

/// Spacing between the deadlines of one test.
const STEP: Duration = Duration::from_millis(10);

/// The relative wait that ends at `base + STEP * n`: greenlets that start
/// at different times still get deadlines in `n` order, however slowly the
/// machine runs them.
fn until_step(base: Instant, n: u32) -> Duration {
    (base + STEP * n).saturating_duration_since(Instant::now())
}

#[test]
fn sleepers_wake_in_deadline_order_and_never_early() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let base = Instant::now();
        let handles: Vec<_> = [3u32, 1, 4, 2]
            .into_iter()
            .map(|n| {
                let l = log.clone();
                green::spawn(move || {
                    let start = Instant::now();
                    let dur = until_step(base, n);
                    green::sleep(dur);
                    assert!(start.elapsed() >= dur, "sleep({dur:?}) returned early");
                    l.push(format!("sleep {n}"));
                })
            })
            .collect();
        green::joinall(handles).into_iter().for_each(|r| r.unwrap());
    });
    assert_eq!(log.lines(), ["sleep 1", "sleep 2", "sleep 3", "sleep 4"]);
}

#[test]
fn every_kind_of_timer_shares_one_deadline_order() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let base = Instant::now();
        // 4: sleep_until, 1: spawn_later, 3: park_timeout, 2: sleep
        let l = log.clone();
        let a = green::spawn(move || {
            let at = base + STEP * 4;
            green::sleep_until(at);
            assert!(Instant::now() >= at, "sleep_until returned early");
            l.push("sleep_until 4");
        });
        let l = log.clone();
        let b = green::spawn_later(until_step(base, 1), move || {
            assert!(base.elapsed() >= STEP, "spawn_later started early");
            l.push("spawn_later 1");
        });
        let l = log.clone();
        let c = green::spawn(move || {
            let start = Instant::now();
            let dur = until_step(base, 3);
            green::park_timeout(dur);
            assert!(start.elapsed() >= dur, "park_timeout returned early");
            l.push("park_timeout 3");
        });
        let l = log.clone();
        let d = green::spawn(move || {
            let start = Instant::now();
            let dur = until_step(base, 2);
            green::sleep(dur);
            assert!(start.elapsed() >= dur, "sleep returned early");
            l.push("sleep 2");
        });
        for h in [a, b, c, d] {
            h.join().unwrap();
        }
    });
    assert_eq!(
        log.lines(),
        [
            "spawn_later 1",
            "sleep 2",
            "park_timeout 3",
            "sleep_until 4"
        ]
    );
}

#[test]
fn equal_deadlines_fire_in_the_order_they_were_set() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let at = Instant::now() + Duration::from_millis(5);
        // spawned 0..5 but each yields (4 - i) times first, so they set the
        // same deadline in the reverse order: 4, 3, 2, 1, 0
        let handles: Vec<_> = (0..5)
            .map(|i| {
                let l = log.clone();
                green::spawn(move || {
                    for _ in 0..(4 - i) {
                        green::yield_now();
                    }
                    l.push(format!("set {i}"));
                    green::sleep_until(at);
                    l.push(format!("woke {i}"));
                })
            })
            .collect();
        green::joinall(handles);
    });
    let lines = log.lines();
    let set: Vec<_> = lines.iter().filter(|l| l.starts_with("set")).collect();
    let woke: Vec<_> = lines.iter().filter(|l| l.starts_with("woke")).collect();
    assert_eq!(set, ["set 4", "set 3", "set 2", "set 1", "set 0"]);
    assert_eq!(woke, ["woke 4", "woke 3", "woke 2", "woke 1", "woke 0"]);
}

#[test]
fn spawn_later_starts_in_delay_order_and_never_early() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let base = Instant::now();
        let handles: Vec<_> = [2u32, 0, 3, 1]
            .into_iter()
            .map(|n| {
                let l = log.clone();
                let spawned = Instant::now();
                let delay = until_step(base, n);
                green::spawn_later(delay, move || {
                    assert!(spawned.elapsed() >= delay, "started early");
                    l.push(format!("later {n}"));
                    n
                })
            })
            .collect();
        // not started yet, whatever the delay (even zero)
        assert!(handles.iter().all(|h| !h.is_finished()));
        let results: Vec<u32> = green::joinall(handles)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(results, [2, 0, 3, 1]);
    });
    assert_eq!(log.lines(), ["later 0", "later 1", "later 2", "later 3"]);
}

#[test]
fn builder_spawn_later_keeps_the_name() {
    let _w = util::watchdog();
    green::run(|| {
        let start = Instant::now();
        let h = green::Builder::new()
            .name("late".into())
            .spawn_later(Duration::from_millis(5), || {
                format!("{:?}", green::current())
            })
            .unwrap();
        assert_eq!(h.name(), Some("late"));
        assert_eq!(h.join().unwrap(), r#"<Greenlet 1 "late">"#);
        assert!(start.elapsed() >= Duration::from_millis(5));
    });
}

#[test]
fn park_timeout_returns_early_only_when_unparked() {
    let _w = util::watchdog();
    green::run(|| {
        let main = green::current();
        let unparked = Rc::new(Cell::new(false));
        let u = unparked.clone();
        let waker = green::spawn(move || {
            green::sleep(Duration::from_millis(2));
            u.set(true);
            main.unpark();
        });
        // a timeout an hour away: only the unpark can end this wait
        while !unparked.get() {
            green::park_timeout(Duration::from_secs(3600));
        }
        waker.join().unwrap();
    });
}

#[test]
fn zero_and_past_deadlines() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let first = green::spawn(move || l.push("first"));
        // sleep_until a deadline in the past returns at once, without switching
        green::sleep_until(Instant::now() - Duration::from_millis(10));
        log.push("main: sleep_until a past deadline returned");
        assert!(!first.is_finished());
        // a wait whose deadline has passed still lets the others run once,
        // like gevent's waits with a zero timeout
        green::park_timeout(Duration::ZERO);
        log.push("main: after park_timeout(0)");
        assert!(first.is_finished());
        let l = log.clone();
        let second = green::spawn(move || l.push("second"));
        // sleep(0) yields, like gevent.sleep(0)
        green::sleep(Duration::ZERO);
        log.push("main: after sleep(0)");
        assert!(second.is_finished());
    });
    assert_eq!(
        log.lines(),
        [
            "main: sleep_until a past deadline returned",
            "first",
            "main: after park_timeout(0)",
            "second",
            "main: after sleep(0)"
        ]
    );
}

#[test]
fn a_sleep_always_switches_even_if_its_deadline_passed_before_it_parked() {
    let _w = util::watchdog();
    green::run(|| {
        let other = green::spawn(|| ());
        // A nanosecond has passed before `sleep` can park: the same as a
        // sleeper that the OS held up for longer than its nap. It still
        // lets the others run, like gevent's sleep.
        green::sleep(Duration::from_nanos(1));
        assert!(other.is_finished(), "sleep returned without switching");
    });
}

#[test]
fn an_absurdly_long_sleep_is_a_timer_that_can_be_killed() {
    let _w = util::watchdog();
    green::run(|| {
        let h = green::spawn(|| green::sleep(Duration::MAX));
        green::yield_now();
        assert!(!h.is_finished());
        h.kill();
        assert!(h.join().unwrap_err().is_killed());
    });
}

#[test]
fn main_sleeps_while_others_work() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let worker = green::spawn(move || {
            for i in 0..3 {
                l.push(format!("work {i}"));
                green::yield_now();
            }
        });
        let start = Instant::now();
        green::sleep(Duration::from_millis(10));
        assert!(start.elapsed() >= Duration::from_millis(10));
        log.push("main woke");
        assert!(worker.is_finished());
    });
    assert_eq!(log.lines(), ["work 0", "work 1", "work 2", "main woke"]);
}
