//! A stack overflow at a switch point. A greenlet that yields or parks does
//! the hub's bookkeeping on its own stack (and may hand the thread straight
//! to the next greenlet), so a greenlet whose stack is nearly full can run
//! into its guard page there rather than in its own code. That overflow
//! must be reported against it, like any other (see `overflow.rs`), never
//! lost, blamed on another greenlet or left to a bare abort.
//!
//! The same for an overflow inside the allocator, which may hold its lock
//! when it faults: the report must not allocate, or it hangs (it did, in
//! generator's signal handler, until generator patch 5).
//!
//! Each case recurses until only `margin` bytes of a 16 KiB stack are
//! left, then yields or parks, in a child process, for a range of margins
//! around the depth the bookkeeping needs (a few hundred bytes in release,
//! a few KiB in debug).

mod util;

use std::hint::black_box;
use std::time::Duration;

/// The margins tried: a dense range where the bookkeeping of a release
/// build ends, a sparse one up to what a debug build needs.
const MARGINS: [usize; 14] = [
    64, 128, 192, 256, 320, 448, 576, 768, 1024, 1536, 2048, 2560, 3072, 3584,
];

/// The lowest address of the mapping that holds `addr` (the usable stack,
/// above the guard page).
fn mapping_start(addr: usize) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let range = line.split_whitespace().next().unwrap();
        let (a, b) = range.split_once('-').unwrap();
        let a = usize::from_str_radix(a, 16).unwrap();
        let b = usize::from_str_radix(b, 16).unwrap();
        if (a..b).contains(&addr) {
            return a;
        }
    }
    panic!("no mapping holds {addr:#x}");
}

/// Recurses in 64-byte steps until `margin` bytes are left above `low`,
/// then runs `at_bottom`.
#[inline(never)]
fn descend(low: usize, margin: usize, at_bottom: &dyn Fn()) -> u64 {
    let mut buf = [0u8; 48];
    black_box(&mut buf);
    let sp = black_box(&buf) as *const _ as usize;
    if sp - low <= margin {
        at_bottom();
        return 0;
    }
    descend(low, margin, at_bottom).wrapping_add(u64::from(black_box(&buf)[0]))
}

/// How the deep greenlet suspends at the bottom.
#[derive(Clone, Copy)]
enum Kind {
    /// `yield_now`, with another greenlet ready: a hand-off.
    Yield,
    /// `sleep`: a park, resumed by a hand-off.
    Park,
    /// `sleep` after a first sleep, so that the loop resumed it.
    ParkAfterLoop,
    /// No switch: an allocation too big for malloc's per-thread cache, so
    /// that it takes the arena's lock.
    Alloc,
}

fn scenario(kind: Kind, margin: usize) {
    green::run(move || {
        // Someone else ready, so that a yield hands over to it.
        let _other = green::spawn(|| {
            for _ in 0..1000 {
                green::yield_now();
            }
        });
        let deep = green::Builder::new()
            .name("deep".into())
            .stack_size(16 * 1024)
            .spawn(move || {
                if let Kind::ParkAfterLoop = kind {
                    green::sleep(Duration::from_millis(5));
                }
                let here = 0u8;
                let low = mapping_start(black_box(&here) as *const u8 as usize);
                descend(low, margin, &|| match kind {
                    Kind::Yield => green::yield_now(),
                    Kind::Park | Kind::ParkAfterLoop => green::sleep(Duration::from_millis(1)),
                    Kind::Alloc => drop(black_box(vec![1u8; 3000 + margin])),
                });
            })
            .unwrap();
        let _ = deep.join();
        eprintln!("deep survived");
    });
}

/// Every margin either survives or aborts naming the deep greenlet.
fn check(test: &str, kind: Kind) {
    let mut bad = Vec::new();
    for margin in MARGINS {
        let m = margin.to_string();
        let out = util::in_child(test, &[("OVERFLOW_MARGIN", &m)], || {
            let m: usize = std::env::var("OVERFLOW_MARGIN").unwrap().parse().unwrap();
            scenario(kind, m);
        });
        assert!(!out.timed_out, "{}", out.describe());
        let survived = out.status.success() && out.stderr.contains("deep survived");
        let reported = out.signal() == Some(libc::SIGABRT)
            && out
                .stderr
                .contains("green: greenlet <Greenlet 2 \"deep\"> overflowed its stack");
        if !survived && !reported {
            bad.push(format!("margin {margin}: {}", out.describe()));
        }
    }
    assert!(
        bad.is_empty(),
        "overflows not reported as \"deep\":\n{}",
        bad.join("\n")
    );
}

#[test]
fn an_overflow_in_a_yield_names_the_greenlet() {
    check("an_overflow_in_a_yield_names_the_greenlet", Kind::Yield);
}

#[test]
fn an_overflow_in_a_park_names_the_greenlet() {
    check("an_overflow_in_a_park_names_the_greenlet", Kind::Park);
}

#[test]
fn an_overflow_in_a_park_after_a_resume_by_the_loop_names_the_greenlet() {
    check(
        "an_overflow_in_a_park_after_a_resume_by_the_loop_names_the_greenlet",
        Kind::ParkAfterLoop,
    );
}

#[test]
fn an_overflow_inside_the_allocator_names_the_greenlet() {
    check(
        "an_overflow_inside_the_allocator_names_the_greenlet",
        Kind::Alloc,
    );
}
