//! `http_server`'s graceful shutdown, run as its own process: on SIGTERM
//! or SIGINT a request in flight gets its whole response, idle
//! connections are closed, new connections are refused, the server says
//! what it drained and exits with status 0. Past `--grace-ms` a request is
//! cut short; a second signal exits at once with status 1.
//!
//! How the example is run: built by Cargo and started directly (see
//! `util::build_examples`), so that the signals reach the server itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

mod util;

/// Building the example may take a while on a cold cache; a hang may not.
const BUILD_LIMIT: Duration = Duration::from_secs(600);
/// Any single wait on the server: its first line, a response, its exit.
const LIMIT: Duration = Duration::from_secs(20);

/// What `GET /slow` answers (a chunk every 200 ms), byte for byte.
const SLOW: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
    7\r\nslow 0\n\r\n7\r\nslow 1\n\r\n7\r\nslow 2\n\r\n7\r\nslow 3\n\r\n7\r\nslow 4\n\r\n0\r\n\r\n";

fn executable() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let built = util::build_examples(&["http_server"], BUILD_LIMIT);
        built.into_iter().next().expect("one example").1
    })
}

/// Starts the example on a free loopback port; returns once it listens.
fn start(args: &[&str]) -> util::Server {
    util::start_server(
        executable(),
        args,
        "http_server listening on http://",
        LIMIT,
    )
}

fn send_signal(server: &util::Server, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(server.child.id()).expect("a pid");
    // SAFETY: kill(2) takes no pointers; the pid is our child's, not
    // waited for yet, so it cannot have been reused.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill({pid}, {signal})");
}

fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect_timeout(&addr, LIMIT).expect("connect");
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.set_write_timeout(Some(LIMIT)).unwrap();
    c
}

/// Sends `GET /slow` and reads until its first chunk has come: the
/// request is then in flight on the server.
fn slow_request_in_flight(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut c = connect(addr);
    c.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let first = SLOW.find("slow 1").unwrap() - "7\r\n".len();
    let mut got = vec![0; first];
    c.read_exact(&mut got).expect("the first chunk");
    (c, got)
}

/// A connection that has had one answer and stays open, idle.
fn idle_connection(addr: SocketAddr) -> TcpStream {
    let mut c = connect(addr);
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let want = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n\r\nHello from a greenlet!\n";
    let mut got = vec![0; want.len()];
    c.read_exact(&mut got).unwrap();
    assert_eq!(got, want);
    c
}

fn rest(mut c: TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).expect("the rest, then the close");
    rest
}

fn drains_on(signal: libc::c_int) {
    let server = start(&[]);
    let addr = server.addr;
    let idle = idle_connection(addr);
    let (slow, mut got) = slow_request_in_flight(addr);
    send_signal(&server, signal);
    // The idle connection is closed, after the listener: nothing more
    // gets in.
    assert_eq!(rest(idle), b"");
    let refused = TcpStream::connect_timeout(&addr, LIMIT).map(|_| ());
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused)
    );
    // The request in flight gets its whole response, then the close.
    got.extend(rest(slow));
    assert_eq!(String::from_utf8_lossy(&got), SLOW);
    let (status, printed) = server.wait(LIMIT);
    assert_eq!(
        printed,
        ["http_server: shut down: drained 1 of 1 request(s) in flight, closed 1 idle connection(s)"]
    );
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn sigterm_drains_the_request_in_flight_and_exits_0() {
    drains_on(libc::SIGTERM);
}

#[test]
fn sigint_drains_the_request_in_flight_and_exits_0() {
    drains_on(libc::SIGINT);
}

#[test]
fn past_the_grace_period_a_request_is_killed() {
    // 100 ms of grace for a response of 800 ms more.
    let server = start(&["--grace-ms", "100"]);
    let (slow, mut got) = slow_request_in_flight(server.addr);
    send_signal(&server, libc::SIGTERM);
    got.extend(rest(slow));
    let got = String::from_utf8_lossy(&got);
    assert!(SLOW.starts_with(&*got) && got.len() < SLOW.len(), "{got:?}");
    let (status, printed) = server.wait(LIMIT);
    assert_eq!(
        printed,
        ["http_server: shut down: drained 0 of 1 request(s) in flight, closed 0 idle connection(s)"]
    );
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn a_second_signal_exits_at_once_with_status_1() {
    let server = start(&[]);
    let (slow, _) = slow_request_in_flight(server.addr);
    send_signal(&server, libc::SIGTERM);
    send_signal(&server, libc::SIGINT);
    let (status, printed) = server.wait(LIMIT);
    assert_eq!(status.code(), Some(1), "{status}");
    assert_eq!(printed, Vec::<String>::new());
    drop(slow);
}
