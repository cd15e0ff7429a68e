//! A Redis-compatible (RESP2) key-value server written in plain blocking
//! style, run as greenlets on one OS thread.
//!
//! ```text
//! cargo run --release --example redis_server -- --addr 127.0.0.1:6380
//! redis-cli -p 6380 set greeting hello
//! redis-benchmark -p 6380 -t ping,set,get,incr,mset -q
//! ```
//!
//! The server is `green_examples::redis`: a thread per connection and a
//! `Mutex<HashMap>`, through `green_std`.

fn main() {
    let addr = green_examples::addr_arg("redis_server", "127.0.0.1:6380");
    green::run(|| {
        let served = green_examples::redis::serve(&addr, |bound| {
            println!("redis_server listening on {bound} (one OS thread, a greenlet per client)");
        });
        if let Err(e) = served {
            eprintln!("redis_server: {e}");
            std::process::exit(1);
        }
    });
}
