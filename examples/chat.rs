//! A line-based chat server: a greenlet per client, a broadcaster
//! greenlet that owns the list of who is here, green channels between
//! them, all on one OS thread.
//!
//! ```text
//! cargo run --example chat -- --addr 127.0.0.1:7070
//! nc 127.0.0.1 7070      # in two or more terminals
//! ```
//!
//! The server is `green_examples::chat`, where the protocol is described.

fn main() {
    let addr = green_examples::addr_arg("chat", "127.0.0.1:7070");
    green::run(|| {
        let served = green_examples::chat::serve(&addr, |bound| {
            println!("chat listening on {bound} (one OS thread, a greenlet per client)");
        });
        if let Err(e) = served {
            eprintln!("chat: {e}");
            std::process::exit(1);
        }
    });
}
