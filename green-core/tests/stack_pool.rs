//! The stack pool seen from outside: beyond the 1,024 hot coroutines a
//! thread keeps, finished greenlets' stacks go back to their slab with their
//! pages handed back to the kernel, and later spawns reuse them; with the
//! kernel's guard markers (Linux 6.13) a crowd of greenlets costs a mapping
//! per 64 stacks, not two per stack.
//!
//! Measured in a child process (RSS and mappings are process-wide).

mod util;

use std::hint::black_box;
use std::rc::Rc;

use green::event::Event;

const KIB: usize = 1024;

/// More than the hot tier holds (1,024).
const LIGHT: usize = 1_100;
/// Greenlets that touch [`TOUCH_KIB`] of their stack each.
const HEAVY: usize = 600;
const TOUCH_KIB: usize = 128;

/// Resident memory of this process, in KiB (`/proc/self/statm`).
fn rss_kib() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * util::page_size() / KIB
}

/// How many mappings this process has (`/proc/self/maps`).
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Puts [`TOUCH_KIB`] on the stack and writes every byte of it; returns a
/// checksum.
#[inline(never)]
fn touch(seed: u8) -> u64 {
    let mut buf = [0u8; TOUCH_KIB * KIB];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = seed.wrapping_add(i as u8);
    }
    black_box(&mut buf);
    buf.iter().map(|&b| u64::from(b)).sum()
}

fn expected(seed: u8) -> u64 {
    (0..TOUCH_KIB * KIB)
        .map(|i| u64::from(seed.wrapping_add(i as u8)))
        .sum()
}

/// Spawns `LIGHT` greenlets that wait for one event and `HEAVY` that touch
/// their stacks and wait for another; lets the light ones finish first (so
/// that the hot tier is full), then the heavy ones. Returns RSS and mappings
/// with the heavy ones alive, and after they finished.
fn round(seed: u8) -> [(usize, usize); 2] {
    let go_light = Rc::new(Event::new());
    let go_heavy = Rc::new(Event::new());
    let light: Vec<_> = (0..LIGHT)
        .map(|_| {
            let go = go_light.clone();
            green::spawn(move || go.wait())
        })
        .collect();
    let heavy: Vec<_> = (0..HEAVY)
        .map(|_| {
            let go = go_heavy.clone();
            green::spawn(move || {
                let sum = touch(seed);
                go.wait();
                sum
            })
        })
        .collect();
    green::yield_now(); // all of them start and wait
    go_light.set();
    for h in light {
        h.join().unwrap();
    }
    let alive = (rss_kib(), mappings());
    go_heavy.set();
    let want = expected(seed);
    for h in heavy {
        assert_eq!(h.join().unwrap(), want, "a body ran wrong");
    }
    [alive, (rss_kib(), mappings())]
}

fn scenario() {
    let markers = util::guard_markers();
    green::run(|| {
        let before = mappings();
        let [(rss_alive, maps_alive), (rss_done, maps_done)] = round(1);
        let touched = HEAVY * TOUCH_KIB;
        eprintln!(
            "round 1: RSS {rss_alive} KiB with {HEAVY} heavy greenlets alive, \
             {rss_done} KiB after; mappings {before}, then {maps_alive}, then {maps_done} \
             (guard markers: {markers})"
        );
        assert!(
            rss_alive.saturating_sub(rss_done) >= touched * 8 / 10,
            "the finished stacks kept their pages: RSS {rss_alive} -> {rss_done} KiB, \
             {touched} KiB were touched"
        );
        // Two mappings a stack without guard markers; one a slab of 64 with.
        let crowd = LIGHT + HEAVY;
        let most = if markers {
            crowd / 64 + 8
        } else {
            2 * crowd + 32
        };
        assert!(
            maps_alive <= before + most,
            "{crowd} greenlets took {} mappings",
            maps_alive - before
        );

        // The same crowd again: every stack comes from the pool or the
        // slabs, none is mapped anew, and the bodies run right on stacks
        // whose pages were discarded.
        let [(rss_alive2, maps_alive2), (rss_done2, _)] = round(2);
        eprintln!("round 2: RSS {rss_alive2} KiB, then {rss_done2} KiB; mappings {maps_alive2}");
        assert!(
            maps_alive2 <= maps_alive + 8,
            "round 2 mapped new stacks: {maps_alive} -> {maps_alive2} mappings"
        );
        assert!(rss_alive2.saturating_sub(rss_done2) >= touched * 8 / 10);
    });
    eprintln!("ok");
}

#[test]
fn finished_stacks_give_their_pages_back_and_are_reused() {
    let _w = util::watchdog();
    util::in_child_ok(
        "finished_stacks_give_their_pages_back_and_are_reused",
        scenario,
        &["ok"],
    );
}
