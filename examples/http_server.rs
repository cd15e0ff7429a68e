//! An HTTP/1.1 server in plain blocking style, run as greenlets on one OS
//! thread: keep-alive, chunked bodies, static files, clean errors, and a
//! graceful shutdown on SIGINT or SIGTERM.
//!
//! ```text
//! cargo run --release --example http_server -- --addr 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/static/index.html
//! wrk -t1 -c100 -d5s http://127.0.0.1:8080/
//! ```
//!
//! The server is `green_examples::http`; static files come from
//! `examples/static/` (or `--static DIR`).
//!
//! On SIGINT (Ctrl-C) or SIGTERM it stops accepting, closes idle
//! connections, lets requests in flight finish for up to `--grace-ms`
//! (5000 by default; then they are killed), prints how many it drained and
//! exits with status 0. A second signal exits at once, with status 1.
//!
//! The signals reach the server without a thread: signal-hook's handler
//! writes a byte into one end of a Unix socket pair, and the main greenlet
//! reads the other end, parked like any greenlet waiting for a socket.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use green_std::io::Read;
use green_std::os::unix::net::UnixStream;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::{flag, low_level::pipe};

fn main() {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static"));
    let mut grace = Duration::from_secs(5);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        let ms = value.as_deref().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value, ms) {
            ("--addr", Some(a), _) => addr = a,
            ("--static", Some(dir), _) => root = PathBuf::from(dir),
            ("--grace-ms", _, Some(ms)) => grace = Duration::from_millis(ms),
            _ => {
                eprintln!("usage: http_server [--addr HOST:PORT] [--static DIR] [--grace-ms MS]");
                std::process::exit(2);
            }
        }
    }
    green::run(|| {
        let mut signals = shutdown_signals().expect("http_server: cannot watch for signals");
        let served = green_examples::http::serve_until(
            &addr,
            root,
            |bound| println!("http_server listening on http://{bound}/ (one OS thread)"),
            move || {
                // Parks this greenlet until a signal's byte arrives.
                let _ = signals.read(&mut [0]);
            },
            grace,
        );
        match served {
            Ok(d) => println!(
                "http_server: shut down: drained {} of {} request(s) in flight, closed {} idle connection(s)",
                d.in_flight - d.killed,
                d.in_flight,
                d.idle
            ),
            Err(e) => {
                eprintln!("http_server: {e}");
                std::process::exit(1);
            }
        }
    });
}

/// A socket that receives a byte on each SIGINT and SIGTERM (after the
/// first, the next one ends the process with status 1).
fn shutdown_signals() -> std::io::Result<UnixStream> {
    let (signals, notify) = UnixStream::pair()?;
    let signalled = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Actions run in the order registered: exit if signalled before,
        // then note this one, then wake the reader.
        flag::register_conditional_shutdown(signal, 1, Arc::clone(&signalled))?;
        flag::register(signal, Arc::clone(&signalled))?;
        pipe::register(signal, notify.try_clone()?)?;
    }
    Ok(signals)
}
