//! A greenlet that runs a generator of its own (the `generator` crate's,
//! as `may` lets a coroutine do: may's `yield_from_gen`) and makes a green
//! call from the generator's body: the switch suspends the greenlet, the
//! generator inside it included, and both go on when it is resumed.
//! Before (generator patch 12), the switch suspended the inner generator
//! alone: the greenlet's `next()` took it for a yield of nothing and the
//! iteration ended early (`[]` for `[0, 1, 2]`), while the hub took the
//! greenlet for parked and later panicked ("called from the hub itself",
//! release) or failed a debug assertion.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use generator::Gn;

/// may's `yield_from_gen`: values yielded by a generator whose body yields
/// to the hub between them, with a neighbour ready (a hand-off) or not (a
/// suspend to the loop).
#[test]
fn a_generator_in_a_greenlet_may_make_green_calls() {
    let _w = util::watchdog();
    for neighbour in [true, false] {
        let (items, ticks) = green::run(move || {
            let ticks = Rc::new(Cell::new(0));
            let t = ticks.clone();
            let other = neighbour.then(|| {
                green::spawn(move || {
                    for _ in 0..20 {
                        t.set(t.get() + 1);
                        green::yield_now();
                    }
                })
            });
            let items = green::spawn(|| {
                Gn::<()>::new_scoped_local(|mut scope| {
                    for i in 0..10 {
                        scope.yield_with(i);
                        green::yield_now();
                    }
                    green::sleep(Duration::from_millis(2));
                    10
                })
                .collect::<Vec<i32>>()
            })
            .join()
            .unwrap();
            if let Some(o) = other {
                o.join().unwrap();
            }
            (items, ticks.get())
        });
        // A generator's return value comes last, as a yield does.
        assert_eq!(items, (0..=10).collect::<Vec<_>>(), "neighbour {neighbour}");
        assert_eq!(ticks, if neighbour { 20 } else { 0 });
    }
}

/// Green waits of every kind from the generator's body: a sleep, a channel
/// receive woken by another greenlet, a join.
#[test]
fn a_generator_s_body_waits_and_is_woken_by_other_greenlets() {
    let _w = util::watchdog();
    let got = green::run(|| {
        let (tx, rx) = green::channel::unbounded::<i32>();
        let sender = green::spawn(move || {
            for i in 0..3 {
                green::sleep(Duration::from_millis(1));
                tx.send(i * 10).unwrap();
            }
        });
        let sum = green::spawn(move || {
            Gn::<()>::new_scoped_local(move |mut scope| {
                while let Ok(v) = rx.recv() {
                    scope.yield_with(v);
                }
                let helper = green::spawn(|| 5);
                helper.join().unwrap()
            })
            .sum::<i32>()
        });
        sender.join().unwrap();
        sum.join().unwrap()
    });
    assert_eq!(got, 10 + 20 + 5); // the values received, then the join's
}

/// A greenlet killed while suspended inside its generator unwinds through
/// the generator's frames (their destructors run) and its own; a
/// `green::timeout` around the iteration fires the same way; the hub is
/// sound afterwards.
#[test]
fn a_greenlet_suspended_inside_its_generator_can_be_killed_or_timed_out() {
    let _w = util::watchdog();
    let drops = util::Drops::new();
    let (killed, timed_out) = green::run(|| {
        let guard = drops.guard();
        let victim = green::spawn(move || {
            let items = Gn::<()>::new_scoped_local(move |mut scope| {
                let _g = guard;
                scope.yield_with(1);
                green::sleep(Duration::from_secs(3600));
                2
            });
            items.sum::<i32>()
        });
        green::sleep(Duration::from_millis(5));
        victim.kill();
        let killed = victim.join().is_err_and(|e| e.is_killed());
        let guard = drops.guard();
        let timed_out = green::spawn(move || {
            green::timeout(Duration::from_millis(5), || {
                Gn::<()>::new_scoped_local(move |mut scope| {
                    let _g = guard;
                    scope.yield_with(1);
                    green::sleep(Duration::from_secs(3600));
                    2
                })
                .sum::<i32>()
            })
            .is_err()
        })
        .join()
        .unwrap();
        assert_eq!(green::spawn(|| 7).join().unwrap(), 7);
        (killed, timed_out)
    });
    assert!(killed && timed_out);
    assert_eq!(drops.count(), 2, "the generators' frames were not unwound");
}

/// `run` returning while a greenlet is suspended inside its generator
/// kills it there: its generator's frames unwind too.
#[test]
fn run_ends_with_a_greenlet_suspended_inside_its_generator() {
    let _w = util::watchdog();
    let drops = util::Drops::new();
    green::run(|| {
        let guard = drops.guard();
        green::spawn(move || {
            Gn::<()>::new_scoped_local(move |mut scope| {
                let _g = guard;
                scope.yield_with(1);
                green::sleep(Duration::from_secs(3600));
                2
            })
            .sum::<i32>()
        });
        green::sleep(Duration::from_millis(5));
    });
    assert_eq!(drops.count(), 1);
}
