//! `cargo run --example seed` prints gevent's output line by line, with our
//! greenlet ids where gevent prints addresses.
//!
//! How the example is run: Cargo gives integration tests the path of the
//! package's binaries (`CARGO_BIN_EXE_<name>`) but not of its examples, and
//! which targets a `cargo test` builds depends on its flags (`--tests` skips
//! examples), so a binary found next to this test could be missing or stale.
//! The test therefore asks Cargo itself: `cargo run --quiet --example seed`
//! with the profile this test was built with. Cargo has released its build
//! lock by the time tests run, the build is a no-op when the example is up
//! to date, and it works the same from a clean clone. (green-core's own
//! `tests/seed.rs` checks the same ordering in-process.)

use std::time::Duration;

mod util;

/// gevent's output (CPython 3.11, gevent 26.9.0, greenlet 3.5.6; see
/// `shared/seed/gevent-reference.md`). Addresses differ per run; the
/// interleaving does not.
const GEVENT: &str = "\
<Greenlet at 0x7f74d57d8cc0: func(2)> 0
<Greenlet at 0x7f74d57d8cc0: func(2)> 1
<Greenlet at 0x7f74d54dbec0: func(3)> 0
<Greenlet at 0x7f74d54dbec0: func(3)> 1
<Greenlet at 0x7f74d54dbec0: func(3)> 2
********************
<Greenlet at 0x7f74d54dbf60: IO_func(2)> 0
<Greenlet at 0x7f74d5334a40: IO_func(3)> 0
<Greenlet at 0x7f74d54dbf60: IO_func(2)> 1
<Greenlet at 0x7f74d5334a40: IO_func(3)> 1
<Greenlet at 0x7f74d5334a40: IO_func(3)> 2
";

/// Building the example may take a while on a cold cache; a hang may not.
const LIMIT: Duration = Duration::from_secs(600);

/// gevent's lines with `<Greenlet at 0xADDR: NAME>` turned into our
/// `<Greenlet ID "NAME">`: each distinct address gets the next id, in order
/// of first appearance (which is spawn order in this program).
fn gevent_with_our_ids() -> Vec<String> {
    let mut addresses: Vec<String> = Vec::new();
    GEVENT
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("<Greenlet at ") else {
                return line.to_string();
            };
            let (address, rest) = rest.split_once(": ").expect("address: name");
            let (name, tail) = rest.split_once('>').expect("closing >");
            let id = match addresses.iter().position(|a| a == address) {
                Some(i) => i + 1,
                None => {
                    addresses.push(address.to_string());
                    addresses.len()
                }
            };
            format!("<Greenlet {id} {name:?}>{tail}")
        })
        .collect()
}

#[test]
fn cargo_run_example_seed_prints_what_gevent_prints() {
    let (status, stdout, stderr) = util::run_example("seed", LIMIT);
    assert!(status.success(), "{status}\n{stderr}");

    let expected = gevent_with_our_ids();
    let ours: Vec<&str> = stdout.lines().collect();
    for (i, (ours, gevent)) in ours.iter().zip(&expected).enumerate() {
        assert_eq!(ours, gevent, "line {}", i + 1);
    }
    assert_eq!(ours.len(), expected.len(), "{stdout}");
}
