//! Deadlock detection for waits that another thread could end (`park`, a
//! channel): the hub reports them only when its thread is alone in the
//! process, so each scenario runs in a child process of this test, which has
//! no test harness and so no other thread.
//!
//! Run as `cargo test --test single_thread`; the child is this same binary
//! with the scenario's name in `GREEN_SCENARIO`.
//!
//! A deadlock also leaves greenlets alive at the end of `run`, for its
//! shutdown to unwind: the scenarios about that order live here too. So do
//! scenarios that must *not* be taken for a deadlock although the hub ends
//! up alone in its process, run many times each to catch a race.

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
        "park_with_the_blocking_detector_on",
        park_forever_watched,
        &["all greenlets are blocked", "park"],
    ),
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
        "channel_recv_beside_an_idle_pool_worker",
        recv_forever_beside_an_idle_pool_worker,
        &["all greenlets are blocked", "channel recv"],
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
    (
        "once_waited_for_with_nobody_to_run_it",
        wait_for_a_once_nobody_runs,
        &["all greenlets are blocked", "Once::wait"],
    ),
    (
        "once_lock_initializer_parked_for_ever",
        wait_for_a_parked_initializer,
        &[
            "all greenlets are blocked",
            "OnceLock::get_or_init",
            "<Greenlet 1 \"init\">",
            "park",
        ],
    ),
];

/// Scenarios that must end well (exit status 0), each run the given number
/// of times: threads that wake a greenlet where the hub's check for being
/// alone in the process could miss them.
const MUST_END_WELL: &[(&str, fn(), usize)] = &[
    ("thread_sends_and_exits", thread_sends_and_exits, REPEATS),
    (
        "pool_job_of_a_finished_hub_sends",
        pool_job_of_a_finished_hub_sends,
        1,
    ),
];

/// How often the racy scenarios of [`MUST_END_WELL`] run (about 4 s each,
/// debug build). Before the hub read its inbox again once alone, 4–6 runs in
/// 1,000 of `thread_sends_and_exits` were declared deadlocked (three
/// tries, debug build, 2 cores busy with another build).
const REPEATS: usize = 1000;

/// A plain thread sends on a channel and exits while the main greenlet
/// waits in `recv`: the thread's wake-up must be seen even when the hub
/// finds itself alone (green-core's channel doctest, failed once in CI).
fn thread_sends_and_exits() {
    green::run(|| {
        let (tx, rx) = green::channel::bounded(4);
        let worker = std::thread::spawn(move || tx.send(6 * 7).unwrap());
        assert_eq!(rx.recv(), Ok(42));
        worker.join().unwrap();
    });
}

/// Another hub's greenlet starts a blocking job that will send to this hub,
/// and that hub finishes (killing the greenlet that waited for the job)
/// while the job runs: the busy pool worker is all that can wake the main
/// greenlet, which must wait for it, not be declared deadlocked (it was,
/// when every pool worker counted as idle).
fn pool_job_of_a_finished_hub_sends() {
    green::run(|| {
        let (tx, rx) = green::channel::unbounded();
        std::thread::spawn(move || {
            green::run(move || {
                drop(green::spawn(move || {
                    green::unblock(move || {
                        std::thread::sleep(Duration::from_millis(300));
                        tx.send(1).unwrap();
                    })
                }));
                green::yield_now(); // the job starts; then this hub ends
            })
        })
        .join()
        .unwrap();
        assert_eq!(rx.recv(), Ok(1));
    });
}

/// An idle pool worker cannot wake anyone: a wait nothing else can end is
/// still a deadlock beside it.
fn recv_forever_beside_an_idle_pool_worker() {
    green::run(|| {
        green::unblock(|| ()); // leaves an idle worker for 10 s
        let (tx, rx) = green::channel::channel::<()>();
        let _keep = tx;
        let _ = rx.recv();
    });
}

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

fn wait_for_a_once_nobody_runs() {
    green::run(|| green::sync::Once::new().wait());
}

fn wait_for_a_parked_initializer() {
    static CELL: green::sync::OnceLock<u8> = green::sync::OnceLock::new();
    green::run(|| {
        green::Builder::new()
            .name("init".into())
            .spawn(|| {
                CELL.get_or_init(|| loop {
                    green::park();
                })
            })
            .unwrap();
        green::yield_now();
        CELL.get_or_init(|| unreachable!("init runs it"));
    });
}

fn park_forever() {
    green::run(green::park);
}

/// The blocking detector's thread wakes no greenlet: the hub, alone but for
/// it, still finds the deadlock (it waited forever, rechecking).
fn park_forever_watched() {
    green::set_max_blocking_time(Some(Duration::from_millis(50)));
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
        let scenario = SCENARIOS
            .iter()
            .map(|(n, f, _)| (n, f))
            .chain(MUST_END_WELL.iter().map(|(n, f, _)| (n, f)))
            .find(|(n, _)| **n == name)
            .map(|(_, f)| f)
            .expect("known scenario");
        scenario();
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let mut failed = 0;
    for (name, _, repeats) in MUST_END_WELL {
        let mut bad = 0;
        let mut first_stderr = String::new();
        for _ in 0..*repeats {
            let out = run_child(&exe, name);
            if !out.hung && out.status == Some(0) {
                continue;
            }
            bad += 1;
            if first_stderr.is_empty() {
                first_stderr = format!(
                    "hung: {}, status: {:?}\n{}",
                    out.hung, out.status, out.stderr
                );
            }
        }
        println!(
            "test {name} ({repeats} runs) ... {}",
            if bad == 0 { "ok" } else { "FAILED" }
        );
        if bad > 0 {
            failed += 1;
            println!("  {bad} of {repeats} runs failed; the first:\n{first_stderr}");
        }
    }
    for (name, _, expected) in SCENARIOS {
        let out = run_child(&exe, name);
        let ok =
            !out.hung && out.status == Some(101) && expected.iter().all(|e| out.stderr.contains(e));
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed += 1;
            println!(
                "  hung: {}, status: {:?}\n  stderr:\n{}",
                out.hung, out.status, out.stderr
            );
        }
    }
    if failed > 0 {
        eprintln!("{failed} scenario(s) failed");
        std::process::exit(1);
    }
}

/// How a child run of a scenario ended.
struct ChildRun {
    /// It did not end within 20 s and was killed.
    hung: bool,
    /// Its exit code (`None`: killed by a signal).
    status: Option<i32>,
    stderr: String,
}

/// Runs scenario `name` in a child process of this binary.
fn run_child(exe: &std::path::Path, name: &str) -> ChildRun {
    let mut child = Command::new(exe)
        .env("GREEN_SCENARIO", name)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child");
    // Bounded: a child that hangs instead of ending fails the test.
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let hung = child.try_wait().expect("wait").is_none();
    if hung {
        child.kill().expect("kill");
    }
    let out = child.wait_with_output().expect("output");
    ChildRun {
        hung,
        status: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
