//! Killing: a killed greenlet unwinds where it is suspended (its destructors
//! run), whatever it waits on; unstarted greenlets never run; finished ones
//! keep their result; `run` kills what is left, and nothing leaks.

mod util;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use util::{Drops, Log};

const FOREVER: Duration = Duration::from_secs(3600);

/// Kills `target` after letting it reach its wait, and checks that it
/// unwound from there: its guard dropped, the code after the wait never ran.
fn kill_while(what: &str, wait: impl FnOnce() + 'static) {
    let drops = Drops::new();
    let log = Log::new();
    green::run(|| {
        let (d, l) = (drops.clone(), log.clone());
        let what_ = what.to_string();
        let target = green::spawn(move || {
            let _guard = d.guard();
            l.push(format!("{what_}: waiting"));
            wait();
            l.push(format!("{what_}: after the wait (must not happen)"));
        });
        green::yield_now(); // it starts and blocks
        assert_eq!(drops.count(), 0, "{what}");
        assert!(!target.is_finished(), "{what}");
        target.kill(); // returns once it has died
        assert!(target.is_finished(), "{what}");
        assert_eq!(drops.count(), 1, "{what}: its destructors ran");
        assert!(target.join().unwrap_err().is_killed(), "{what}");
    });
    assert_eq!(log.lines(), [format!("{what}: waiting")]);
}

#[test]
fn kill_while_sleeping() {
    let _w = util::watchdog();
    kill_while("sleep", || green::sleep(FOREVER));
    kill_while("sleep_until", || {
        green::sleep_until(Instant::now() + FOREVER)
    });
}

#[test]
fn kill_while_parked() {
    let _w = util::watchdog();
    kill_while("park", || loop {
        green::park();
    });
    kill_while("park_timeout", || green::park_timeout(FOREVER));
}

#[test]
fn kill_while_yielding() {
    let _w = util::watchdog();
    kill_while("yield_now", || loop {
        green::yield_now();
    });
}

/// Reads `fd` once, waiting for readability as often as needed.
fn read_some(fd: &UnixStream) -> Vec<u8> {
    let (mut reader, mut buf) = (fd, [0; 64]);
    loop {
        match reader.read(&mut buf) {
            Ok(n) => return buf[..n].to_vec(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                green::io::wait_readable(fd, None).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn kill_while_waiting_on_an_fd() {
    let _w = util::watchdog();
    let (a, mut b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let a = Rc::new(a);
    let a2 = a.clone();
    kill_while("fd readable", move || {
        read_some(&a2);
    });
    // in one hub: kill a waiter, then wait again on the same fd
    let drops = Drops::new();
    green::run(|| {
        let (a2, d) = (a.clone(), drops.guard());
        let victim = green::spawn(move || {
            let _guard = d;
            read_some(&a2)
        });
        green::yield_now();
        victim.kill();
        assert_eq!(drops.count(), 1);
        // the killed waiter left nothing behind: a new one is woken by data
        let a3 = a.clone();
        let reader = green::spawn(move || read_some(&a3));
        green::yield_now();
        b.write_all(b"data").unwrap();
        assert_eq!(reader.join().unwrap(), b"data");
        green::io::deregister(&*a);
    });
}

#[test]
fn kill_while_joining() {
    let _w = util::watchdog();
    let joiner_drops = Drops::new();
    let sleeper_drops = Drops::new();
    green::run(|| {
        let d = sleeper_drops.guard();
        let sleeper = green::spawn(move || {
            let _guard = d;
            green::sleep(FOREVER);
        });
        let d = joiner_drops.guard();
        let joiner = green::spawn(move || {
            let _guard = d;
            let _ = sleeper.join();
            unreachable!("the joiner was killed");
        });
        green::yield_now();
        joiner.kill();
        assert_eq!(joiner_drops.count(), 1);
        assert!(joiner.join().unwrap_err().is_killed());
        // the greenlet it was joining is untouched (killed only by run's end)
        green::yield_now();
        assert_eq!(sleeper_drops.count(), 0);
    });
    assert_eq!(sleeper_drops.count(), 1);
}

#[test]
fn killing_an_unstarted_greenlet_drops_it_unrun() {
    let _w = util::watchdog();
    let drops = Drops::new();
    let log = Log::new();
    green::run(|| {
        let (d, l) = (drops.guard(), log.clone());
        let never = green::spawn(move || {
            let _keep = d;
            l.push("ran (must not happen)");
        });
        let (d, l) = (drops.guard(), log.clone());
        let later = green::spawn_later(Duration::from_millis(1), move || {
            let _keep = d;
            l.push("later ran (must not happen)");
        });
        assert_eq!(drops.count(), 0);
        never.kill();
        later.kill();
        // the closures (and what they captured) were dropped at once
        assert_eq!(drops.count(), 2);
        assert!(never.is_finished() && later.is_finished());
        green::sleep(Duration::from_millis(5)); // past the spawn_later delay
        assert!(never.join().unwrap_err().is_killed());
        assert!(later.join().unwrap_err().is_killed());
    });
    assert!(log.lines().is_empty(), "{:?}", log.lines());
}

#[test]
fn killing_an_unstarted_greenlet_whose_captures_switch_on_drop() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        struct YieldsOnDrop(Log);
        impl Drop for YieldsOnDrop {
            fn drop(&mut self) {
                self.0.push("drop starts");
                green::yield_now(); // the hub runs others meanwhile
                self.0.push("drop ends");
            }
        }
        let y = YieldsOnDrop(log.clone());
        let never = Rc::new(green::spawn(move || {
            drop(y);
            unreachable!("a killed unstarted greenlet ran");
        }));
        let (n, l) = (never.clone(), log.clone());
        let joiner = green::spawn(move || {
            green::wait_any(std::slice::from_ref(&*n));
            l.push("joiner woke");
        });
        never.kill(); // drops the closure here, on this stack
        log.push("killed");
        assert!(never.is_finished());
        joiner.join().unwrap();
    });
    // A joiner wakes once the captures are gone, as after a thread's join.
    assert_eq!(
        log.lines(),
        ["drop starts", "drop ends", "killed", "joiner woke"]
    );
}

#[test]
fn a_capture_panicking_on_drop_still_finishes_the_killed_unstarted_greenlet() {
    let _w = util::watchdog();
    green::run(|| {
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("a capture panics on drop");
            }
        }
        let p = PanicsOnDrop;
        let never = green::spawn(move || drop(p));
        // The panic comes out of the kill, which dropped the closure.
        let msg = util::panic_of(|| never.kill());
        assert!(msg.contains("a capture panics on drop"), "{msg}");
        assert!(never.is_finished());
        green::yield_now(); // the loop skips it: it is still queued
        assert!(never.join().unwrap_err().is_killed());
    });
}

#[test]
fn killing_a_finished_greenlet_does_nothing() {
    let _w = util::watchdog();
    green::run(|| {
        let done = green::spawn(|| 42);
        let failed = green::spawn(|| -> u8 { panic!("failed first") });
        green::yield_now();
        assert!(done.is_finished() && failed.is_finished());
        done.kill();
        failed.kill();
        assert_eq!(done.join().unwrap(), 42);
        assert!(failed.join().unwrap_err().is_panic());
    });
}

#[test]
fn a_greenlet_killing_itself_unwinds_at_once() {
    let _w = util::watchdog();
    let drops = Drops::new();
    let log = Log::new();
    green::run(|| {
        type Slot = Rc<RefCell<Option<green::JoinHandle<()>>>>;
        let slot: Slot = Rc::default();
        let (s, d, l) = (slot.clone(), drops.clone(), log.clone());
        let h = green::spawn(move || {
            let _guard = d.guard();
            l.push("before");
            let me = s.borrow_mut().take().unwrap();
            me.kill();
            l.push("after (must not happen)");
        });
        *slot.borrow_mut() = Some(h);
        green::yield_now();
        assert_eq!(drops.count(), 1);
        assert!(slot.borrow().is_none());
    });
    assert_eq!(log.lines(), ["before"]);
}

#[test]
fn destructors_of_a_killed_greenlet_may_still_switch() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        struct SlowDrop(Log);
        impl Drop for SlowDrop {
            fn drop(&mut self) {
                self.0.push("drop starts");
                green::sleep(Duration::from_millis(1));
                self.0.push("drop ends");
            }
        }
        let l = log.clone();
        let target = green::spawn(move || {
            let _slow = SlowDrop(l);
            green::sleep(FOREVER);
        });
        green::yield_now();
        target.kill(); // waits for the whole unwind, sleep included
        log.push("kill returned");
    });
    assert_eq!(log.lines(), ["drop starts", "drop ends", "kill returned"]);
}

/// What the child of `run_kills_what_is_left_and_leaks_no_fd` does: greenlets
/// blocked in every way when main returns; all are unwound, and every fd
/// (theirs and the hub's) is closed again.
fn leftovers_scenario() {
    let before = util::open_fds();
    let drops = Drops::new();
    let spawned = 6;
    green::run(|| {
        let d = drops.guard();
        green::spawn(move || {
            let _g = d;
            green::sleep(FOREVER);
        });
        let d = drops.guard();
        green::spawn(move || {
            let _g = d;
            loop {
                green::park();
            }
        });
        let d = drops.guard();
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        green::spawn(move || {
            let (_g, _b) = (d, b);
            loop {
                green::io::wait_readable(&a, None).unwrap();
            }
        });
        let (r, w) = std::io::pipe().unwrap();
        util::set_nonblocking(&r);
        let d = drops.guard();
        green::spawn(move || {
            let (_g, _w) = (d, w);
            loop {
                green::io::wait_readable(&r, None).unwrap();
            }
        });
        let d = drops.guard();
        let sleeper = green::spawn(|| green::sleep(FOREVER));
        green::spawn(move || {
            let _g = d;
            let _ = sleeper.join();
        });
        // spawned just before the end: never runs, but is dropped
        let d = drops.guard();
        green::spawn(move || {
            let _g = d;
            unreachable!("an unstarted greenlet ran at the end of run");
        });
        green::yield_now();
        assert!(util::open_fds().len() > before.len());
    });
    assert_eq!(drops.count(), spawned, "every leftover was unwound");
    let after = util::open_fds();
    assert_eq!(before, after, "fds leaked");
    eprintln!(
        "leftovers: all {spawned} unwound, fds back to {}",
        after.len()
    );
}

#[test]
fn run_kills_what_is_left_and_leaks_no_fd() {
    let _w = util::watchdog();
    util::in_child_ok(
        "run_kills_what_is_left_and_leaks_no_fd",
        leftovers_scenario,
        &["leftovers: all 6 unwound, fds back to"],
    );
}

#[test]
fn kills_at_the_end_of_run_are_in_spawn_order() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        for name in ["first", "second", "third"] {
            let l = log.clone();
            green::spawn(move || {
                struct Say(Log, &'static str);
                impl Drop for Say {
                    fn drop(&mut self) {
                        self.0.push(self.1);
                    }
                }
                let _say = Say(l, name);
                green::sleep(FOREVER);
            });
        }
        green::yield_now();
    });
    assert_eq!(log.lines(), ["first", "second", "third"]);
}

/// Sleeps in its destructor, so that its greenlet stays suspended while it
/// unwinds; logs before and after.
struct SlowDrop(Log, Duration);

impl Drop for SlowDrop {
    fn drop(&mut self) {
        self.0.push("slow drop starts");
        green::sleep(self.1);
        self.0.push("slow drop ends");
    }
}

/// What the child of `a_second_kill_while_unwinding_lets_the_unwind_finish`
/// does: a greenlet killed once sleeps in a destructor, and a second kill
/// reaches it there.
fn second_kill_scenario() {
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let target = Rc::new(green::spawn(move || {
            let _slow = SlowDrop(l, Duration::from_millis(50));
            green::park();
        }));
        green::yield_now();
        let (t, l) = (target.clone(), log.clone());
        let second = green::spawn(move || {
            green::sleep(Duration::from_millis(10)); // the first kill is unwinding
            t.kill();
            l.push("second kill returned");
        });
        target.kill();
        log.push("first kill returned");
        second.join().unwrap();
        assert!(target.is_finished());
    });
    eprintln!("log: {:?}", log.lines());
}

#[test]
fn a_second_kill_while_unwinding_lets_the_unwind_finish() {
    let _w = util::watchdog();
    let out = util::in_child_ok(
        "a_second_kill_while_unwinding_lets_the_unwind_finish",
        second_kill_scenario,
        &[],
    );
    // The second kill cuts the destructor's sleep short (a spurious wake):
    // its greenlet goes on unwinding, and both kills return once it is dead.
    assert!(
        out.stderr.contains(
            r#"log: ["slow drop starts", "slow drop ends", "first kill returned", "second kill returned"]"#
        ) || out.stderr.contains(
            r#"log: ["slow drop starts", "slow drop ends", "second kill returned", "first kill returned"]"#
        ),
        "{}",
        out.describe()
    );
}

/// What the child of `a_greenlet_killing_itself_while_unwinding_goes_on`
/// does: a destructor running for a kill kills its own greenlet again.
fn self_kill_scenario() {
    let log = Log::new();
    green::run(|| {
        type Slot = Rc<RefCell<Option<Rc<green::JoinHandle<()>>>>>;
        struct KillsItself(Slot, Log);
        impl Drop for KillsItself {
            fn drop(&mut self) {
                let me = self.0.borrow_mut().take().expect("its own handle");
                me.kill(); // already unwinding: noted, not raised
                self.1.push("went on unwinding");
            }
        }
        let slot: Slot = Rc::default();
        let (s, l) = (slot.clone(), log.clone());
        let target = Rc::new(green::spawn(move || {
            let _k = KillsItself(s, l);
            green::park();
        }));
        *slot.borrow_mut() = Some(target.clone());
        green::yield_now();
        target.kill();
        assert!(target.is_finished());
        log.push("killed");
    });
    eprintln!("log: {:?}", log.lines());
}

#[test]
fn a_greenlet_killing_itself_while_unwinding_goes_on() {
    let _w = util::watchdog();
    util::in_child_ok(
        "a_greenlet_killing_itself_while_unwinding_goes_on",
        self_kill_scenario,
        &[r#"log: ["went on unwinding", "killed"]"#],
    );
}

/// Kills `victim` from a destructor that runs while its own greenlet unwinds
/// from a kill: `std::thread::panicking()` is then true for the whole thread,
/// the victim included, yet the victim is not unwinding and must die.
fn kill_from_an_unwinding_destructor(victim: impl FnOnce() + 'static) {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        struct KillsOnDrop(Option<green::JoinHandle<()>>, Log);
        impl Drop for KillsOnDrop {
            fn drop(&mut self) {
                let victim = self.0.take().expect("the victim");
                victim.kill();
                // No assert here: a panic would abort (we are unwinding).
                match victim.join() {
                    Err(e) if e.is_killed() => self.1.push("victim killed"),
                    other => self.1.push(format!("victim ended otherwise: {other:?}")),
                }
            }
        }
        let victim = green::spawn(victim);
        let l = log.clone();
        let killer = green::spawn(move || {
            let _k = KillsOnDrop(Some(victim), l);
            green::park();
        });
        green::yield_now();
        killer.kill();
        log.push("killer killed");
    });
    assert_eq!(log.lines(), ["victim killed", "killer killed"]);
}

#[test]
fn an_unwinding_destructor_kills_a_parked_greenlet() {
    kill_from_an_unwinding_destructor(|| loop {
        green::park();
    });
}

#[test]
fn an_unwinding_destructor_kills_a_yielding_greenlet() {
    kill_from_an_unwinding_destructor(|| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            green::yield_now();
        }
        panic!("still alive 5 s after the kill");
    });
}

#[test]
fn a_timeout_fires_while_another_greenlet_unwinds() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        let l = log.clone();
        let unwinding = green::spawn(move || {
            let _slow = SlowDrop(l, Duration::from_millis(500));
            green::park();
        });
        let killer = green::spawn(move || unwinding.kill());
        // It comes to sleep in its destructor within a few turns of the hub
        // (counted, not timed: on a loaded machine a sleep of 5 ms may be
        // over before the hub first looks at its timers, and main then runs
        // ahead of the greenlet that the kill makes ready after it).
        for _ in 0..100 {
            if !log.lines().is_empty() {
                break;
            }
            green::yield_now();
        }
        assert_eq!(log.lines(), ["slow drop starts"]);
        let start = Instant::now();
        let r = green::timeout(Duration::from_millis(20), || {
            green::sleep(Duration::from_millis(300))
        });
        let took = start.elapsed();
        // Asserted once the other is dead: a panic of main would kill it in
        // its destructor again.
        killer.join().unwrap();
        assert!(r.is_err(), "the timeout fired");
        assert!(took < Duration::from_millis(300), "{took:?}");
    });
}

/// Waits in its destructor until told to go on (after saying it is there):
/// its greenlet stays suspended mid-unwind for as long as the test wants.
struct WaitsToUnwind(green::channel::Sender<()>, green::channel::Receiver<()>);

impl Drop for WaitsToUnwind {
    fn drop(&mut self) {
        let _ = self.0.send(());
        let _ = self.1.recv();
    }
}

/// Runs `scenario` while a greenlet of the hub is suspended mid-unwind (its
/// `green::timeout` fired and a destructor waits), then lets that greenlet
/// finish.
fn while_another_greenlet_unwinds(scenario: impl FnOnce()) {
    let (entered_tx, entered_rx) = green::channel::unbounded();
    let (release_tx, release_rx) = green::channel::unbounded();
    let unwinding = green::spawn(move || {
        let r = green::timeout(Duration::from_millis(1), || {
            let _waits = WaitsToUnwind(entered_tx, release_rx);
            green::sleep(FOREVER);
        });
        assert!(r.is_err());
    });
    entered_rx.recv().unwrap(); // it waits in its destructor
    scenario();
    release_tx.send(()).unwrap();
    unwinding.join().unwrap();
}

#[test]
fn a_timeout_caught_while_another_greenlet_unwinds_leaves_the_next_timeouts_working() {
    let _w = util::watchdog();
    green::run(|| {
        while_another_greenlet_unwinds(|| {
            let second = green::spawn(|| {
                // Caught by `timeout` while the thread counts the other's
                // panic: this greenlet does not unwind any more.
                let first = green::timeout(Duration::from_millis(1), || green::sleep(FOREVER));
                assert!(first.is_err());
                let (_tx, rx) = green::channel::channel::<()>();
                green::timeout(Duration::from_millis(1), || rx.recv()).is_err()
            });
            let ended = second.wait_timeout(Duration::from_secs(5));
            assert!(ended, "the second timeout did not fire within 5 s");
            assert!(second.join().unwrap(), "the second timeout fired");
        });
    });
}

#[test]
fn a_timeout_caught_while_another_greenlet_unwinds_leaves_kills_working() {
    let _w = util::watchdog();
    green::run(|| {
        while_another_greenlet_unwinds(|| {
            let (waits_tx, waits_rx) = green::channel::unbounded();
            let victim = green::spawn(move || {
                let r = green::timeout(Duration::from_millis(1), || green::sleep(FOREVER));
                assert!(r.is_err());
                waits_tx.send(()).unwrap();
                green::sleep(FOREVER);
            });
            waits_rx.recv().unwrap(); // it caught its timeout and sleeps
            let killer = green::spawn(move || {
                victim.kill();
                victim.join()
            });
            let ended = killer.wait_timeout(Duration::from_secs(5));
            assert!(ended, "the kill did not end its victim within 5 s");
            assert!(killer.join().unwrap().unwrap_err().is_killed());
        });
    });
}

/// What the child of `a_deadlock_while_main_unwinds_aborts_with_the_report`
/// does: the main greenlet panics, and a destructor then waits for a
/// greenlet caught in a wait cycle that nothing can end.
fn deadlock_while_unwinding_scenario() {
    green::run(|| {
        type Slot = Rc<RefCell<Option<Rc<green::JoinHandle<()>>>>>;
        let slot: Slot = Rc::default();
        let s = slot.clone();
        let x = Rc::new(green::spawn(move || {
            green::yield_now(); // until main has filled the slot
            let y = s.borrow().clone().expect("y");
            green::wait_any(std::slice::from_ref(&*y));
        }));
        let x2 = x.clone();
        let y = green::spawn(move || {
            green::wait_any(std::slice::from_ref(&*x2));
        });
        *slot.borrow_mut() = Some(Rc::new(y));
        struct WaitsOnDrop(Rc<green::JoinHandle<()>>);
        impl Drop for WaitsOnDrop {
            fn drop(&mut self) {
                green::wait_any(std::slice::from_ref(&*self.0));
            }
        }
        let _waits = WaitsOnDrop(x);
        panic!("main panics");
    });
}

#[test]
fn a_deadlock_while_main_unwinds_aborts_with_the_report() {
    let _w = util::watchdog();
    let out = util::in_child(
        "a_deadlock_while_main_unwinds_aborts_with_the_report",
        &[],
        deadlock_while_unwinding_scenario,
    );
    assert_eq!(out.signal(), Some(libc::SIGABRT), "{}", out.describe());
    assert!(
        out.stderr.contains("all greenlets are blocked")
            && out.stderr.contains("cannot be raised as a panic; aborting"),
        "{}",
        out.describe()
    );
}

/// What the child of `a_destructor_panicking_during_a_kill_aborts_the_process`
/// does: a killed greenlet unwinds through a destructor that panics.
fn panicking_destructor_scenario() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("a destructor panics");
        }
    }
    green::run(|| {
        let victim = green::spawn(|| {
            let _guard = PanicsOnDrop;
            green::sleep(FOREVER);
        });
        green::yield_now();
        victim.kill();
        eprintln!("kill returned");
    });
}

#[test]
fn a_destructor_panicking_during_a_kill_aborts_the_process() {
    // The kill unwinds as a panic does, and Rust aborts on a panic in a
    // destructor while unwinding (tokio's abort, which drops the future
    // instead, reports it as the task's panic): what `JoinHandle::kill`
    // documents.
    let _w = util::watchdog();
    let out = util::in_child(
        "a_destructor_panicking_during_a_kill_aborts_the_process",
        &[],
        panicking_destructor_scenario,
    );
    assert_eq!(out.signal(), Some(libc::SIGABRT), "{}", out.describe());
    assert!(
        out.stderr.contains("a destructor panics")
            && out.stderr.contains("panic in a destructor during cleanup")
            && !out.stderr.contains("kill returned"),
        "{}",
        out.describe()
    );
}

/// gevent's `killall` kills each greenlet once, then waits: one that
/// catches the kill and carries on (here, for one more nap) is not killed
/// a second time while another of the list takes its time to die.
#[test]
fn killall_kills_each_greenlet_once() {
    let _w = util::watchdog();
    let log = Log::new();
    green::run(|| {
        struct SlowToDie;
        impl Drop for SlowToDie {
            fn drop(&mut self) {
                green::sleep(Duration::from_millis(20));
            }
        }
        let slow = green::spawn(|| {
            let _d = SlowToDie;
            green::sleep(FOREVER);
        });
        let l = log.clone();
        let stubborn = green::spawn(move || {
            for nap in 0..2 {
                let nap = std::panic::catch_unwind(|| green::sleep(Duration::from_millis(50)))
                    .map_or_else(
                        |_| format!("nap {nap}: killed"),
                        |()| format!("nap {nap}: slept"),
                    );
                l.push(nap);
            }
        });
        green::yield_now();
        green::killall(&[slow, stubborn]);
    });
    assert_eq!(log.take(), ["nap 0: killed", "nap 1: slept"]);
}
