//! Stack sizes: `Builder::stack_size`, the process-wide default
//! (`set_default_stack_size`, `GREEN_STACK_SIZE`), and the errors for a
//! stack that cannot be had.

mod util;

use std::hint::black_box;

const KIB: usize = 1024;

/// Puts 512 KiB on the stack, in one frame, and touches every page of it:
/// twice the default stack.
#[inline(never)]
fn use_512_kib() -> u64 {
    let mut buf = [0u8; 512 * KIB];
    black_box(&mut buf);
    for (i, b) in buf.iter_mut().enumerate().step_by(4096) {
        *b = (i / 4096) as u8; // one write per 4 KiB: every page
    }
    black_box(&buf).iter().map(|&b| u64::from(b)).sum()
}

#[test]
fn a_greenlet_gets_the_stack_it_asks_for() {
    let _w = util::watchdog();
    green::run(|| {
        let big = green::Builder::new()
            .name("big".into())
            .stack_size(2 * KIB * KIB)
            .spawn(use_512_kib)
            .unwrap();
        assert_eq!(big.join().unwrap(), (0..128).sum::<u64>());
    });
}

#[test]
fn the_default_stack_size_is_rounded_and_can_be_set() {
    let _w = util::watchdog();
    let before = green::default_stack_size();
    green::set_default_stack_size(1);
    assert_eq!(
        green::default_stack_size(),
        (16 * KIB).next_multiple_of(util::page_size()),
        "at least 16 KiB"
    );
    green::set_default_stack_size(100_000);
    let rounded = 100_000usize.next_multiple_of(util::page_size());
    assert_eq!(green::default_stack_size(), rounded, "whole pages");
    green::set_default_stack_size(before);
    assert_eq!(green::default_stack_size(), before);
}

#[test]
fn green_stack_size_sets_the_default() {
    let _w = util::watchdog();
    let out = util::in_child(
        "green_stack_size_sets_the_default",
        &[("GREEN_STACK_SIZE", "100000")],
        || eprintln!("default: {}", green::default_stack_size()),
    );
    assert!(out.status.success(), "{}", out.describe());
    let expected = 100_000usize.next_multiple_of(util::page_size());
    assert!(
        out.stderr.contains(&format!("default: {expected}")),
        "{}",
        out.describe()
    );
    // and 256 KiB without it
    let out = util::in_child("green_stack_size_sets_the_default", &[], || {
        eprintln!("default: {}", green::default_stack_size())
    });
    assert!(
        out.stderr.contains(&format!("default: {}", 256 * KIB)),
        "{}",
        out.describe()
    );
}

/// The child of `a_new_default_applies_to_the_next_greenlet`.
fn new_default_scenario() {
    green::run(|| {
        // a finished greenlet leaves its 16 KiB stack in the thread's pool
        green::set_default_stack_size(16 * KIB);
        green::spawn(|| ()).join().unwrap();
        // the next greenlet must get the new default, not the pooled stack
        green::set_default_stack_size(2 * KIB * KIB);
        let sum = green::spawn(use_512_kib).join().unwrap();
        eprintln!("used 512 KiB: {}", sum == (0..128).sum::<u64>());
    });
}

#[test]
fn a_new_default_applies_to_the_next_greenlet() {
    let _w = util::watchdog();
    util::in_child_ok(
        "a_new_default_applies_to_the_next_greenlet",
        new_default_scenario,
        &["used 512 KiB: true"],
    );
}

#[test]
fn an_impossible_stack_is_an_error_that_names_its_cause() {
    let _w = util::watchdog();
    green::run(|| {
        let size = usize::MAX / 2;
        let err = green::Builder::new()
            .stack_size(size)
            .spawn(|| ())
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("cannot allocate a greenlet stack of"), "{msg}");
        match err.kind() {
            // the usual case: RLIMIT_STACK's hard limit is unlimited
            std::io::ErrorKind::OutOfMemory => {
                assert!(msg.contains("out of memory (or address space)"), "{msg}")
            }
            // a finite hard limit, smaller than the request
            std::io::ErrorKind::InvalidInput => assert!(msg.contains("RLIMIT_STACK"), "{msg}"),
            kind => panic!("unexpected error kind {kind:?}: {msg}"),
        }
        // the hub is fine, and so is the next spawn
        assert_eq!(green::spawn(|| 1).join().unwrap(), 1);
    });
}

/// The child of `a_stack_beyond_the_stack_limit_is_invalid_input`.
fn rlimit_scenario() {
    let limit = 64 * KIB * KIB;
    let rlim = libc::rlimit {
        rlim_cur: limit as libc::rlim_t,
        rlim_max: limit as libc::rlim_t,
    };
    // SAFETY: `rlim` is a valid rlimit for the duration of the call.
    let r = unsafe { libc::setrlimit(libc::RLIMIT_STACK, &rlim) };
    assert_eq!(r, 0, "setrlimit: {}", std::io::Error::last_os_error());
    green::run(|| {
        let err = green::Builder::new()
            .stack_size(2 * limit)
            .spawn(|| ())
            .unwrap_err();
        eprintln!("kind: {:?}", err.kind());
        eprintln!("error: {err}");
        // below the limit is fine
        let ok = green::Builder::new().stack_size(limit / 2).spawn(|| 2);
        assert_eq!(ok.unwrap().join().unwrap(), 2);
    });
}

#[test]
fn a_stack_beyond_the_stack_limit_is_invalid_input() {
    let _w = util::watchdog();
    util::in_child_ok(
        "a_stack_beyond_the_stack_limit_is_invalid_input",
        rlimit_scenario,
        &[
            "kind: InvalidInput",
            "larger than the process's stack limit (RLIMIT_STACK)",
        ],
    );
}
