//! The seed example (gevent's classic demonstration), line by line against
//! gevent's own output, with our greenlet ids where gevent prints addresses.
//!
//! The program is `examples/seed.rs` with `println!` swapped for a log, so
//! that the hub's ordering is checked here, in green-core's own suite;
//! `examples/tests/seed.rs` runs the real example binary and compares its
//! standard output with the same reference.

mod util;

use std::time::Duration;

use util::Log;

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

/// gevent's lines with `<Greenlet at 0xADDR: NAME>` turned into our
/// `<Greenlet ID "NAME">`: each distinct address gets the next id, in order
/// of first appearance, which is spawn order in this program.
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

fn func(out: &Log, n: u32) {
    for i in 0..n {
        out.push(format!("{:?} {i}", green::current()));
    }
}

#[allow(non_snake_case)]
fn IO_func(out: &Log, n: u32) {
    for i in 0..n {
        out.push(format!("{:?} {i}", green::current()));
        green::sleep(Duration::ZERO); // gevent.sleep(0)
    }
}

fn spawn_named(name: String, f: impl FnOnce() + 'static) -> green::JoinHandle<()> {
    green::Builder::new()
        .name(name)
        .spawn(f)
        .expect("spawn a greenlet")
}

/// `examples/seed.rs`, printing into `out`.
fn seed(out: &Log) {
    green::run(|| {
        let gs: Vec<_> = (2..4)
            .map(|i| {
                let out = out.clone();
                spawn_named(format!("func({i})"), move || func(&out, i))
            })
            .collect();
        for g in gs {
            g.join().expect("func greenlet");
        }
        out.push("*".repeat(20));
        green::joinall(
            (2..4)
                .map(|i| {
                    let out = out.clone();
                    spawn_named(format!("IO_func({i})"), move || IO_func(&out, i))
                })
                .collect::<Vec<_>>(),
        )
        .into_iter()
        .for_each(|r| r.expect("IO_func greenlet"));
    });
}

#[test]
fn the_reference_maps_addresses_to_ids_in_spawn_order() {
    let _w = util::watchdog();
    let expected = gevent_with_our_ids();
    assert_eq!(expected[0], r#"<Greenlet 1 "func(2)"> 0"#);
    assert_eq!(expected[4], r#"<Greenlet 2 "func(3)"> 2"#);
    assert_eq!(expected[7], r#"<Greenlet 4 "IO_func(3)"> 0"#);
}

#[test]
fn the_seed_example_prints_what_gevent_prints() {
    let _w = util::watchdog();
    let expected = gevent_with_our_ids();
    let out = Log::new();
    seed(&out);
    let ours = out.lines();
    for (i, (ours, gevent)) in ours.iter().zip(&expected).enumerate() {
        assert_eq!(ours, gevent, "line {}", i + 1);
    }
    assert_eq!(ours.len(), expected.len(), "{ours:#?}");
    // and again: the interleaving is deterministic
    let again = Log::new();
    seed(&again);
    assert_eq!(again.lines(), ours);
}
