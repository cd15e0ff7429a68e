//! Scale: 100,000 greenlets alive at once on one hub, and the error
//! `Builder::spawn` returns when the kernel runs out of memory mappings.
//!
//! Linux caps a process at `vm.max_map_count` mappings (65,530 by default).
//! Default-size stacks come from slabs of 64, one mapping each when the
//! kernel has guard markers (Linux 6.13): then the big test runs under the
//! default limit and checks that it does. Without markers every stack costs
//! two mappings (the stack and its guard page), and the big test raises the
//! limit when it runs as root (as CI does), putting the old value back
//! afterwards. Stacks of other sizes always cost two mappings: the second
//! test uses those.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const GREENLETS: usize = 100_000;

/// How long the sleepers sleep.
const NAP: Duration = Duration::from_millis(20);

const MAX_MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

/// The two tests take turns: one may raise the limit the other uses up.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn max_map_count() -> usize {
    std::fs::read_to_string(MAX_MAP_COUNT)
        .expect("read vm.max_map_count")
        .trim()
        .parse()
        .expect("vm.max_map_count is a number")
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .count()
}

/// Raises `vm.max_map_count` to at least `needed` while alive, if it is
/// lower and we may write it; puts the old value back on drop (unless
/// someone changed it meanwhile).
struct RaisedMapCount {
    old: usize,
    new: usize,
}

impl RaisedMapCount {
    fn at_least(needed: usize) -> Option<RaisedMapCount> {
        let old = max_map_count();
        if old >= needed {
            return None;
        }
        let new = needed.next_multiple_of(65_536);
        match std::fs::write(MAX_MAP_COUNT, new.to_string()) {
            Ok(()) => Some(RaisedMapCount { old, new }),
            Err(e) => {
                eprintln!("cannot raise vm.max_map_count from {old} to {new}: {e}");
                None
            }
        }
    }
}

impl Drop for RaisedMapCount {
    fn drop(&mut self) {
        if max_map_count() == self.new {
            let _ = std::fs::write(MAX_MAP_COUNT, self.old.to_string());
        }
    }
}

#[test]
fn a_hundred_thousand_greenlets_wait_at_once_then_all_finish() {
    let _w = util::watchdog();
    let _turn = one_at_a_time();
    // A mapping per slab of 64 with guard markers, else two per greenlet;
    // plus what the process already has.
    let markers = util::guard_markers();
    let per_slab = GREENLETS.div_ceil(64);
    let needed = if markers { per_slab } else { 2 * GREENLETS } + mappings() + 10_000;
    let _raised = RaisedMapCount::at_least(needed);
    let limit = max_map_count();
    let n = if limit >= needed {
        GREENLETS
    } else {
        // Not root, and the limit is too low: run as many as fit, and say so.
        let fit = limit.saturating_sub(mappings() + 10_000) / 2;
        eprintln!(
            "vm.max_map_count is {limit} (needs {needed}) and cannot be raised: \
             running {fit} greenlets instead of {GREENLETS}"
        );
        fit
    };

    let before = mappings();
    green::run(|| {
        let waiting = Rc::new(Cell::new(0usize));
        let woken = Rc::new(Cell::new(0usize));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (waiting, woken) = (waiting.clone(), woken.clone());
                green::spawn(move || {
                    waiting.set(waiting.get() + 1);
                    if i % 2 == 0 {
                        // sleepers
                        let start = Instant::now();
                        green::sleep(NAP);
                        assert!(start.elapsed() >= NAP, "woke early");
                    } else {
                        // parkers: until main unparks them
                        green::park();
                    }
                    waiting.set(waiting.get() - 1);
                    woken.set(woken.get() + 1);
                    i
                })
            })
            .collect();
        // The spawned greenlets were queued before main yields: one hub
        // iteration runs all of them up to their wait before main runs
        // again, and timers fire only after that iteration, so every
        // sleeper is still asleep then, however long the iteration took.
        // (Even one that the OS held up for longer than its nap before it
        // could park: `sleep` always switches, and its timer fires only
        // after this iteration. Before it did, this failed once in a busy
        // run, with 99,999 waiting.)
        green::yield_now();
        assert_eq!(waiting.get(), n, "not every greenlet is waiting");
        assert_eq!(woken.get(), 0);
        assert!(handles.iter().all(|h| !h.is_finished()));
        if markers {
            assert_eq!(n, GREENLETS);
            let used = mappings().saturating_sub(before);
            assert!(
                used <= per_slab + 100,
                "{n} greenlets took {used} mappings, not one per 64"
            );
        }

        for h in handles.iter().skip(1).step_by(2) {
            h.greenlet().unpark();
        }
        let results = green::joinall(handles);
        assert_eq!(woken.get(), n);
        assert_eq!(waiting.get(), 0);
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap(), i);
        }
    });
}

/// The child of `spawn_reports_running_out_of_mappings`: uses up almost all
/// of its own mappings (no system setting is touched), then spawns
/// greenlets until `Builder::spawn` fails.
fn out_of_mappings_scenario() {
    let limit = max_map_count();
    if limit > 4_000_000 {
        eprintln!("skipped: vm.max_map_count is {limit}, too many mappings to use up");
        return;
    }
    let page = util::page_size();
    green::run(|| {
        // One region, every other page made read-only: each page becomes a
        // mapping of its own (neighbours with equal protection would merge).
        let spare = 200;
        let pages = limit.saturating_sub(mappings() + spare) & !1;
        // SAFETY: a fresh anonymous private mapping; nothing else refers to
        // it, and it is never unmapped (the process exits with it).
        let region = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                pages * page,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(region, libc::MAP_FAILED, "map the filler region");
        for p in (0..pages).step_by(2) {
            // SAFETY: the page lies inside the region mapped above.
            let r = unsafe {
                libc::mprotect(
                    region.cast::<u8>().add(p * page).cast(),
                    page,
                    libc::PROT_READ,
                )
            };
            if r != 0 {
                break; // the limit is reached already: even better
            }
        }
        let mut alive = Vec::new();
        let err = loop {
            // a size of its own: no pooled stack can be reused
            match green::Builder::new()
                .stack_size(64 * 1024)
                .spawn(green::park)
            {
                Ok(h) => alive.push(h),
                Err(e) => break e,
            }
            assert!(
                alive.len() < spare,
                "spawned {} greenlets past the limit",
                alive.len()
            );
        };
        eprintln!("kind: {:?}", err.kind());
        eprintln!("error: {err}");
        assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
        // the greenlets spawned before are fine
        let h = alive.pop().expect("some greenlets fitted");
        h.greenlet().unpark();
        h.join().unwrap();
    });
}

#[test]
fn spawn_reports_running_out_of_mappings() {
    let _w = util::watchdog();
    let _turn = one_at_a_time();
    let out = util::in_child_ok(
        "spawn_reports_running_out_of_mappings",
        out_of_mappings_scenario,
        &[],
    );
    if out.stderr.contains("skipped:") {
        eprintln!("{}", out.stderr);
        return;
    }
    let err = &out.stderr;
    assert!(err.contains("kind: OutOfMemory"), "{}", out.describe());
    assert!(
        err.contains("cannot allocate a greenlet stack of 65536 bytes")
            && err.contains("vm.max_map_count")
            && err.contains("two mappings"),
        "the error does not name the cause\n{}",
        out.describe()
    );
}
