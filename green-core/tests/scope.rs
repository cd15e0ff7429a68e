//! Scoped greenlets (inside `run`) and scoped OS threads (outside it):
//! borrowing, automatic joins, panics, kills, nested spawns.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The message of a panic payload.
fn message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Logs its name when dropped.
struct Noisy(&'static str, Rc<RefCell<Vec<String>>>);

impl Drop for Noisy {
    fn drop(&mut self) {
        self.1.borrow_mut().push(format!("drop {}", self.0));
    }
}

#[test]
fn scoped_greenlets_borrow_and_are_joined_automatically() {
    green::run(|| {
        let mut counter = 0;
        let data = vec![1, 2, 3];
        let finished = RefCell::new(Vec::new());
        green::scope(|s| {
            for i in 0..3 {
                let (data, finished) = (&data, &finished);
                s.spawn(move || {
                    green::sleep(Duration::from_millis(3 - i));
                    finished.borrow_mut().push(data[i as usize]);
                });
            }
            s.spawn(|| counter += 10);
        });
        // Every child finished before scope returned.
        assert_eq!(*finished.borrow(), [3, 2, 1]);
        assert_eq!(counter, 10);
    });
}

#[test]
fn an_unjoined_panic_makes_the_scope_panic_after_all_are_done() {
    green::run(|| {
        let done = RefCell::new(false);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            green::scope(|s| {
                s.spawn(|| panic!("child fails"));
                s.spawn(|| {
                    green::sleep(Duration::from_millis(2));
                    *done.borrow_mut() = true;
                });
            });
        }));
        let payload = result.unwrap_err();
        assert_eq!(
            payload.downcast_ref::<&str>().copied(),
            Some("a scoped greenlet panicked")
        );
        assert!(*done.borrow(), "the other child ran to the end first");
    });
}

#[test]
fn a_joined_panic_is_not_reported_again() {
    green::run(|| {
        let v = green::scope(|s| {
            let h = s.spawn(|| -> u8 { panic!("handled") });
            assert!(h.join().unwrap_err().is_panic());
            7
        });
        assert_eq!(v, 7);
    });
}

#[test]
fn killing_the_owner_kills_the_children_before_the_borrows_end() {
    let log = Rc::new(RefCell::new(Vec::new()));
    green::run(|| {
        let l = log.clone();
        let owner = green::spawn(move || {
            let _borrowed = Noisy("owner data", l.clone());
            let shared = &_borrowed;
            green::scope(|s| {
                for name in ["child 1", "child 2"] {
                    let l = l.clone();
                    s.spawn(move || {
                        let _guard = Noisy(name, l);
                        let _uses = shared; // borrows the owner's stack
                        green::sleep(Duration::from_secs(3600));
                    });
                }
                green::sleep(Duration::from_secs(3600));
            });
        });
        green::sleep(Duration::from_millis(2)); // everyone is asleep
        owner.kill();
        assert!(owner.join().unwrap_err().is_killed());
    });
    assert_eq!(
        *log.borrow(),
        ["drop child 1", "drop child 2", "drop owner data"]
    );
}

#[test]
fn a_kill_during_the_automatic_join_still_waits_for_the_children() {
    let log = Rc::new(RefCell::new(Vec::new()));
    green::run(|| {
        let l = log.clone();
        let owner = green::spawn(move || {
            let _borrowed = Noisy("owner data", l.clone());
            green::scope(|s| {
                let l = l.clone();
                s.spawn(move || {
                    let _guard = Noisy("child", l);
                    green::sleep(Duration::from_secs(3600));
                });
                // f returns at once: the owner waits in the automatic join
            });
        });
        green::sleep(Duration::from_millis(2));
        owner.kill();
        assert!(owner.join().unwrap_err().is_killed());
    });
    assert_eq!(*log.borrow(), ["drop child", "drop owner data"]);
}

#[test]
fn nested_scopes() {
    green::run(|| {
        let total = RefCell::new(0);
        green::scope(|outer| {
            for i in 1..=3 {
                let total = &total;
                outer.spawn(move || {
                    green::scope(|inner| {
                        for j in 1..=3 {
                            inner.spawn(move || *total.borrow_mut() += i * j);
                        }
                    });
                });
            }
        });
        assert_eq!(*total.borrow(), 36);
    });
}

#[test]
fn scope_is_send_and_sync_in_both_modes() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    green::scope(|s| assert_send_sync(s));
    green::run(|| green::scope(|s| assert_send_sync(s)));
}

// ----- spawn_send inside run: greenlets ---------------------------------------

#[test]
fn inside_run_spawn_send_makes_greenlets_of_the_calling_thread() {
    let here = thread::current().id();
    green::run(|| {
        let data = [1, 2, 3, 4];
        let mut seen = Vec::new();
        let total = green::scope(|s| {
            let handles: Vec<_> = data
                .chunks(2)
                .map(|chunk| {
                    s.spawn_send(move || (chunk.iter().sum::<i32>(), thread::current().id()))
                })
                .collect();
            let mut total = 0;
            for h in handles {
                assert!(h.greenlet().is_some() && h.thread().is_none());
                let (sum, thread) = h.join().unwrap();
                total += sum;
                seen.push(thread);
            }
            total
        });
        assert_eq!(total, 10);
        assert!(seen.iter().all(|&t| t == here));
    });
}

/// Logs its name when dropped, from any thread.
struct SendNoisy(&'static str, Arc<Mutex<Vec<String>>>);

impl Drop for SendNoisy {
    fn drop(&mut self) {
        self.1.lock().unwrap().push(format!("drop {}", self.0));
    }
}

#[test]
fn killing_the_owner_kills_its_spawn_send_greenlets_before_the_borrows_end() {
    let log = Arc::new(Mutex::new(Vec::new()));
    green::run(|| {
        let l = log.clone();
        let owner = green::spawn(move || {
            let borrowed = SendNoisy("owner data", l.clone());
            let shared = &borrowed;
            green::scope(|s| {
                let l = l.clone();
                s.spawn_send(move || {
                    let _guard = SendNoisy("child", l);
                    let _uses = shared; // borrows the owner's stack
                    green::sleep(Duration::from_secs(3600));
                });
                green::sleep(Duration::from_secs(3600));
            });
        });
        green::sleep(Duration::from_millis(2)); // everyone is asleep
        owner.kill();
        assert!(owner.join().unwrap_err().is_killed());
    });
    assert_eq!(*log.lock().unwrap(), ["drop child", "drop owner data"]);
}

#[test]
fn a_green_scope_refuses_spawns_from_other_threads() {
    green::run(|| {
        green::scope(|s| {
            let (send, plain) = thread::scope(|ts| {
                let send =
                    ts.spawn(|| catch_unwind(AssertUnwindSafe(|| s.spawn_send(|| ()).join())));
                let plain = ts.spawn(|| catch_unwind(AssertUnwindSafe(|| s.spawn(|| ()).join())));
                (send.join().unwrap(), plain.join().unwrap())
            });
            for refused in [send.map(drop).unwrap_err(), plain.map(drop).unwrap_err()] {
                let msg = message(refused);
                assert!(msg.contains("another thread"), "{msg}");
            }
            // the scope's own thread still spawns
            assert_eq!(s.spawn_send(|| 1).join().unwrap(), 1);
        });
    });
}

// ----- outside run: OS threads -------------------------------------------------

#[test]
fn outside_run_the_children_are_distinct_os_threads() {
    let main = thread::current().id();
    let ids: HashSet<_> = green::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn_send(|| thread::current().id()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                assert!(h.greenlet().is_none());
                let id = h.thread().expect("an OS thread").id();
                assert_eq!(h.join().unwrap(), id);
                id
            })
            .collect()
    });
    assert_eq!(ids.len(), 8);
    assert!(!ids.contains(&main));
}

#[test]
fn outside_run_threads_borrow_and_mutate() {
    let data = [1, 2, 3, 4, 5, 6];
    let mut total = 0;
    let mut evens = Vec::new();
    green::scope(|s| {
        s.spawn_send(|| total = data.iter().sum::<i32>());
        s.spawn_send(|| evens.extend(data.iter().filter(|&&x| x % 2 == 0)));
    });
    // Both threads were joined: the borrows are over.
    assert_eq!(total, 21);
    evens.push(8);
    assert_eq!(evens, [2, 4, 6, 8]);
}

#[test]
fn outside_run_an_unjoined_panic_propagates_after_all_are_joined() {
    let done = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<()>();
    let result = catch_unwind(AssertUnwindSafe(|| {
        green::scope(|s| {
            s.spawn_send(move || {
                let _tx = tx;
                panic!("child fails");
            });
            let done = &done;
            s.spawn_send(move || {
                // Ends only once the panicking thread has dropped its sender.
                assert!(rx.recv().is_err());
                done.store(true, Ordering::Relaxed);
            });
        });
    }));
    assert_eq!(message(result.unwrap_err()), "a scoped thread panicked");
    assert!(
        done.load(Ordering::Relaxed),
        "the other thread ran to the end first"
    );
}

#[test]
fn outside_run_a_panic_of_f_comes_out_after_all_are_joined() {
    let finished = AtomicUsize::new(0);
    let result = catch_unwind(AssertUnwindSafe(|| {
        green::scope(|s| {
            for _ in 0..4 {
                s.spawn_send(|| {
                    thread::yield_now();
                    finished.fetch_add(1, Ordering::Relaxed);
                });
            }
            panic!("f fails");
        })
    }));
    assert_eq!(message(result.unwrap_err()), "f fails");
    assert_eq!(finished.load(Ordering::Relaxed), 4);
}

#[test]
fn outside_run_a_joined_panic_is_not_reported_again() {
    let v = green::scope(|s| {
        let h = s.spawn_send(|| -> u8 { panic!("handled") });
        assert_eq!(message(h.join().unwrap_err()), "handled");
        7
    });
    assert_eq!(v, 7);
}

#[test]
fn outside_run_threads_spawn_nested_threads_in_the_same_scope() {
    let total = AtomicUsize::new(0);
    let threads = Mutex::new(HashSet::new());
    green::scope(|s| {
        for i in 1..=3 {
            let (total, threads) = (&total, &threads);
            s.spawn_send(move || {
                threads.lock().unwrap().insert(thread::current().id());
                for j in 1..=3 {
                    // Not joined by the parent, which ends first: the scope
                    // waits for them.
                    s.spawn_send(move || {
                        threads.lock().unwrap().insert(thread::current().id());
                        total.fetch_add(i * j, Ordering::Relaxed);
                    });
                }
            });
        }
    });
    assert_eq!(total.into_inner(), 36);
    assert_eq!(threads.into_inner().unwrap().len(), 12);
}

#[test]
fn outside_run_a_thread_inside_run_still_spawns_threads() {
    green::scope(|s| {
        s.spawn_send(|| {
            let here = thread::current().id();
            green::run(|| {
                let h = s.spawn_send(|| thread::current().id());
                assert!(h.thread().is_some());
                assert_ne!(h.join().unwrap(), here);
            });
        });
    });
}

#[test]
fn outside_run_the_builder_names_the_thread() {
    green::scope(|s| {
        let h = green::Builder::new()
            .name("worker".into())
            .stack_size(256 * 1024)
            .spawn_scoped_send(s, || thread::current().name().map(String::from))
            .unwrap();
        assert_eq!(h.thread().unwrap().name(), Some("worker"));
        assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
    });
}

#[test]
fn outside_run_spawn_without_send_panics_clearly() {
    assert_eq!(green::scope(|_| 5), 5);
    let err = catch_unwind(|| green::scope(|s| drop(s.spawn(|| ())))).unwrap_err();
    let msg = message(err);
    assert!(msg.contains("spawn_send"), "{msg}");
}

#[test]
fn outside_run_a_thread_joined_inside_run_parks_the_greenlet() {
    // The scope's OS thread finishes only once a greenlet of the hub has
    // run: a join that blocked the hub's thread would never return (the
    // channel's timeout turns that into a failure).
    let (tx, rx) = mpsc::channel::<()>();
    let value = green::scope(|s| {
        let h = s.spawn_send(move || {
            rx.recv_timeout(Duration::from_secs(10))
                .expect("a greenlet ran while the hub's main greenlet joined");
            7
        });
        green::run(move || {
            green::spawn(move || tx.send(()).unwrap());
            h.join().unwrap()
        })
    });
    assert_eq!(value, 7);
}
