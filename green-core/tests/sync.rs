//! green::sync: Mutex, RwLock, Condvar, Barrier: ordering, poisoning, kills,
//! timeouts, threads.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{mpsc, Arc, PoisonError};
use std::time::{Duration, Instant};

use green::sync::{Barrier, Condvar, Mutex, RwLock, RwLockWriteGuard};

mod util;

type Log = Rc<RefCell<Vec<String>>>;

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

#[test]
fn mutex_waiters_get_the_lock_in_arrival_order() {
    let log: Log = Rc::default();
    green::run(|| {
        let m = Rc::new(Mutex::new(()));
        let held = m.lock().unwrap();
        let waiters: Vec<_> = (0..4)
            .map(|i| {
                let (m, log) = (m.clone(), log.clone());
                green::spawn(move || {
                    let _g = m.lock().unwrap();
                    push(&log, format!("got {i}"));
                    green::yield_now(); // hold it across a switch
                    push(&log, format!("release {i}"));
                })
            })
            .collect();
        green::yield_now(); // all four wait
        push(&log, "main releases");
        drop(held);
        green::joinall(waiters);
    });
    let expected: Vec<String> = std::iter::once("main releases".to_string())
        .chain((0..4).flat_map(|i| [format!("got {i}"), format!("release {i}")]))
        .collect();
    assert_eq!(*log.borrow(), expected);
}

#[test]
fn try_lock_does_not_barge_past_waiters() {
    green::run(|| {
        let m = Rc::new(Mutex::new(0));
        let held = m.lock().unwrap();
        let m2 = m.clone();
        let waiter = green::spawn(move || *m2.lock().unwrap() += 1);
        green::yield_now();
        drop(held); // handed to the waiter, which has not run yet
        assert!(m.try_lock().is_err(), "the lock belongs to the waiter now");
        waiter.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 1);
    });
}

#[test]
fn a_panic_while_holding_the_lock_poisons_it() {
    green::run(|| {
        let m = Rc::new(Mutex::new(vec![1]));
        let m2 = m.clone();
        let h = green::spawn(move || {
            let mut g = m2.lock().unwrap();
            g.push(2);
            panic!("boom");
        });
        assert!(h.join().unwrap_err().is_panic());
        assert!(m.is_poisoned());
        let err = m.lock().unwrap_err();
        assert_eq!(*err.into_inner(), [1, 2], "the data survives");
        m.clear_poison();
        assert!(m.lock().is_ok());
    });
}

#[test]
fn a_kill_while_holding_the_lock_poisons_and_releases_it() {
    green::run(|| {
        let m = Rc::new(Mutex::new(0));
        let m2 = m.clone();
        let h = green::spawn(move || {
            let _g = m2.lock().unwrap();
            green::sleep(Duration::from_secs(3600));
        });
        green::yield_now();
        assert!(m.try_lock().is_err());
        h.kill();
        assert!(m.is_poisoned(), "interrupted in its critical section");
        assert!(m
            .try_lock()
            .is_err_and(|e| matches!(e, std::sync::TryLockError::Poisoned(_))));
    });
}

/// Bumps a counter behind a lock when dropped: a greenlet that unwinds
/// while the lock is held elsewhere is suspended mid-unwind in it.
struct LocksOnDrop(Rc<Mutex<i32>>);

impl Drop for LocksOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }
}

/// Locks `held` (already locked by the caller) in a greenlet that panics:
/// once the caller yields, that greenlet is suspended mid-unwind, waiting
/// for `held` in a destructor, and `std::thread::panicking()` is true for
/// every greenlet of the thread.
fn unwind_waiting_for(held: &Rc<Mutex<i32>>) -> green::JoinHandle<()> {
    let held = held.clone();
    let h = green::spawn(move || {
        let _r = LocksOnDrop(held);
        panic!("fails, and waits for a lock while it unwinds");
    });
    green::yield_now();
    h
}

#[test]
fn poisoning_follows_the_holder_not_the_thread() {
    let _w = util::watchdog();
    green::run(|| {
        let m1 = Rc::new(Mutex::new(0));
        let held = m1.lock().unwrap();
        let unwinding = unwind_waiting_for(&m1);
        // Locked while a neighbour unwinds, then panicked in: poisoned.
        let m3 = Rc::new(Mutex::new(0));
        let m3c = m3.clone();
        let c = green::spawn(move || {
            let _g = m3c.lock().unwrap();
            green::park();
            panic!("fails holding m3");
        });
        green::yield_now(); // c holds m3 and parks
                            // Released normally while a neighbour unwinds: not poisoned.
        drop(held);
        assert!(!m1.is_poisoned(), "a normal unlock poisoned the mutex");
        assert!(unwinding.join().unwrap_err().is_panic());
        assert!(
            !m1.is_poisoned(),
            "locked while unwinding: std does not poison"
        );
        assert_eq!(*m1.lock().unwrap(), 1);
        c.greenlet().unpark();
        assert!(c.join().unwrap_err().is_panic());
        assert!(m3.is_poisoned(), "its holder panicked");
    });
}

#[test]
fn rwlock_poisoning_follows_the_writer_not_the_thread() {
    let _w = util::watchdog();
    green::run(|| {
        let gate = Rc::new(Mutex::new(0));
        let held = gate.lock().unwrap();
        let lock = Rc::new(RwLock::new(0));
        let mut w = lock.write().unwrap();
        let unwinding = unwind_waiting_for(&gate);
        // Released normally while a neighbour unwinds: not poisoned.
        *w += 1;
        drop(w);
        assert!(!lock.is_poisoned(), "a normal unlock poisoned the lock");
        // Locked while a neighbour unwinds, then panicked in: poisoned.
        let l = lock.clone();
        let writer = green::spawn(move || {
            let _w = l.write().unwrap();
            green::park();
            panic!("fails holding the write lock");
        });
        green::yield_now(); // the writer holds the lock and parks
        drop(held);
        assert!(unwinding.join().unwrap_err().is_panic());
        writer.greenlet().unpark();
        assert!(writer.join().unwrap_err().is_panic());
        assert!(lock.is_poisoned(), "its holder panicked");
    });
}

#[test]
fn a_condvar_waiter_woken_while_a_neighbour_unwinds_passes_nothing_on() {
    let _w = util::watchdog();
    green::run(|| {
        let gate = Rc::new(Mutex::new(0));
        let held = gate.lock().unwrap();
        let unwinding = unwind_waiting_for(&gate);
        let pair = Rc::new((Mutex::new(()), Condvar::new()));
        let woken = Rc::new(Cell::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (pair, woken) = (pair.clone(), woken.clone());
                green::spawn(move || {
                    let _g = pair.1.wait(pair.0.lock().unwrap()).unwrap();
                    woken.set(woken.get() + 1);
                })
            })
            .collect();
        green::yield_now(); // both wait
        pair.1.notify_one();
        for _ in 0..5 {
            green::yield_now();
        }
        assert_eq!(woken.get(), 1, "one notification woke two waiters");
        pair.1.notify_all();
        green::joinall(waiters);
        drop(held);
        assert!(unwinding.join().unwrap_err().is_panic());
    });
}

#[test]
fn a_killed_waiter_does_not_take_the_lock_with_it() {
    green::run(|| {
        let m = Rc::new(Mutex::new(0));
        let held = m.lock().unwrap();
        let (m1, m2) = (m.clone(), m.clone());
        let victim = green::spawn(move || *m1.lock().unwrap() += 100);
        let next = green::spawn(move || *m2.lock().unwrap() += 1);
        green::yield_now(); // both wait, victim first
        victim.kill();
        assert!(victim.join().unwrap_err().is_killed());
        drop(held);
        next.join().unwrap();
        assert_eq!(*m.lock().unwrap(), 1);
        assert!(!m.is_poisoned());
    });
}

#[test]
fn greenlets_and_threads_share_a_mutex() {
    static COUNTER: Mutex<u64> = Mutex::new(0);
    let threads: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..2_000 {
                    *COUNTER.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    green::run(|| {
        let workers: Vec<_> = (0..50)
            .map(|_| {
                green::spawn(|| {
                    for _ in 0..40 {
                        let mut n = COUNTER.lock().unwrap();
                        let before = *n;
                        green::yield_now(); // others run; none gets in
                        *n = before + 1;
                    }
                })
            })
            .collect();
        green::joinall(workers);
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*COUNTER.lock().unwrap(), 3 * 2_000 + 50 * 40);
}

#[test]
fn rwlock_readers_share_and_a_waiting_writer_holds_back_later_readers() {
    let log: Log = Rc::default();
    green::run(|| {
        let lock = Rc::new(RwLock::new(0));
        let reader = |id: &'static str, lock: Rc<RwLock<i32>>, log: Log| {
            green::spawn(move || {
                let g = lock.read().unwrap();
                push(&log, format!("{id} reads {}", *g));
                green::yield_now();
                push(&log, format!("{id} done"));
            })
        };
        let r1 = reader("r1", lock.clone(), log.clone());
        let r2 = reader("r2", lock.clone(), log.clone());
        let (l, lg) = (lock.clone(), log.clone());
        let w = green::spawn(move || {
            let mut g = l.write().unwrap();
            *g += 1;
            push(&lg, "w writes");
        });
        let r3 = reader("r3", lock.clone(), log.clone());
        green::joinall(vec![r1, r2, w, r3]);
    });
    assert_eq!(
        *log.borrow(),
        [
            "r1 reads 0",
            "r2 reads 0", // both readers at once
            "r1 done",
            "r2 done",
            "w writes",   // the writer waited for them
            "r3 reads 1", // r3 came after the writer: it waited for it
            "r3 done",
        ]
    );
}

#[test]
fn rwlock_poisoning_and_try() {
    green::run(|| {
        let lock = Rc::new(RwLock::new(1));
        let r = lock.read().unwrap();
        assert!(lock.try_write().is_err());
        assert!(lock.try_read().is_ok());
        drop(r);
        let l = lock.clone();
        let h = green::spawn(move || {
            let _w = l.write().unwrap();
            panic!("writer fails");
        });
        assert!(h.join().is_err());
        assert!(lock.is_poisoned());
        assert_eq!(*lock.read().unwrap_err().into_inner(), 1);
    });
}

#[test]
fn downgrade_lets_waiting_readers_in_and_keeps_writers_out() {
    let _w = util::watchdog();
    green::run(|| {
        let lock = Rc::new(RwLock::new(0));
        let log: Log = Rc::default();
        let mut w = lock.write().unwrap();
        let waiter = |write: bool| {
            let (lock, log) = (lock.clone(), log.clone());
            green::spawn(move || {
                if write {
                    *lock.write().unwrap() += 1;
                    push(&log, "writer");
                } else {
                    let n = *lock.read().unwrap();
                    push(&log, format!("reader saw {n}"));
                }
            })
        };
        let (reader, writer) = (waiter(false), waiter(true));
        green::yield_now(); // both wait, the reader first
        *w = 1;
        let r = RwLockWriteGuard::downgrade(w);
        reader.join().unwrap(); // got in beside the downgraded guard
        green::yield_now();
        assert_eq!(*log.borrow(), ["reader saw 1"], "the writer still waits");
        assert!(lock.try_write().is_err());
        assert_eq!(*r, 1);
        drop(r);
        writer.join().unwrap();
        assert_eq!(*lock.read().unwrap(), 2);
    });
}

#[test]
fn downgrade_outside_run_and_across_hubs() {
    let _w = util::watchdog();
    static LOCK: RwLock<u32> = RwLock::new(0);
    static MET: Barrier = Barrier::new(2);
    // Hub 0 write-locks, hub 1 waits to read; hub 1 can only reach the
    // second meeting once the downgrade let it in.
    green::Runtime::new().hubs(2).run(|hub| {
        if hub == 0 {
            let mut w = LOCK.write().unwrap();
            MET.wait();
            green::sleep(Duration::from_millis(20)); // hub 1 waits to read
            *w = 7;
            let r = RwLockWriteGuard::downgrade(w);
            MET.wait(); // hub 1 read while we hold the read lock
            drop(r);
        } else {
            MET.wait();
            let r = LOCK.read().unwrap();
            assert_eq!(*r, 7);
            MET.wait();
        }
    });
    // A plain thread waiting to read is let in too.
    let w = LOCK.write().unwrap();
    let reader = std::thread::spawn(|| *LOCK.read().unwrap());
    std::thread::sleep(Duration::from_millis(20)); // it waits
    let r = RwLockWriteGuard::downgrade(w);
    assert_eq!(
        reader.join().unwrap(),
        7,
        "read beside the downgraded guard"
    );
    assert!(LOCK.try_write().is_err());
    drop(r);
    assert!(LOCK.try_write().is_ok());
}

#[test]
fn condvar_notify_one_wakes_waiters_in_order() {
    let log: Log = Rc::default();
    green::run(|| {
        let pair = Rc::new((Mutex::new(0u32), Condvar::new()));
        let waiters: Vec<_> = (0..3)
            .map(|i| {
                let (pair, log) = (pair.clone(), log.clone());
                green::spawn(move || {
                    let (m, c) = &*pair;
                    let mut tickets = m.lock().unwrap();
                    while *tickets == 0 {
                        tickets = c.wait(tickets).unwrap();
                    }
                    *tickets -= 1;
                    push(&log, format!("w{i}"));
                })
            })
            .collect();
        green::yield_now(); // all three wait
        for _ in 0..3 {
            *pair.0.lock().unwrap() += 1;
            pair.1.notify_one();
            green::yield_now();
        }
        green::joinall(waiters);
    });
    assert_eq!(*log.borrow(), ["w0", "w1", "w2"]);
}

#[test]
fn condvar_wait_timeout_is_never_early() {
    green::run(|| {
        let (m, c) = (Mutex::new(()), Condvar::new());
        let start = Instant::now();
        let (_g, r) = c
            .wait_timeout(m.lock().unwrap(), Duration::from_millis(15))
            .unwrap();
        assert!(r.timed_out());
        assert!(start.elapsed() >= Duration::from_millis(15));
    });
}

/// `wait_timeout_while` that times out, then relocks a mutex poisoned
/// meanwhile (the poisoner locks it once the wait begins and panics after
/// the deadline): whether the `PoisonError` says it timed out.
fn timed_out_behind_poison(pair: &(Mutex<i32>, Condvar), poisoner: impl FnOnce()) -> bool {
    let (m, c) = pair;
    let guard = m.lock().unwrap();
    poisoner(); // it waits for the lock until the wait releases it
    let r = c.wait_timeout_while(guard, Duration::from_millis(30), |_| true);
    let (_guard, result) = r.expect_err("poisoned meanwhile").into_inner();
    result.timed_out()
}

/// A greenlet waiting on `pair`'s condvar until its flag is set.
fn spawn_waiter(pair: Rc<(Mutex<bool>, Condvar)>) -> green::JoinHandle<()> {
    green::spawn(move || {
        let (m, c) = &*pair;
        let _g = c.wait_while(m.lock().unwrap(), |ready| !*ready).unwrap();
    })
}

#[test]
fn wait_timeout_while_reports_the_timeout_with_the_poison() {
    let _w = util::watchdog();
    let pair = Arc::new((Mutex::new(0), Condvar::new()));
    let p = pair.clone();
    let outside = timed_out_behind_poison(&pair, move || {
        let (tid_tx, tid) = mpsc::channel();
        std::thread::spawn(move || {
            tid_tx.send(util::thread_id()).unwrap();
            let _g = p.0.lock().unwrap();
            std::thread::sleep(Duration::from_millis(60)); // past the deadline
            panic!("poisoner");
        });
        // Queued for the lock before the wait releases it, it gets the lock
        // then (waiters are served in order), however late the machine
        // runs it: not after the wait's deadline, when the waiter would
        // take the lock back unpoisoned.
        util::wait_until_asleep(tid.recv().unwrap());
    });
    assert!(outside, "outside run");
    let inside = green::run(|| {
        let pair = Rc::new((Mutex::new(0), Condvar::new()));
        let p = pair.clone();
        timed_out_behind_poison(&pair, move || {
            green::spawn(move || {
                let _g = p.0.lock().unwrap();
                green::sleep(Duration::from_millis(60)); // past the deadline
                panic!("poisoner");
            });
        })
    });
    assert!(inside, "inside run");
}

#[test]
fn a_notification_to_a_killed_waiter_is_passed_on() {
    green::run(|| {
        let pair = Rc::new((Mutex::new(false), Condvar::new()));
        let victim = spawn_waiter(pair.clone());
        let other = spawn_waiter(pair.clone());
        green::yield_now(); // both wait, victim first
        *pair.0.lock().unwrap() = true;
        // The notification goes to the victim, which is killed before it
        // can act on it: it must reach `other`.
        let p = pair.clone();
        let notifier = green::spawn(move || p.1.notify_one());
        victim.kill();
        notifier.join().unwrap();
        other.join().unwrap();
    });
}

/// As above, but the victim is killed after it woke, while it waits to
/// relock the mutex: the notification must still reach `other`.
#[test]
fn a_notified_waiter_killed_while_it_relocks_passes_the_notification_on() {
    let _w = util::watchdog();
    green::run(|| {
        let pair = Rc::new((Mutex::new(false), Condvar::new()));
        let victim = spawn_waiter(pair.clone());
        let other = spawn_waiter(pair.clone());
        green::yield_now(); // both wait, victim first
        let mut g = pair.0.lock().unwrap();
        *g = true;
        pair.1.notify_one(); // to the victim
        green::yield_now(); // it wakes, and waits for the mutex main holds
        victim.kill();
        assert!(victim.join().unwrap_err().is_killed());
        drop(g);
        let joined = green::timeout(Duration::from_secs(10), || other.join());
        assert!(
            matches!(joined, Ok(Ok(()))),
            "the other waiter never woke: the notification died with the victim"
        );
    });
}

/// As above, with the victim's `green::timeout` firing while it waits to
/// relock the mutex (in `wait_timeout_while`, whose own timeout is far).
#[test]
fn a_notified_waiter_timed_out_while_it_relocks_passes_the_notification_on() {
    let _w = util::watchdog();
    green::run(|| {
        let pair = Rc::new((Mutex::new(false), Condvar::new()));
        let deadline = Instant::now() + Duration::from_millis(100);
        let p = pair.clone();
        let victim = green::spawn(move || {
            let (m, c) = &*p;
            green::timeout_at(deadline, || {
                let far = Duration::from_secs(60);
                let _g = c
                    .wait_timeout_while(m.lock().unwrap(), far, |ready| !*ready)
                    .unwrap();
            })
            .is_err()
        });
        let other = spawn_waiter(pair.clone());
        green::yield_now(); // both wait, victim first
        let mut g = pair.0.lock().unwrap();
        *g = true;
        // To the victim, before its deadline: it wakes and waits for the
        // mutex main holds, and its timeout fires. Main waits for that with
        // the mutex held, however late the machine lets the hub run (a
        // sleep until a time already past would not let it run at all).
        pair.1.notify_one();
        assert!(
            victim.wait_timeout(Duration::from_secs(10)),
            "unwound by its timeout"
        );
        assert!(Instant::now() >= deadline, "not before its timeout");
        drop(g);
        assert!(victim.join().unwrap(), "it timed out");
        let joined = green::timeout(Duration::from_secs(10), || other.join());
        assert!(
            matches!(joined, Ok(Ok(()))),
            "the other waiter never woke: the notification died with the victim"
        );
    });
}

#[test]
fn a_condvar_serves_waiters_of_two_mutexes() {
    let _w = util::watchdog();
    // Outside run, as std's on Linux: no panic, no poisoned mutex.
    let c = Arc::new(Condvar::new());
    let c1 = c.clone();
    let (tid_tx, tid) = mpsc::channel();
    let first = std::thread::spawn(move || {
        let m1 = Mutex::new(());
        let g = m1.lock().unwrap();
        tid_tx.send(util::thread_id()).unwrap();
        let (_g, r) = c1.wait_timeout(g, Duration::from_secs(10)).unwrap();
        !r.timed_out()
    });
    // It waits with m1 (asleep, however late the machine ran it: a
    // notification before its wait would be lost).
    util::wait_until_asleep(tid.recv().unwrap());
    let m2 = Mutex::new(());
    let r = c.wait_timeout(m2.lock().unwrap(), Duration::from_millis(10));
    assert!(r.is_ok() && !m2.is_poisoned());
    c.notify_all();
    assert!(first.join().unwrap(), "notified");
    // Inside run, two greenlets with a mutex each, woken in order.
    green::run(|| {
        let c = Rc::new(Condvar::new());
        let log: Log = Rc::default();
        let waiters: Vec<_> = ["m1", "m2"]
            .into_iter()
            .map(|name| {
                let (c, log) = (c.clone(), log.clone());
                green::spawn(move || {
                    let m = Mutex::new(());
                    drop(c.wait(m.lock().unwrap()).unwrap());
                    push(&log, name);
                })
            })
            .collect();
        green::yield_now(); // both wait
        c.notify_one();
        c.notify_one();
        green::joinall(waiters);
        assert_eq!(*log.borrow(), ["m1", "m2"]);
    });
}

#[test]
fn a_thread_notifies_a_greenlet() {
    green::run(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            *p.0.lock().unwrap() = true;
            p.1.notify_all();
        });
        let ticker = green::spawn(|| {
            for _ in 0..3 {
                green::sleep(Duration::from_millis(1)); // the hub is not blocked
            }
        });
        let (m, c) = &*pair;
        let ready = c.wait_while(m.lock().unwrap(), |r| !*r).unwrap();
        assert!(*ready);
        drop(ready);
        t.join().unwrap();
        ticker.join().unwrap();
    });
}

#[test]
fn barrier_of_fifty_greenlets_has_one_leader_per_generation() {
    let log: Log = Rc::default();
    green::run(|| {
        let barrier = Rc::new(Barrier::new(50));
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (b, log) = (barrier.clone(), log.clone());
                green::spawn(move || {
                    let mut leaders = 0;
                    for round in 0..3 {
                        push(&log, format!("{round} arrive {i}"));
                        if b.wait().is_leader() {
                            leaders += 1;
                        }
                    }
                    leaders
                })
            })
            .collect();
        let leaders: usize = green::joinall(handles)
            .into_iter()
            .map(|r| r.unwrap())
            .sum();
        assert_eq!(leaders, 3);
    });
    // Nobody arrives for round n+1 before all arrived for round n.
    let rounds: Vec<u32> = log
        .borrow()
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(rounds.windows(2).all(|w| w[0] <= w[1]), "{rounds:?}");
    assert_eq!(rounds.len(), 150);
}

/// A waiter killed while it waits withdraws its arrival: the barrier still
/// waits for `n` live parties, in this generation and the next.
#[test]
fn a_killed_barrier_waiter_withdraws_its_arrival() {
    let _w = util::watchdog();
    green::run(|| {
        let barrier = Rc::new(Barrier::new(2));
        let b = barrier.clone();
        let killed = green::spawn(move || {
            b.wait();
        });
        green::yield_now(); // it waits
        killed.kill();
        assert!(killed.join().unwrap_err().is_killed());
        for round in 0..2 {
            let b = barrier.clone();
            let other = green::spawn(move || b.wait().is_leader());
            green::yield_now();
            assert!(
                !other.is_finished(),
                "round {round}: one party passed alone"
            );
            assert!(
                barrier.wait().is_leader(),
                "round {round}: the last to arrive leads"
            );
            assert!(!other.join().unwrap());
        }
    });
}

/// Likewise a waiter whose `green::timeout` fires.
#[test]
fn a_timed_out_barrier_waiter_withdraws_its_arrival() {
    let _w = util::watchdog();
    green::run(|| {
        let barrier = Rc::new(Barrier::new(3));
        let timed_out = green::timeout(Duration::from_millis(5), || barrier.wait());
        assert!(timed_out.is_err());
        for round in 0..2 {
            let others: Vec<_> = (0..2)
                .map(|_| {
                    let b = barrier.clone();
                    green::spawn(move || b.wait().is_leader())
                })
                .collect();
            green::yield_now();
            assert!(
                others.iter().all(|h| !h.is_finished()),
                "round {round}: two parties passed a barrier of three"
            );
            assert!(barrier.wait().is_leader(), "round {round}");
            let leaders: Vec<bool> = green::joinall(others)
                .into_iter()
                .map(Result::unwrap)
                .collect();
            assert_eq!(leaders, [false, false], "round {round}");
        }
    });
}

/// A waiter the barrier released keeps its release when it is killed
/// before it runs again (the kill waits for its next switch point), and
/// the next generation still takes two parties.
#[test]
fn a_released_barrier_waiter_killed_before_it_runs_keeps_its_release() {
    let _w = util::watchdog();
    green::run(|| {
        let barrier = Rc::new(Barrier::new(2));
        let b = barrier.clone();
        let released = green::spawn(move || b.wait().is_leader());
        green::yield_now(); // it waits
        assert!(barrier.wait().is_leader()); // releases it; it has not run yet
        released.kill();
        assert!(!released.join().unwrap());
        let b = barrier.clone();
        let other = green::spawn(move || b.wait().is_leader());
        green::yield_now();
        assert!(!other.is_finished(), "one party passed alone");
        assert!(barrier.wait().is_leader());
        assert!(!other.join().unwrap());
    });
}

/// Hubs on three threads share a barrier after a waiter of a fourth timed
/// out alone: every round still takes all three.
#[test]
fn a_barrier_shared_by_hubs_counts_only_live_parties() {
    let _w = util::watchdog();
    let barrier = Arc::new(Barrier::new(3));
    green::run(|| {
        assert!(green::timeout(Duration::from_millis(5), || barrier.wait()).is_err());
    });
    let leaders: usize = std::thread::scope(|s| {
        let hubs: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    green::run(|| {
                        (0..3)
                            .map(|_| {
                                green::timeout(Duration::from_secs(5), || barrier.wait())
                                    .expect("all three parties met")
                                    .is_leader()
                            })
                            .filter(|&leader| leader)
                            .count()
                    })
                })
            })
            .collect();
        hubs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(leaders, 3);
}

#[test]
fn barrier_wait_result_prints_as_std_s() {
    let _w = util::watchdog();
    let std = format!("{:?}", std::sync::Barrier::new(1).wait());
    assert_eq!(format!("{:?}", Barrier::new(1).wait()), std);
    assert_eq!(std, "BarrierWaitResult { is_leader: true }");
}

#[test]
fn locks_print_as_std_s_free_held_and_poisoned() {
    let _w = util::watchdog();
    let (green, std) = (Mutex::new(5), std::sync::Mutex::new(5));
    assert_eq!(format!("{green:?}"), format!("{std:?}"), "free");
    let held = (green.lock().unwrap(), std.lock().unwrap());
    assert_eq!(format!("{green:?}"), format!("{std:?}"), "held");
    assert_eq!(format!("{:?}", held.0), format!("{:?}", held.1), "guard");
    drop(held);
    let _ = std::panic::catch_unwind(|| {
        let _held = (green.lock().unwrap(), std.lock().unwrap());
        panic!("poison both");
    });
    assert_eq!(format!("{green:?}"), format!("{std:?}"), "poisoned");

    let (green, std) = (RwLock::new(5), std::sync::RwLock::new(5));
    let read = (green.read().unwrap(), std.read().unwrap());
    assert_eq!(format!("{green:?}"), format!("{std:?}"), "read");
    drop(read);
    let written = (green.write().unwrap(), std.write().unwrap());
    assert_eq!(format!("{green:?}"), format!("{std:?}"), "written");
    assert_eq!(format!("{:?}", written.0), format!("{:?}", written.1));
}

#[test]
fn an_unpark_during_a_lock_wait_is_kept_for_park() {
    // std's locks leave a thread's park token alone; green's waits on a lock
    // took it as a spurious wake-up until 2026-12-05, and the park after
    // waited for an unpark that had come already.
    let _w = util::watchdog();
    green::run(|| {
        let m = Rc::new(Mutex::new(()));
        let main = green::current();
        let holder = {
            let m = m.clone();
            green::spawn(move || {
                let _held = m.lock().unwrap();
                green::yield_now(); // main now waits for the lock
                main.unpark(); // comes while main waits
                green::yield_now();
            })
        };
        green::yield_now(); // the holder takes the lock
        drop(m.lock().unwrap());
        holder.join().unwrap();
        green::park(); // the unpark came before: returns at once
    });
}

#[test]
fn an_unpark_during_a_condvar_wait_is_kept_for_park() {
    let _w = util::watchdog();
    green::run(|| {
        let pair = Rc::new((Mutex::new(false), Condvar::new()));
        let main = green::current();
        let notifier = {
            let pair = pair.clone();
            green::spawn(move || {
                main.unpark(); // comes while main waits on the condvar
                green::yield_now();
                *pair.0.lock().unwrap() = true;
                pair.1.notify_one();
            })
        };
        let mut ready = pair.0.lock().unwrap();
        while !*ready {
            ready = pair.1.wait(ready).unwrap();
        }
        drop(ready);
        notifier.join().unwrap();
        green::park(); // returns at once
    });
}

#[test]
fn an_unpark_from_another_thread_during_a_lock_wait_is_kept_for_park() {
    let _w = util::watchdog();
    green::run(|| {
        let m = Arc::new(Mutex::new(()));
        let main = green::current();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let holder = {
            let m = m.clone();
            std::thread::spawn(move || {
                let held = m.lock().unwrap();
                locked.send(()).unwrap();
                main.unpark(); // while main waits for the lock, or just before
                std::thread::sleep(Duration::from_millis(50));
                drop(held);
            })
        };
        green::unblock(move || is_locked.recv().unwrap());
        drop(m.lock().unwrap());
        green::unblock(move || holder.join().unwrap());
        green::park(); // returns at once
    });
}

#[test]
fn outside_run_an_unpark_during_a_lock_wait_is_kept_for_park() {
    // A plain thread waiting on a green lock: its wait has a flag of its own,
    // and the thread's park token stays for `std::thread::park`, as with
    // std's locks.
    let _w = util::watchdog();
    let m = Arc::new(Mutex::new(()));
    let held = m.lock().unwrap();
    let waiter = {
        let m = m.clone();
        std::thread::spawn(move || {
            drop(m.lock().unwrap());
            std::thread::park(); // the unpark came before: returns at once
        })
    };
    waiter.thread().unpark();
    std::thread::sleep(Duration::from_millis(50)); // let it wait for the lock
    drop(held);
    waiter.join().unwrap();
}

/// What the child of `a_thread_local_destructor_can_wait_on_locks_and_condvars`
/// does: a thread whose thread-local (made before its first wait, so
/// dropped after green's own at its exit) waits in its destructor on a
/// condition variable (it times out) and on a mutex the test's thread
/// holds for a while.
fn locks_in_a_thread_local_destructor() {
    struct LocksOnDrop(Arc<Mutex<u32>>, std::sync::mpsc::Sender<()>);
    impl Drop for LocksOnDrop {
        fn drop(&mut self) {
            let (m, cv) = (Mutex::new(()), Condvar::new());
            let (_guard, waited) = cv
                .wait_timeout(m.lock().unwrap(), Duration::from_millis(2))
                .unwrap();
            self.1.send(()).unwrap();
            *self.0.lock().unwrap() += 1; // held by the test's thread: it waits
            eprintln!(
                "the destructor's waits returned: timed out {}",
                waited.timed_out()
            );
        }
    }
    thread_local! {
        static LOCKS: RefCell<Option<LocksOnDrop>> = const { RefCell::new(None) };
    }
    let shared = Arc::new(Mutex::new(0));
    let held = shared.lock().unwrap();
    let (about_to_lock, is_about_to_lock) = std::sync::mpsc::channel();
    let theirs = shared.clone();
    let t = std::thread::spawn(move || {
        LOCKS.with(|l| *l.borrow_mut() = Some(LocksOnDrop(theirs, about_to_lock)));
        // The thread's first wait that blocks: green's thread-locals come
        // after `LOCKS`, so they are dropped before it.
        let (m, cv) = (Mutex::new(()), Condvar::new());
        let _ = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(1));
    });
    is_about_to_lock.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20)); // it waits for the lock
    drop(held);
    t.join().unwrap();
    assert_eq!(*shared.lock().unwrap(), 1);
}

/// A wait on a lock or a condition variable in a thread-local's destructor
/// at the thread's exit works, as std's do (b526ee1 did it for channels):
/// green's thread parker, dropped first, was looked up with `with`, which
/// panicked there, and a panic in a thread-local's destructor aborts the
/// process.
#[test]
fn a_thread_local_destructor_can_wait_on_locks_and_condvars() {
    let _w = util::watchdog();
    util::in_child_ok(
        "a_thread_local_destructor_can_wait_on_locks_and_condvars",
        locks_in_a_thread_local_destructor,
        &["the destructor's waits returned: timed out true"],
    );
}
