//! The seed example: gevent's classic demonstration, ported to green.
//!
//! ```python
//! def func(n):
//!     for i in range(n):
//!         print(gevent.getcurrent(), i)
//!
//! def IO_func(n):
//!     for i in range(n):
//!         print(gevent.getcurrent(), i)
//!         gevent.sleep(0)
//!
//! for g in [gevent.spawn(func, i) for i in range(2, 4)]: g.join()
//! print("*" * 20)
//! gevent.joinall([gevent.spawn(IO_func, i) for i in range(2, 4)])
//! ```
//!
//! `func` never yields, so each runs to its end in turn; `IO_func` yields
//! after every line, so the two alternate. Run with
//! `cargo run --release --example seed`.

use std::time::Duration;

fn func(n: u32) {
    for i in 0..n {
        println!("{:?} {i}", green::current());
    }
}

#[allow(non_snake_case)]
fn IO_func(n: u32) {
    for i in 0..n {
        println!("{:?} {i}", green::current());
        green::sleep(Duration::ZERO); // give up control, like gevent.sleep(0)
    }
}

fn spawn_named(name: String, f: impl FnOnce() + 'static) -> green::JoinHandle<()> {
    green::Builder::new()
        .name(name)
        .spawn(f)
        .expect("spawn a greenlet")
}

fn main() {
    green::run(|| {
        let gs: Vec<_> = (2..4)
            .map(|i| spawn_named(format!("func({i})"), move || func(i)))
            .collect();
        for g in gs {
            g.join().expect("func greenlet");
        }
        println!("{}", "*".repeat(20));
        green::joinall(
            (2..4)
                .map(|i| spawn_named(format!("IO_func({i})"), move || IO_func(i)))
                .collect::<Vec<_>>(),
        );
    });
}
