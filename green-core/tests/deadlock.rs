//! Deadlock detection (gevent's `LoopExit`): when every greenlet waits on
//! something only this hub could end, the main greenlet panics with
//! `all greenlets are blocked` and what each one waits on.
//!
//! Waits that another thread could end (`park`, channels) are reported only
//! when the hub's thread is alone in the process. A libtest binary always
//! has a second thread, so those cases (`park` forever, among others) live
//! in `single_thread.rs`, which has no harness. Here: waits only the hub can
//! end, and waits that must *not* be reported while something could still
//! end them.

mod util;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use util::{Drops, Log};

type Slot = Rc<RefCell<Option<green::JoinHandle<()>>>>;

/// Spawns a cycle of waits: `a` joins `b`, `b` joins a greenlet linked to
/// `a` (which waits for `a` to finish). Returns `a`'s handle. Each of the
/// three holds a guard from `drops`.
///
/// Ids, when spawned first: a = 1, the link = 2, b = 3.
fn join_cycle(drops: &Drops) -> green::JoinHandle<()> {
    let slot: Slot = Rc::default();
    let (s, d) = (slot.clone(), drops.guard());
    let a = green::Builder::new()
        .name("a".into())
        .spawn(move || {
            let _guard = d;
            let b = s.borrow_mut().take().expect("b's handle");
            let _ = b.join();
        })
        .unwrap();
    let d = drops.guard();
    let link = a.link(move || drop(d));
    let d = drops.guard();
    let b = green::Builder::new()
        .name("b".into())
        .spawn(move || {
            let _guard = d;
            let _ = link.join();
        })
        .unwrap();
    *slot.borrow_mut() = Some(b);
    a
}

/// Runs `f` in `run`; returns the message of the panic `run` ends with.
fn run_panics(f: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(|| green::run(f)))
        .expect_err("run did not report the deadlock");
    util::panic_message(&*payload)
}

#[test]
fn a_join_cycle_is_reported_with_every_wait() {
    let _w = util::watchdog();
    let drops = Drops::new();
    let msg = run_panics(|| {
        let a = join_cycle(&drops);
        let _ = a.join();
        unreachable!("main joined a greenlet that can never finish");
    });
    assert!(msg.contains("all greenlets are blocked"), "{msg}");
    assert!(msg.contains("LoopExit"), "{msg}");
    for wait in [
        // The main greenlet is named like its thread: the test's.
        r#"<Greenlet 0 "a_join_cycle_is_reported_with_every_wait"> waiting in join of greenlet 1"#,
        r#"<Greenlet 1 "a"> waiting in join of greenlet 3"#,
        "<Greenlet 2> waiting in link of greenlet 1",
        r#"<Greenlet 3 "b"> waiting in join of greenlet 2"#,
    ] {
        assert!(msg.contains(wait), "missing {wait:?} in:\n{msg}");
    }
    // and the stuck greenlets were killed (unwound) on the way out
    assert_eq!(drops.count(), 3);
}

#[test]
fn the_deadlock_is_reported_only_once_nothing_can_wake_anyone() {
    let _w = util::watchdog();
    let log = Log::new();
    let drops = Drops::new();
    let msg = run_panics(|| {
        let a = join_cycle(&drops);
        // a sleeper still has a timer, a reader an fd another thread writes
        // to, a caller of unblock a job out: until all three are done, the
        // hub is not stuck
        let l = log.clone();
        green::spawn(move || {
            green::sleep(Duration::from_millis(10));
            l.push("sleeper done");
        });
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let (go, wait) = mpsc::channel::<()>();
        let writer = std::thread::spawn(move || {
            wait.recv().unwrap();
            (&theirs).write_all(b"x").unwrap();
            theirs
        });
        let l = log.clone();
        green::spawn(move || {
            let mut buf = [0; 1];
            loop {
                match ours.read(&mut buf) {
                    Ok(_) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        green::io::wait_readable(&ours, None).unwrap();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            green::io::deregister(&ours);
            l.push("reader done");
        });
        let l = log.clone();
        green::spawn(move || {
            green::unblock(move || {
                std::thread::sleep(Duration::from_millis(5));
                go.send(()).unwrap();
                writer.join().unwrap()
            });
            l.push("unblock done");
        });
        let _ = a.join();
    });
    assert!(msg.contains("all greenlets are blocked"), "{msg}");
    let mut lines = log.lines();
    lines.sort();
    assert_eq!(lines, ["reader done", "sleeper done", "unblock done"]);
    // only the cycle is left in the report
    assert!(!msg.contains("<Greenlet 4"), "{msg}");
    assert_eq!(msg.matches("waiting in").count(), 4, "{msg}");
}

#[test]
fn main_can_catch_the_deadlock_panic_and_return() {
    let _w = util::watchdog();
    let drops = Drops::new();
    let v = green::run(|| {
        let a = join_cycle(&drops);
        let msg = util::panic_of(move || a.join());
        assert!(msg.contains("all greenlets are blocked"), "{msg}");
        "returned normally"
    });
    assert_eq!(v, "returned normally");
    assert_eq!(drops.count(), 3, "run killed the cycle at its end");
}

#[test]
fn a_park_is_not_a_deadlock_while_another_thread_can_unpark() {
    let _w = util::watchdog();
    green::run(|| {
        let parker = green::spawn(green::park);
        let handle = parker.greenlet().clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            handle.unpark();
        });
        // main waits in join (a local wait) on a greenlet in park (a wait
        // another thread may end): not reported, and the thread ends it
        parker.join().unwrap();
        thread.join().unwrap();
    });
}
