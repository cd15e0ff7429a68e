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
    let mut addr = "127.0.0.1:7070".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(a)) => addr = a,
            _ => {
                eprintln!("usage: chat [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
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
