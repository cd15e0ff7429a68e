//! The environment variables green reads: a value that is not a number is
//! a clear panic naming the variable (it was ignored before, the default
//! silently used), an empty one means unset.

mod util;

/// Spawns a greenlet (its stack size comes from `GREEN_STACK_SIZE`) and
/// runs a job on the blocking pool (its size from `GREEN_BLOCKING_THREADS`).
fn scenario() {
    green::run(|| {
        green::spawn(|| ()).join().unwrap();
        green::unblock(|| ());
    });
    println!("ran");
}

#[test]
fn a_setting_that_is_not_a_number_is_a_clear_panic() {
    let test = "a_setting_that_is_not_a_number_is_a_clear_panic";
    for (name, value, shown) in [
        (
            "GREEN_BLOCKING_THREADS",
            "zero",
            r#"GREEN_BLOCKING_THREADS="zero""#,
        ),
        (
            "GREEN_BLOCKING_THREADS",
            "0",
            r#"GREEN_BLOCKING_THREADS="0""#,
        ),
        (
            "GREEN_BLOCKING_THREADS",
            "-3",
            r#"GREEN_BLOCKING_THREADS="-3""#,
        ),
        ("GREEN_STACK_SIZE", "64k", r#"GREEN_STACK_SIZE="64k""#),
    ] {
        let out = util::in_child(test, &[(name, value)], scenario);
        assert!(!out.status.success(), "{name}={value}: {}", out.describe());
        assert!(
            out.stderr.contains(shown) && out.stderr.contains("is not a number of"),
            "{name}={value}: {}",
            out.describe()
        );
    }
}

#[test]
fn numbers_with_spaces_and_empty_values_are_accepted() {
    let test = "numbers_with_spaces_and_empty_values_are_accepted";
    for (name, value) in [
        ("GREEN_BLOCKING_THREADS", " 2 "),
        ("GREEN_BLOCKING_THREADS", ""),
        ("GREEN_STACK_SIZE", "131072"),
        ("GREEN_STACK_SIZE", ""),
    ] {
        let out = util::in_child(test, &[(name, value)], scenario);
        assert!(
            out.status.success() && out.stdout.contains("ran"),
            "{name}={value:?}: {}",
            out.describe()
        );
    }
}

/// The pool's size is not read inside its lazy initialiser: a bad value
/// there poisoned it, and the second use said only "LazyLock instance has
/// previously been poisoned".
#[test]
fn a_bad_pool_size_is_reported_clearly_at_every_use() {
    let test = "a_bad_pool_size_is_reported_clearly_at_every_use";
    let out = util::in_child(test, &[("GREEN_BLOCKING_THREADS", "many")], || {
        green::run(|| {
            for _ in 0..2 {
                let err = std::panic::catch_unwind(|| green::unblock(|| ())).unwrap_err();
                println!("use: {}", util::panic_message(&*err));
            }
        });
    });
    assert!(out.status.success(), "{}", out.describe());
    assert_eq!(
        out.stdout
            .matches(r#"use: green: the environment variable GREEN_BLOCKING_THREADS="many""#)
            .count(),
        2,
        "{}",
        out.describe()
    );
}
