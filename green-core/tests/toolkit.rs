//! gevent's toolkit: events, queues, semaphores, pools, collections,
//! greenlet-locals; the unhappy paths included.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use green::event::{AsyncResult, Event};
use green::lock::{BoundedSemaphore, Semaphore, TooManyReleases};
use green::pool::{Group, Pool};
use green::queue::{Empty, Full, JoinableQueue, LifoQueue, PriorityQueue, Queue};

mod util;

const LONG: Duration = Duration::from_secs(60);

/// Spawns waiters 1 and 2 on `shared`, each logging what `wait(&shared,
/// its number)` returns, and lets them begin to wait.
fn two_waiters<S: 'static>(
    shared: &Rc<S>,
    log: &util::Log,
    wait: impl Fn(&S, usize) -> String + Clone + 'static,
) -> Vec<green::JoinHandle<()>> {
    let waiters = (1..=2)
        .map(|i| {
            let (shared, log, wait) = (shared.clone(), log.clone(), wait.clone());
            green::spawn(move || log.push(wait(&shared, i)))
        })
        .collect();
    green::yield_now(); // both wait
    waiters
}

#[test]
fn event_wakes_all_waiters_and_stays_set_until_cleared() {
    green::run(|| {
        let e = Rc::new(Event::new());
        let woken = Rc::new(Cell::new(0));
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let (e, woken) = (e.clone(), woken.clone());
                green::spawn(move || {
                    e.wait();
                    woken.set(woken.get() + 1);
                })
            })
            .collect();
        green::yield_now();
        assert_eq!(woken.get(), 0);
        e.set();
        green::joinall(waiters);
        assert_eq!(woken.get(), 5);
        assert!(e.wait_timeout(Duration::ZERO), "still set");
        e.clear();
        let start = Instant::now();
        assert!(!e.wait_timeout(Duration::from_millis(5)));
        assert!(start.elapsed() >= Duration::from_millis(5));
    });
}

/// gevent's (and Python's threading.Event since bpo-13502): `set` wakes
/// every greenlet waiting at that moment, even if `clear` follows before
/// they run, and their `wait` returns true.
#[test]
fn an_event_pulse_wakes_every_waiter() {
    let _w = util::watchdog();
    green::run(|| {
        let e = Rc::new(Event::new());
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let e = e.clone();
                green::spawn(move || {
                    if i % 2 == 0 {
                        e.wait();
                        true
                    } else {
                        e.wait_timeout(LONG)
                    }
                })
            })
            .collect();
        green::yield_now(); // all four wait
        e.set();
        e.clear(); // a pulse
        let got = green::timeout(Duration::from_secs(5), || green::joinall(waiters));
        let got: Vec<bool> = got
            .expect("the pulse woke every waiter")
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, [true; 4]);
        // It is clear: a later wait waits again.
        assert!(!e.is_set());
        assert!(!e.wait_timeout(Duration::from_millis(5)));
    });
}

/// The same across threads: a greenlet of one hub waits, another thread
/// pulses the event while that hub's thread is blocked, so the waiter
/// only runs again once the flag is clear.
#[test]
fn an_event_pulse_from_another_thread_wakes_a_greenlet_of_another_hub() {
    let _w = util::watchdog();
    let e = Arc::new(Event::new());
    let (go, went) = mpsc::channel::<()>();
    let (pulsed, was_pulsed) = mpsc::channel::<()>();
    let pulser = {
        let e = e.clone();
        std::thread::spawn(move || {
            went.recv().unwrap();
            e.set();
            e.clear();
            pulsed.send(()).unwrap();
        })
    };
    green::run(|| {
        let waiter = {
            let e = e.clone();
            green::spawn(move || e.wait_timeout(LONG))
        };
        green::yield_now(); // it waits
        go.send(()).unwrap();
        was_pulsed.recv().unwrap(); // blocks the hub: the waiter has not run
        let got = green::timeout(Duration::from_secs(5), || waiter.join());
        assert!(
            matches!(got, Ok(Ok(true))),
            "the pulse did not wake the waiter"
        );
    });
    pulser.join().unwrap();
}

/// gevent's (issue 1520): a greenlet that waits on an event already set,
/// while the greenlets that set woke have not run yet, returns after
/// them, not at once ahead of them; `wait_timeout` too, and true.
#[test]
fn a_wait_on_an_event_still_waking_its_waiters_comes_after_them() {
    let _w = util::watchdog();
    green::run(|| {
        let e = Rc::new(Event::new());
        let log = util::Log::new();
        two_waiters(&e, &log, |e, i| {
            if i == 1 {
                e.wait();
            } else {
                assert!(e.wait_timeout(LONG));
            }
            i.to_string()
        });
        e.set();
        e.wait();
        log.push("3");
        assert_eq!(log.take(), ["1", "2", "3"]);
        // Once they have run, a wait on the set event returns at once.
        e.wait();
        assert!(e.wait_timeout(Duration::ZERO));
        log.push("4");
        assert_eq!(log.take(), ["4"]);
    });
}

/// The same with `wait_timeout`, which returns true, whatever its timeout:
/// a zero one comes after them too, as gevent's (its `wait(0)` on an event
/// still notifying waits for its turn); once they ran, it returns at once.
#[test]
fn a_timed_wait_on_an_event_still_waking_its_waiters_comes_after_them() {
    let _w = util::watchdog();
    green::run(|| {
        let e = Rc::new(Event::new());
        let log = util::Log::new();
        two_waiters(&e, &log, |e, i| {
            e.wait();
            i.to_string()
        });
        e.set();
        assert!(e.wait_timeout(Duration::ZERO));
        log.push("0");
        assert!(e.wait_timeout(Duration::ZERO));
        log.push("3");
        assert_eq!(log.take(), ["1", "2", "0", "3"]);
    });
}

/// The same for `AsyncResult::get` and `get_timeout`.
#[test]
fn a_get_of_an_async_result_still_waking_its_getters_comes_after_them() {
    let _w = util::watchdog();
    green::run(|| {
        let r: Rc<AsyncResult<u8, ()>> = Rc::new(AsyncResult::new());
        let log = util::Log::new();
        two_waiters(&r, &log, |r, i| {
            assert_eq!(r.get(), Ok(7));
            i.to_string()
        });
        r.set(Ok(7));
        assert_eq!(r.get_timeout(LONG), Some(Ok(7)));
        log.push("3");
        assert_eq!(log.take(), ["1", "2", "3"]);

        let r: Rc<AsyncResult<u8, ()>> = Rc::new(AsyncResult::new());
        two_waiters(&r, &log, |r, i| {
            assert_eq!(r.get_timeout(LONG), Some(Ok(8)));
            i.to_string()
        });
        r.set(Ok(8));
        assert_eq!(r.try_get(), Some(Ok(8)), "try_get does not wait");
        log.push("0");
        assert_eq!(r.get_timeout(Duration::ZERO), Some(Ok(8)));
        log.push("3");
        assert_eq!(log.take(), ["0", "1", "2", "3"]);
    });
}

/// A woken waiter killed before it runs (the kill came first, the set
/// while it was still to unwind) leaves the wait without holding up later
/// waits: they come after the other woken waiter, and then at once.
#[test]
fn a_woken_waiter_killed_before_it_runs_does_not_hold_up_later_waits() {
    let _w = util::watchdog();
    green::run(|| {
        let e = Rc::new(Event::new());
        let log = util::Log::new();
        let mut waiters = two_waiters(&e, &log, |e, i| {
            e.wait();
            i.to_string()
        });
        let victim = waiters.remove(0);
        let killer = green::spawn(move || {
            victim.kill();
            victim.join()
        });
        green::yield_now(); // the killer marks the victim and waits for it
        e.set(); // wakes the other waiter; the victim is to unwind
        let waited = green::timeout(Duration::from_secs(5), || e.wait());
        assert!(waited.is_ok(), "a killed waiter left the event waiting");
        log.push("3");
        assert_eq!(log.take(), ["2", "3"]);
        assert!(killer.join().unwrap().unwrap_err().is_killed());
        e.clear();
        e.set();
        let again = green::timeout(Duration::from_secs(5), || e.wait());
        assert!(again.is_ok(), "a later wait on the set event waited");
    });
}

/// A waiter killed while it waits behind woken ones leaves the line: the
/// others behind them still go, in the order they came, once the woken
/// waiter has run.
#[test]
fn a_waiter_killed_behind_woken_waiters_leaves_the_line() {
    let _w = util::watchdog();
    green::run(|| {
        let e = Rc::new(Event::new());
        let log = util::Log::new();
        let waiter = |name: &'static str| {
            let (e, log) = (e.clone(), log.clone());
            green::spawn(move || {
                e.wait();
                log.push(name);
            })
        };
        let woken = waiter("woken");
        green::yield_now(); // it waits

        // These run before the woken waiter, which the set queues after
        // them: they find the event set and wait behind it.
        let victim = waiter("victim");
        let other = waiter("other");
        let killer = green::spawn(move || victim.kill());
        e.set();
        let waited = green::timeout(Duration::from_secs(5), || e.wait());
        assert!(waited.is_ok(), "the woken waiter never let the line go");
        log.push("main");
        green::joinall([woken, other, killer]);
        assert_eq!(log.take(), ["woken", "main", "other"]);
        e.wait(); // at once
    });
}

/// A woken waiter whose own timeout passed too before it ran (the hub was
/// held up) still counts as woken, returns true, and lets later waits go.
#[test]
fn a_woken_waiter_whose_timeout_passed_too_lets_later_waits_go() {
    let _w = util::watchdog();
    green::run(|| {
        let e = Rc::new(Event::new());
        let log = util::Log::new();
        two_waiters(&e, &log, |e, i| {
            let got = if i == 1 {
                e.wait_timeout(Duration::from_millis(5))
            } else {
                green::timeout(Duration::from_millis(5), || e.wait()).is_ok()
            };
            format!("{i} {got}")
        });
        std::thread::sleep(Duration::from_millis(20)); // both timeouts pass
        e.set();
        let waited = green::timeout(Duration::from_secs(5), || e.wait());
        assert!(waited.is_ok(), "a timed-out waiter left the event waiting");
        log.push("3");
        assert_eq!(log.take(), ["1 true", "2 true", "3"]);
    });
}

/// With the pulse of 306be17 (set then clear before the woken waiters
/// run): a wait after the clear waits for the next set, as before; a set
/// again before they ran makes a later wait come after them, as one set.
#[test]
fn a_wait_after_a_pulse_waits_for_the_next_set_and_a_second_set_queues_it() {
    let _w = util::watchdog();
    green::run(|| {
        let e = Rc::new(Event::new());
        let log = util::Log::new();
        let spawn_waiters = |log: &util::Log| {
            two_waiters(&e, log, |e, i| {
                assert!(e.wait_timeout(LONG));
                i.to_string()
            })
        };
        spawn_waiters(&log);
        e.set();
        e.clear();
        assert!(!e.wait_timeout(Duration::from_millis(5)), "clear: it waits");
        assert_eq!(log.take(), ["1", "2"]);

        spawn_waiters(&log);
        e.set();
        e.clear();
        e.set();
        e.wait();
        log.push("3");
        assert_eq!(log.take(), ["1", "2", "3"]);
    });
}

/// A thread outside `run` that waits on the set event while a greenlet
/// it woke has not run (its hub is held up) returns at once: across
/// threads there is no order to keep, and waiting for that hub would make
/// a hub that waits for the thread deadlock.
#[test]
fn a_thread_waiting_on_an_event_still_waking_a_greenlet_returns_at_once() {
    let _w = util::watchdog();
    let e = Arc::new(Event::new());
    let (woke, has_woken) = mpsc::channel::<&'static str>();
    green::run(|| {
        let greenlet = {
            let (e, woke) = (e.clone(), woke.clone());
            green::spawn(move || {
                e.wait();
                woke.send("greenlet").unwrap();
            })
        };
        green::yield_now(); // it waits
        e.set();
        let thread = {
            let e = e.clone();
            std::thread::spawn(move || {
                e.wait();
                woke.send("thread").unwrap();
            })
        };
        // The hub is held up until the thread's wait has returned.
        thread.join().unwrap();
        greenlet.join().unwrap();
    });
    assert_eq!(
        has_woken.try_iter().collect::<Vec<_>>(),
        ["thread", "greenlet"]
    );
}

#[test]
fn async_result_delivers_a_value_or_an_error_to_every_getter() {
    green::run(|| {
        let r: Rc<AsyncResult<String, String>> = Rc::new(AsyncResult::new());
        let getters: Vec<_> = (0..3)
            .map(|_| {
                let r = r.clone();
                green::spawn(move || r.get())
            })
            .collect();
        green::yield_now();
        assert_eq!(r.get_timeout(Duration::from_millis(1)), None);
        r.set(Err("boom".into()));
        for g in getters {
            assert_eq!(g.join().unwrap(), Err("boom".to_string()));
        }
        let second =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.set(Ok("x".into()))));
        assert!(second.is_err(), "setting twice is a bug");
    });
}

#[test]
fn queue_flavours_order_their_items() {
    let fifo = Queue::unbounded();
    let lifo = LifoQueue::unbounded();
    let prio = PriorityQueue::unbounded();
    for n in [2, 3, 1] {
        fifo.put(n);
        lifo.put(n);
        prio.put(n);
    }
    let drain = |get: &dyn Fn() -> Result<i32, Empty>| {
        std::iter::from_fn(|| get().ok()).collect::<Vec<_>>()
    };
    assert_eq!(drain(&|| fifo.try_get()), [2, 3, 1]);
    assert_eq!(drain(&|| lifo.try_get()), [1, 3, 2]);
    assert_eq!(drain(&|| prio.try_get()), [3, 2, 1]);
}

#[test]
fn bounded_queue_put_waits_and_times_out() {
    green::run(|| {
        let q = Rc::new(Queue::bounded(2));
        q.put(1);
        q.put(2);
        let start = Instant::now();
        assert_eq!(q.put_timeout(3, Duration::from_millis(5)), Err(Full(3)));
        assert!(start.elapsed() >= Duration::from_millis(5));
        let q2 = q.clone();
        let putter = green::spawn(move || q2.put(3)); // waits for room
        green::yield_now();
        assert!(!putter.is_finished());
        assert_eq!(q.get(), 1);
        putter.join().unwrap();
        assert_eq!((q.get(), q.get()), (2, 3));
        assert_eq!(q.get_timeout(Duration::from_millis(1)), Err(Empty));
    });
}

#[test]
fn a_killed_getter_does_not_lose_an_item() {
    green::run(|| {
        let q = Rc::new(Queue::unbounded());
        let (q1, q2) = (q.clone(), q.clone());
        let victim = green::spawn(move || q1.get());
        let other = green::spawn(move || q2.get());
        green::yield_now(); // both wait, victim first
        let q3 = q.clone();
        let putter = green::spawn(move || q3.put("item")); // notifies the victim
        victim.kill();
        putter.join().unwrap();
        assert_eq!(other.join().unwrap(), "item");
    });
}

#[test]
fn joinable_queue_join_waits_for_task_done() {
    green::run(|| {
        let q = Rc::new(JoinableQueue::unbounded());
        let done = Rc::new(Cell::new(0));
        for n in 0..10 {
            q.put(n);
        }
        for _ in 0..3 {
            let (q, done) = (q.clone(), done.clone());
            green::spawn(move || loop {
                let _ = q.get();
                green::sleep(Duration::from_millis(1));
                done.set(done.get() + 1);
                q.task_done();
            });
        }
        q.join();
        assert_eq!(done.get(), 10);
        let extra = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.task_done()));
        assert!(extra.is_err(), "one task_done too many is a bug");
    });
}

/// gevent's `join` waits on an event that `task_done` sets when the count
/// reaches 0 and `put` clears; a waiter woken by the set returns even if a
/// put cleared it first. Green's waited again, for the new item too.
#[test]
fn joinable_queue_join_returns_once_all_were_done_even_if_more_came_since() {
    let _watchdog = util::watchdog();
    green::run(|| {
        let q = Rc::new(JoinableQueue::unbounded());
        q.put(1);
        let joiner = {
            let q = q.clone();
            green::spawn(move || q.join())
        };
        green::yield_now(); // the joiner waits
        let _ = q.get();
        q.task_done(); // all done: the joiner is woken…
        q.put(2); // …and an item comes before it runs
        let joined = green::timeout(Duration::from_secs(5), || joiner.join());
        assert!(
            joined.is_ok(),
            "join waited for the item put after all were done"
        );
        assert_eq!(q.len(), 1);
    });
}

#[test]
fn semaphore_caps_and_a_killed_waiter_loses_no_permit() {
    green::run(|| {
        let sem = Rc::new(Semaphore::new(1));
        let held = sem.acquire();
        let (s1, s2) = (sem.clone(), sem.clone());
        let victim = green::spawn(move || drop(s1.acquire()));
        let other = green::spawn(move || drop(s2.acquire()));
        green::yield_now();
        drop(held); // the permit goes to the victim...
        victim.kill(); // ...which dies before using it: it must come back
        other.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
        assert!(sem.try_acquire().is_some());
        assert!(sem.acquire_timeout(Duration::from_millis(1)).is_some());
    });
}

/// It wrapped before (release builds) or panicked with an arithmetic
/// overflow after counting the permits (debug builds), leaving 0 free.
#[test]
fn adding_permits_past_usize_max_is_a_clear_panic_that_changes_nothing() {
    let sem = Semaphore::new(usize::MAX - 1);
    sem.add_permits(1);
    let err = std::panic::catch_unwind(|| sem.add_permits(1)).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("more than usize::MAX"), "{msg}");
    assert_eq!(sem.available_permits(), usize::MAX);
    green::run(|| drop(sem.acquire()));
    assert_eq!(sem.available_permits(), usize::MAX);
    // Held permits count too: their return could not overflow otherwise
    // (it panicked in the permit's drop).
    let sem = Semaphore::new(1);
    green::run(|| {
        let held = sem.acquire();
        let err =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sem.add_permits(usize::MAX)))
                .unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("more than usize::MAX"), "{msg}");
        drop(held);
    });
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn bounded_semaphore_refuses_extra_releases() {
    let sem = BoundedSemaphore::new(2);
    sem.acquire().forget();
    assert_eq!(sem.available_permits(), 1);
    assert_eq!(sem.release(), Ok(()));
    assert_eq!(sem.release(), Err(TooManyReleases));
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn pool_never_runs_more_than_its_size() {
    green::run(|| {
        let pool = Pool::new(3);
        let running = Rc::new(Cell::new(0));
        let most = Rc::new(Cell::new(0));
        for i in 0..20u64 {
            let (running, most) = (running.clone(), most.clone());
            pool.spawn(move || {
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                green::sleep(Duration::from_micros(100 * (i % 4)));
                running.set(running.get() - 1);
            });
        }
        pool.join();
        assert_eq!(most.get(), 3);
        assert_eq!(pool.free_count(), 3);
    });
}

/// gevent's `Pool()` has no bound; `Pool::new(usize::MAX)` is its
/// spelling. A slot freed at a greenlet's end went back as a new permit
/// (`add_permits`), so the semaphore's count of permits grew by one per
/// greenlet and, at usize::MAX slots, the first greenlet's end panicked
/// ("... and 1 more would be more than usize::MAX").
#[test]
fn a_pool_of_usize_max_slots_runs_greenlet_after_greenlet() {
    let _w = util::watchdog();
    green::run(|| {
        let pool = Pool::new(usize::MAX);
        assert_eq!(pool.map(|i: u32| i * 2, 0..3), [0, 2, 4]);
        assert_eq!(pool.map(|i: u32| i + 1, 0..3), [1, 2, 3]);
        assert_eq!(pool.free_count(), usize::MAX);
    });
}

#[test]
fn pool_maps_in_order_lazily_and_as_completed() {
    green::run(|| {
        let pool = Pool::new(4);
        let delays = [80u64, 10, 60, 40, 5];
        let work = |ms: u64| {
            green::sleep(Duration::from_millis(ms));
            ms
        };
        assert_eq!(pool.map(work, delays), delays);
        assert_eq!(
            pool.imap(work, delays).take(2).collect::<Vec<_>>(),
            [80, 10]
        );
        pool.join(); // the calls started by imap finish

        // 4 in flight at once: 5 starts when the first (10) ends, at about
        // 10 ms, and ends long before 40.
        assert_eq!(
            pool.imap_unordered(work, delays).collect::<Vec<_>>(),
            [10, 5, 40, 60, 80]
        );
    });
}

/// gevent's `Group.map`, `imap` and `imap_unordered`: every call at once,
/// each a member of the group while it runs; results in order or as they
/// finish; a panic comes out where its result is reached.
#[test]
fn group_maps_every_call_at_once() {
    let _w = util::watchdog();
    green::run(|| {
        let group = Rc::new(Group::new());
        let delays = [40u64, 10, 30, 20];
        let g = group.clone();
        let work = move |ms: u64| {
            let members = g.len();
            green::sleep(Duration::from_millis(ms));
            (ms, members)
        };
        // All four spawned before the first runs: each sees four members.
        assert_eq!(
            group.map(work.clone(), delays),
            [(40, 4), (10, 4), (30, 4), (20, 4)]
        );
        assert!(group.is_empty());
        let finished: Vec<u64> = group
            .imap_unordered(work.clone(), delays)
            .map(|(ms, _)| ms)
            .collect();
        assert_eq!(finished, [10, 20, 30, 40]);
        let mut lazy = group.imap(work, [10, 40, 30]);
        assert_eq!(lazy.next(), Some((10, 3)));
        assert_eq!(group.len(), 2, "the other calls run on");
        drop(lazy);
        group.join();

        let failing = |n: u32| {
            assert_ne!(n, 2, "call {n} fails");
            n
        };
        let err = util::panic_of(|| group.map(failing, 1..=3));
        assert!(err.contains("call 2 fails"), "{err}");
        group.join();
    });
}

/// A call of `imap_unordered` killed (its group killed under the
/// iterator), before it started or while it ran, comes out of the iterator
/// as one of `imap` does: a panic saying a call was killed. It hung for
/// ever when the call had not started (its closure, dropped unrun, never
/// reported), and it unwound the consumer as if it had been killed itself
/// when the call was running (the call caught its kill and handed it on).
#[test]
fn imap_unordered_reports_a_killed_call_as_imap_does() {
    let _w = util::watchdog();
    for started in [false, true] {
        for ordered in [true, false] {
            green::run(|| {
                let group = Rc::new(Group::new());
                let g = group.clone();
                let consumer = green::spawn(move || {
                    let f = |ms: u64| {
                        green::sleep(Duration::from_millis(ms));
                        ms
                    };
                    if ordered {
                        g.imap(f, [LONG.as_millis() as u64; 2]).count()
                    } else {
                        g.imap_unordered(f, [LONG.as_millis() as u64; 2]).count()
                    }
                });
                green::yield_now(); // the consumer spawns the calls
                if started {
                    green::yield_now(); // and they start sleeping
                }
                group.kill();
                let end = green::timeout(Duration::from_secs(5), || {
                    while !consumer.is_finished() {
                        green::yield_now();
                    }
                });
                if end.is_err() {
                    consumer.kill();
                }
                let what = format!("ordered {ordered}, started {started}");
                assert!(end.is_ok(), "{what}: the consumer waits for ever");
                let err = consumer.join().expect_err("a call was killed");
                assert!(
                    !err.is_killed(),
                    "{what}: the consumer unwound as if killed"
                );
                let msg = util::panic_message(&*err.into_panic());
                assert!(msg.contains("a call was killed"), "{what}: {msg}");
            });
        }
    }
}

#[test]
fn pool_map_propagates_a_panic() {
    green::run(|| {
        let pool = Pool::new(2);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.map(|n: u32| if n == 2 { panic!("bad item") } else { n }, 0..4)
        }));
        assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "bad item");
    });
}

#[test]
fn group_join_kill_and_collections() {
    green::run(|| {
        let group = Group::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        for ms in [3u64, 1, 2] {
            let log = log.clone();
            group.spawn(move || {
                green::sleep(Duration::from_millis(ms));
                log.borrow_mut().push(ms);
            });
        }
        assert!(!group.join_timeout(Duration::ZERO));
        group.join();
        assert_eq!(*log.borrow(), [1, 2, 3]);

        let sleepers: Vec<_> = (0..3).map(|_| group.spawn(|| green::sleep(LONG))).collect();
        green::yield_now();
        group.kill();
        assert!(sleepers.iter().all(|h| h.is_finished()));

        let hs: Vec<_> = [20u64, 5]
            .into_iter()
            .map(|ms| green::spawn(move || green::sleep(Duration::from_millis(ms))))
            .collect();
        assert_eq!(green::wait_any(&hs), 1);
        green::killall(&hs);
        assert!(hs.iter().all(|h| h.is_finished()));

        let linked = Rc::new(Cell::new(false));
        let l = linked.clone();
        let victim = green::spawn(|| green::sleep(LONG));
        let link = victim.link(move || l.set(true));
        victim.kill();
        link.join().unwrap();
        assert!(linked.get(), "a link runs however the greenlet ends");
    });
}

/// gevent's Group forgets a greenlet only once it has finished: a join or a
/// kill cut short by a timeout leaves the ones still running in the group,
/// so that a later kill (or len) still sees them.
#[test]
fn a_group_join_or_kill_cut_short_keeps_the_greenlets_still_running() {
    let _w = util::watchdog();
    green::run(|| {
        let group = Group::new();
        let sleepers: Vec<_> = (0..2).map(|_| group.spawn(|| green::sleep(LONG))).collect();
        assert!(!group.join_timeout(Duration::from_millis(5)));
        assert_eq!(group.len(), 2, "a join that timed out forgot a greenlet");
        assert!(green::timeout(Duration::from_millis(5), || group.join()).is_err());
        assert_eq!(group.len(), 2, "a join cut short forgot a greenlet");
        group.kill();
        assert!(group.is_empty());
        assert!(sleepers.iter().all(|h| h.is_finished()));

        // one catches the kill and naps once more: the kill is cut short
        let stubborn = group.spawn(|| {
            let _ = std::panic::catch_unwind(|| green::sleep(LONG));
            green::sleep(LONG);
        });
        green::yield_now();
        assert!(green::timeout(Duration::from_millis(5), || group.kill()).is_err());
        assert_eq!(
            group.len(),
            1,
            "a kill cut short forgot a greenlet still running"
        );
        group.kill();
        assert!(stubborn.is_finished() && group.is_empty());
    });
}

/// A member whose destructor kills its own group (a supervisor's guard)
/// while the member unwinds from a panic or a kill: the others die, the
/// member goes on unwinding, and the kill returns (44fe9c7's loop went
/// round for ever: the dying member, still unfinished, was its own last
/// snapshot, and a kill of a greenlet unwinding only marks it).
#[test]
fn a_group_kill_from_a_dying_member_s_destructor_returns() {
    let _w = util::watchdog();
    green::run(|| {
        struct KillsTheGroup(Rc<Group>, util::Log);
        impl Drop for KillsTheGroup {
            fn drop(&mut self) {
                self.0.kill();
                self.1.push("group killed");
            }
        }
        for panics in [true, false] {
            let group = Rc::new(Group::new());
            let log = util::Log::default();
            let other = group.spawn(|| green::sleep(LONG));
            let (g, l) = (group.clone(), log.clone());
            let supervisor = group.spawn(move || {
                let _guard = KillsTheGroup(g, l);
                if panics {
                    green::yield_now();
                    panic!("the supervisor fails");
                }
                green::sleep(LONG);
            });
            green::yield_now();
            if !panics {
                supervisor.kill();
            }
            let outcome = supervisor.join();
            assert!(outcome.is_err());
            assert_eq!(log.take(), ["group killed"]);
            assert!(other.is_finished() && group.is_empty());
        }
    });
}

green::local! {
    static COUNTER: Cell<u32> = Cell::new(0);
    static DROPS: RefCell<Option<Rc<Cell<u32>>>> = RefCell::new(None);
}

#[test]
fn greenlet_locals_are_per_greenlet_and_dropped_with_it() {
    green::run(|| {
        let dropped = Rc::new(Cell::new(0));
        struct CountDrop(Rc<Cell<u32>>);
        impl Drop for CountDrop {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        green::local!(static GUARD: RefCell<Option<CountDrop>> = RefCell::new(None));
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let dropped = dropped.clone();
                green::spawn(move || {
                    GUARD.with(|g| *g.borrow_mut() = Some(CountDrop(dropped)));
                    COUNTER.with(|c| c.set(c.get() + i));
                    green::yield_now();
                    COUNTER.with(|c| c.get())
                })
            })
            .collect();
        let victim = {
            let dropped = dropped.clone();
            green::spawn(move || {
                GUARD.with(|g| *g.borrow_mut() = Some(CountDrop(dropped)));
                green::sleep(LONG);
            })
        };
        let got: Vec<u32> = green::joinall(handles)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(dropped.get(), 3);
        victim.kill();
        assert_eq!(
            dropped.get(),
            4,
            "a killed greenlet's locals are dropped too"
        );
        COUNTER.with(|c| assert_eq!(c.get(), 0));
        DROPS.with(|d| assert!(d.borrow().is_none()));
    });
}

/// Waits on its event as it is dropped.
struct WaitsOnDrop(Arc<Event>);

impl Drop for WaitsOnDrop {
    fn drop(&mut self) {
        eprintln!("the destructor waits");
        self.0.wait();
        eprintln!("the destructor's wait returned");
    }
}

/// What the child of `a_waiter_leaked_at_a_shutdown_does_not_hold_up_later_waits`
/// does: a greenlet waits on an event in a destructor during its hub's
/// forced unwind (its stack is leaked, still counted as waiting); the
/// event is set after `run`, so that waiter counts as woken for good; then
/// later waits on the set event, in a greenlet and on a thread.
fn leaked_waiter_scenario() {
    let e = Arc::new(Event::new());
    util::leak_a_stack_dropping(WaitsOnDrop(e.clone()));
    e.set();
    green::run(|| e.wait());
    eprintln!("a greenlet's later wait returned");
    e.wait();
    eprintln!("a thread's later wait returned");
}

#[test]
fn a_waiter_leaked_at_a_shutdown_does_not_hold_up_later_waits() {
    let _w = util::watchdog();
    util::in_child_ok(
        "a_waiter_leaked_at_a_shutdown_does_not_hold_up_later_waits",
        leaked_waiter_scenario,
        &[
            "the destructor waits",
            "a greenlet's later wait returned",
            "a thread's later wait returned",
        ],
    );
}
