//! The showcase: a green HTTP server and a green load client in one
//! process, on one OS thread, with 10,000 concurrent keep-alive connections.
//!
//! ```text
//! cargo run --release --example showcase
//! cargo run --release --example showcase -- --connections 2000 --duration 5
//! ```
//!
//! Every connection is a pair of greenlets (the server's handler and a
//! client) written in plain blocking style: `read`, `write_all`, a loop.
//! A progress line is printed every second, then a summary: requests served,
//! requests per second, p50/p99 latency, peak memory, OS threads used.
//!
//! Flags: `--connections N` (default 10,000), `--duration SECONDS` (default
//! 10), `--addr HOST:PORT` (default `127.0.0.1:0`, any free port).

use std::time::Duration;

use green_examples::showcase::{self, fit_fd_limit, Options};

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        connections: 10_000,
        duration: Duration::from_secs(10),
        addr: "127.0.0.1:0".to_string(),
        progress: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--connections" => {
                o.connections = value()?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?;
            }
            "--duration" => {
                let secs: f64 = value()?.parse().map_err(|e| format!("--duration: {e}"))?;
                o.duration = Duration::from_secs_f64(secs);
            }
            "--addr" => o.addr = value()?,
            "--help" | "-h" => {
                return Err("usage: showcase [--connections N] [--duration SECONDS] \
                            [--addr HOST:PORT]"
                    .to_string())
            }
            other => return Err(format!("unknown flag {other} (try --help)")),
        }
    }
    if o.connections == 0 {
        return Err("--connections must be at least 1".to_string());
    }
    Ok(o)
}

fn main() {
    let options = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let connections = fit_fd_limit(options.connections);
    green::run(|| match showcase::run(&options, connections) {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("showcase failed: {e}");
            std::process::exit(1);
        }
    });
}
