//! A TLS echo server: rustls over green sockets, a greenlet per
//! connection, with a self-signed certificate made at start.
//!
//! ```text
//! cargo run --release --example tls_echo -- --addr 127.0.0.1:8443 --cert-out /tmp/echo.pem
//! openssl s_client -connect 127.0.0.1:8443 -CAfile /tmp/echo.pem -servername localhost
//! cargo run --release --example tls_echo -- --demo --clients 100 --messages 10
//! ```
//!
//! `--demo` runs the server and `--clients` green TLS clients in one
//! process on one OS thread; each client trusts the fresh certificate,
//! sends `--messages` lines of 1 byte to 100 KB, checks every echo byte for
//! byte and closes cleanly; then a summary is printed.
//!
//! The engine is `green_examples::tls`.

use green_examples::tls::{self, Identity};

const USAGE: &str = "usage: tls_echo [--addr HOST:PORT] [--cert-out FILE]\n       \
                     tls_echo --demo [--clients N] [--messages M]";

/// What the command line asks for.
struct Args {
    addr: String,
    cert_out: Option<String>,
    demo: bool,
    clients: usize,
    messages: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        addr: "127.0.0.1:8443".to_string(),
        cert_out: None,
        demo: false,
        clients: 100,
        messages: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => a.addr = value()?,
            "--cert-out" => a.cert_out = Some(value()?),
            "--demo" => a.demo = true,
            "--clients" => a.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--messages" => {
                a.messages = value()?.parse().map_err(|e| format!("--messages: {e}"))?;
            }
            "--help" | "-h" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() {
    let args = parse_args().unwrap_or_else(|msg| {
        eprintln!("{msg}");
        std::process::exit(2);
    });
    green::run(|| {
        let result = if args.demo { demo(&args) } else { serve(&args) };
        if let Err(e) = result {
            eprintln!("tls_echo: {e}");
            std::process::exit(1);
        }
    });
}

fn demo(args: &Args) -> std::io::Result<()> {
    println!(
        "tls_echo demo: a TLS echo server and {} green TLS clients, {} messages each, \
         on one OS thread",
        args.clients, args.messages
    );
    let summary = tls::demo(args.clients, args.messages)?;
    println!("{summary}");
    if summary.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn serve(args: &Args) -> std::io::Result<()> {
    let identity = Identity::self_signed()?;
    if let Some(path) = &args.cert_out {
        std::fs::write(path, &identity.cert_pem)?;
    }
    let listener = green_net::TcpListener::bind(args.addr.as_str())?;
    let addr = listener.local_addr()?;
    println!(
        "tls_echo listening on {addr} (TLS, self-signed certificate for localhost, 127.0.0.1, \
         ::1; one OS thread, a greenlet per connection)"
    );
    match &args.cert_out {
        Some(path) => {
            println!("try: openssl s_client -connect {addr} -CAfile {path} -servername localhost")
        }
        None => println!("(--cert-out FILE writes the certificate, to verify it)"),
    }
    tls::serve(listener, identity.server_config()?)
}
