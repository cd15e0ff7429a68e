//! An HTTP/1.1 server in plain blocking style, run as greenlets on one OS
//! thread: keep-alive, chunked bodies, static files, clean errors.
//!
//! ```text
//! cargo run --release --example http_server -- --addr 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/static/index.html
//! wrk -t1 -c100 -d5s http://127.0.0.1:8080/
//! ```
//!
//! The server is `green_examples::http`; static files come from
//! `examples/static/` (or `--static DIR`).

use std::path::PathBuf;

fn main() {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static"));
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(a)) => addr = a,
            ("--static", Some(dir)) => root = PathBuf::from(dir),
            _ => {
                eprintln!("usage: http_server [--addr HOST:PORT] [--static DIR]");
                std::process::exit(2);
            }
        }
    }
    green::run(|| {
        let served = green_examples::http::serve(&addr, root, |bound| {
            println!("http_server listening on http://{bound}/ (one OS thread)");
        });
        if let Err(e) = served {
            eprintln!("http_server: {e}");
            std::process::exit(1);
        }
    });
}
