//! Scoped greenlets: borrowing, automatic joins, panics, kills.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

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
fn scope_outside_run_panics_clearly() {
    let err = std::panic::catch_unwind(|| green::scope(|_| ())).unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("green::run"), "{msg}");
}
