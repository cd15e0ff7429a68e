//! The engines of the examples, as a library so that tests can drive them;
//! each `examples/NAME.rs` is a thin command line over one module here.

pub mod chat;
pub mod crawler;
pub mod echo_summary;
pub mod http;
pub mod redis;
pub mod showcase;
pub mod tls;
pub mod ws;

/// The `--addr HOST:PORT` of an example whose only flag it is, or
/// `default`; any other argument prints `usage: NAME [--addr HOST:PORT]`
/// and exits with status 2.
pub fn addr_arg(name: &str, default: &str) -> String {
    let mut addr = default.to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(a)) => addr = a,
            _ => {
                eprintln!("usage: {name} [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    addr
}
