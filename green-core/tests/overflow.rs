//! Stack overflow: a greenlet that runs past the end of its stack hits the
//! guard page, and the process aborts (SIGABRT) with a message that names
//! the greenlet and its stack size. Each case runs in a child process.

mod util;

use std::hint::black_box;

/// Recurses until the stack runs out, 1 KiB per frame (not a tail call:
/// the frame is used after the call returns).
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut buf = [0u8; 1024];
    black_box(&mut buf);
    buf[0] = depth as u8;
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(u64::from(black_box(&buf)[0]))
}

/// Runs `scenario` in a child (named after the calling test) and checks that
/// it died of SIGABRT saying `expected`.
fn assert_overflow_aborts(test: &str, scenario: fn(), expected: &str) {
    let out = util::in_child(test, &[], scenario);
    assert!(!out.timed_out, "{}", out.describe());
    assert_eq!(out.signal(), Some(libc::SIGABRT), "{}", out.describe());
    assert!(out.stderr.contains(expected), "{}", out.describe());
    assert!(
        out.stderr
            .contains("Give it a larger stack with green::Builder::stack_size"),
        "{}",
        out.describe()
    );
    assert!(
        !out.stderr.contains("after the overflow"),
        "{}",
        out.describe()
    );
}

#[test]
fn a_named_greenlet_overflowing_its_stack_aborts_naming_it() {
    let _w = util::watchdog();
    assert_overflow_aborts(
        "a_named_greenlet_overflowing_its_stack_aborts_naming_it",
        || {
            green::run(|| {
                let bystander = green::spawn(|| green::sleep(std::time::Duration::from_secs(60)));
                let deep = green::Builder::new()
                    .name("deep".into())
                    .stack_size(64 * 1024)
                    .spawn(|| recurse(0))
                    .unwrap();
                let _ = deep.join();
                drop(bystander);
                eprintln!("after the overflow");
            });
        },
        r#"green: greenlet <Greenlet 2 "deep"> overflowed its stack of 65536 bytes and hit the guard page; aborting"#,
    );
}

#[test]
fn an_unnamed_greenlet_overflowing_the_default_stack_aborts() {
    let _w = util::watchdog();
    assert_overflow_aborts(
        "an_unnamed_greenlet_overflowing_the_default_stack_aborts",
        || {
            green::run(|| {
                let _ = green::spawn(|| recurse(0)).join();
                eprintln!("after the overflow");
            });
        },
        "green: greenlet <Greenlet 1> overflowed its stack of 262144 bytes",
    );
}

#[test]
fn the_main_greenlet_overflowing_its_stack_aborts() {
    let _w = util::watchdog();
    assert_overflow_aborts(
        "the_main_greenlet_overflowing_its_stack_aborts",
        || {
            green::run(|| recurse(0));
            eprintln!("after the overflow");
        },
        // The main greenlet is named like its thread: the test's.
        r#"green: greenlet <Greenlet 0 "the_main_greenlet_overflowing_its_stack_aborts"> overflowed its stack of 8388608 bytes"#,
    );
}
