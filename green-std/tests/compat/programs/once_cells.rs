// 20 threads race for a LazyLock whose initializer sleeps, a OnceLock whose
// first initializer sleeps then panics, a poisoned Once that they force, and
// a LazyLock whose initializer sleeps then panics: each initializer runs
// once at a time, the others wait for it, and panics poison as std's do.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sys::sync::{LazyLock, Once, OnceLock};
use sys::thread;

static TABLE_RUNS: AtomicUsize = AtomicUsize::new(0);
static TABLE: LazyLock<Vec<u32>> = LazyLock::new(|| {
    TABLE_RUNS.fetch_add(1, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(20));
    (1..=5).collect()
});

static NAME_RUNS: AtomicUsize = AtomicUsize::new(0);
static NAME: OnceLock<String> = OnceLock::new();

static SETUP: Once = Once::new();
static SETUP_FORCED: AtomicUsize = AtomicUsize::new(0);

static BROKEN: LazyLock<u32> = LazyLock::new(|| {
    thread::sleep(Duration::from_millis(20));
    panic!("broken lazy")
});

fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Runs `f` on `n` threads: how many returned each value (or panicked with
/// each message).
fn race(n: usize, f: fn(usize) -> String) -> BTreeMap<String, usize> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            thread::spawn(move || {
                let _t = crate::probe::task();
                f(i)
            })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for h in handles {
        let out = h
            .join()
            .unwrap_or_else(|p| format!("panicked: {}", message(p)));
        *counts.entry(out).or_insert(0) += 1;
    }
    counts
}

pub fn main() -> String {
    let mut out = Vec::new();

    let sums = race(20, |_| TABLE.iter().sum::<u32>().to_string());
    let runs = TABLE_RUNS.load(Ordering::SeqCst);
    out.push(format!("table: {sums:?}, runs {runs}, {:?}", *TABLE));

    let names = race(20, |_| {
        NAME.get_or_init(|| {
            let run = NAME_RUNS.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(10));
            if run == 0 {
                panic!("first name fails");
            }
            "named".to_string()
        })
        .clone()
    });
    let runs = NAME_RUNS.load(Ordering::SeqCst);
    out.push(format!("name: {names:?}, runs {runs}, {NAME:?}"));

    let poison = race(1, |_| {
        SETUP.call_once(|| panic!("setup fails"));
        "ran".to_string()
    });
    let poisoned = race(1, |_| {
        SETUP.call_once(|| {});
        "ran".to_string()
    });
    let forced = race(20, |i| {
        if i % 2 == 0 {
            SETUP.call_once_force(|state| {
                SETUP_FORCED.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(10));
                assert!(state.is_poisoned());
            });
        } else {
            SETUP.wait_force();
        }
        format!("completed {}", SETUP.is_completed())
    });
    let runs = SETUP_FORCED.load(Ordering::SeqCst);
    out.push(format!(
        "setup: {poison:?} {poisoned:?} {forced:?}, forced {runs}, {SETUP:?}"
    ));

    let broken = race(20, |_| BROKEN.to_string());
    out.push(format!("broken: {broken:?}, {BROKEN:?}"));
    out.join("\n")
}
