//! A WebSocket echo server: tungstenite's blocking API over green
//! sockets, a greenlet per connection.
//!
//! ```text
//! cargo run --release --example ws_echo -- --addr 127.0.0.1:9001
//! websocat ws://127.0.0.1:9001/        # or any WebSocket client
//! cargo run --release --example ws_echo -- --demo --clients 100
//! ```
//!
//! Text and binary messages come back as they were sent; pings are
//! answered; a close frame is answered and the connection closed.
//! `--demo` runs the server and `--clients` green WebSocket clients in one
//! process on one OS thread; each sends text, binary and a 1 MiB message,
//! checks every echo, pings and closes; then a summary is printed.
//!
//! The engine is `green_examples::ws`.

use green_examples::ws;

const USAGE: &str = "usage: ws_echo [--addr HOST:PORT]\n       ws_echo --demo [--clients N]";

fn main() {
    let mut addr = "127.0.0.1:9001".to_string();
    let mut demo = false;
    let mut clients = 100;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--addr" => match args.next() {
                Some(a) => addr = a,
                None => usage(),
            },
            "--demo" => demo = true,
            "--clients" => match args.next().map(|n| n.parse()) {
                Some(Ok(n)) => clients = n,
                _ => usage(),
            },
            _ => usage(),
        }
    }
    green::run(|| {
        let result = if demo {
            println!(
                "ws_echo demo: a WebSocket echo server and {clients} green WebSocket clients \
                 on one OS thread"
            );
            ws::demo(clients).map(|summary| {
                println!("{summary}");
                if summary.failed > 0 {
                    std::process::exit(1);
                }
            })
        } else {
            green_net::TcpListener::bind(addr.as_str()).and_then(|listener| {
                println!(
                    "ws_echo listening on ws://{}/ (one OS thread, a greenlet per connection)",
                    listener.local_addr()?
                );
                ws::serve(listener)
            })
        };
        if let Err(e) = result {
            eprintln!("ws_echo: {e}");
            std::process::exit(1);
        }
    });
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}
