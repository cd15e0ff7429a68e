//! Deadlock detection for waits that another thread could end (`park`, a
//! channel): the hub reports them only when its thread is alone in the
//! process, so each scenario runs in a child process of this test, which has
//! no test harness and so no other thread.
//!
//! Run as `cargo test --test single_thread`; the child is this same binary
//! with the scenario's name in `GREEN_SCENARIO`.
//!
//! A deadlock also leaves greenlets alive at the end of `run`, for its
//! shutdown to unwind: the scenarios about that order live here too.

mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;
use std::time::Duration;

/// A scenario's name, body, and what its stderr must contain.
type Scenario = (&'static str, fn(), &'static [&'static str]);

/// Each scenario must end in `run` panicking with the deadlock report (exit
/// status 101, not a signal).
const SCENARIOS: &[Scenario] = &[
    (
        "scoped_child_unwound_before_its_owner",
        child_survives_its_kill,
        &[
            "all greenlets are blocked",
            "the borrowed array reads 448",
            "the owner unwound",
        ],
    ),
    (
        "owner_suspended_while_unwound_keeps_its_stack",
        owner_suspends_while_unwound,
        &["all greenlets are blocked", "the borrowed array reads 448"],
    ),
    ("park", park_forever, &["all greenlets are blocked", "park"]),
    (
        "channel_recv",
        recv_forever,
        &["all greenlets are blocked", "channel recv"],
    ),
    (
        "channel_send_among_greenlets",
        send_forever_among_greenlets,
        &[
            "all greenlets are blocked",
            "channel send",
            "<Greenlet 1 \"stuck\">",
        ],
    ),
    (
        "select",
        select_forever,
        &["all greenlets are blocked", "channel select"],
    ),
    (
        "mutex_locked_twice",
        lock_twice,
        &["all greenlets are blocked", "Mutex::lock"],
    ),
];

/// Says so when dropped.
struct SaysOnDrop(&'static str);

impl Drop for SaysOnDrop {
    fn drop(&mut self) {
        eprintln!("{}", self.0);
    }
}

/// A scoped child catches its kill and blocks again: `run` ends in a
/// deadlock, and its shutdown unwinds both the child and its owner, which
/// waits for it in the scope's automatic join. The child must go first, and
/// then the owner unwinds for real.
fn child_survives_its_kill() {
    green::run(|| {
        drop(green::spawn(|| {
            let _unwound = SaysOnDrop("the owner unwound");
            let arr = [7u64; 64];
            green::scope(|s| {
                let reads = util::ReadsOnDrop(&arr);
                drop(s.spawn(move || {
                    let _reads = reads;
                    let _ = catch_unwind(AssertUnwindSafe(green::park)); // survives the kill
                    green::park(); // blocks for good
                }));
            });
        }));
        green::yield_now();
        green::yield_now();
    });
}

/// The owner catches its kill and blocks again; when `run`'s shutdown unwinds
/// it, a destructor spawns a scoped child (which never starts) and sleeps,
/// which abandons the rest of the owner's frames. The child's closure is
/// dropped later and still reads the owner's stack.
fn owner_suspends_while_unwound() {
    struct SpawnsOnDrop<'scope, 'env>(&'scope green::Scope<'scope, 'env>, &'env [u64; 64]);
    impl Drop for SpawnsOnDrop<'_, '_> {
        fn drop(&mut self) {
            let reads = util::ReadsOnDrop(self.1);
            drop(self.0.spawn(move || drop(reads)));
            green::sleep(Duration::from_millis(1));
        }
    }
    green::run(|| {
        drop(green::spawn(|| {
            let arr = [7u64; 64];
            green::scope(|s| {
                let _spawns = SpawnsOnDrop(s, &arr);
                let _ = catch_unwind(AssertUnwindSafe(green::park)); // survives the kill
                green::park(); // blocks for good
            });
        }));
        green::yield_now();
    });
}

fn lock_twice() {
    green::run(|| {
        let m = green::sync::Mutex::new(0);
        let _first = m.lock().unwrap();
        let _second = m.lock(); // the holder waits for itself
    });
}

fn park_forever() {
    green::run(green::park);
}

fn recv_forever() {
    green::run(|| {
        let (tx, rx) = green::channel::channel::<()>();
        let _keep = tx; // the only sender is held by the waiter itself
        let _ = rx.recv();
    });
}

fn send_forever_among_greenlets() {
    green::run(|| {
        let (tx, rx) = green::channel::channel::<u8>();
        let stuck = green::Builder::new()
            .name("stuck".to_string())
            .spawn(move || tx.send(1))
            .unwrap();
        let _ = stuck.join();
        drop(rx);
    });
}

fn select_forever() {
    green::run(|| {
        let (_tx1, rx1) = green::channel::unbounded::<()>();
        let (_tx2, rx2) = green::channel::bounded::<()>(1);
        green::channel::Select::new()
            .recv(&rx1, |_| ())
            .recv(&rx2, |_| ())
            .wait();
    });
}

fn main() {
    if let Ok(name) = std::env::var("GREEN_SCENARIO") {
        let (_, scenario, _) = SCENARIOS
            .iter()
            .find(|(n, _, _)| *n == name)
            .expect("known scenario");
        scenario();
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let mut failed = 0;
    for (name, _, expected) in SCENARIOS {
        let mut child = Command::new(&exe)
            .env("GREEN_SCENARIO", name)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn child");
        // Bounded: a child that hangs instead of reporting fails the test.
        let mut waited = Duration::ZERO;
        while child.try_wait().expect("wait").is_none() && waited < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
            waited += Duration::from_millis(10);
        }
        let hung = child.try_wait().expect("wait").is_none();
        if hung {
            child.kill().expect("kill");
        }
        let out = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ok =
            !hung && out.status.code() == Some(101) && expected.iter().all(|e| stderr.contains(e));
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed += 1;
            println!(
                "  hung: {hung}, status: {}\n  stderr:\n{stderr}",
                out.status
            );
        }
    }
    if failed > 0 {
        eprintln!("{failed} scenario(s) failed");
        std::process::exit(1);
    }
}
