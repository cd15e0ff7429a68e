//! The HTTP example end to end: keep-alive, pipelining, chunked bodies,
//! static files byte-exact, and bad input answered, not trusted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

fn server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static"));
    std::thread::spawn(move || {
        green::run(|| {
            green_examples::http::serve("127.0.0.1:0", root, |a| tx.send(a).unwrap()).unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// A response: status, headers (lower-case names), body.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (Content-Length or chunked).
fn read_response(r: &mut impl BufRead) -> Response {
    read_response_to(r, false)
}

/// Reads one response; a response to HEAD has no body whatever it says.
fn read_response_to(r: &mut impl BufRead, head: bool) -> Response {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        let (n, v) = line.trim_end().split_once(':').unwrap();
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if head {
        return resp;
    }
    if resp.header("transfer-encoding") == Some("chunked") {
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            resp.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = resp.header("content-length") {
        resp.body = vec![0; n.parse().unwrap()];
        r.read_exact(&mut resp.body).unwrap();
    }
    resp
}

fn request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut c = connect(addr);
    c.write_all(raw).unwrap();
    read_response(&mut BufReader::new(c))
}

#[test]
fn keep_alive_and_pipelining() {
    let addr = server();
    let mut c = connect(addr);
    let mut r = BufReader::new(c.try_clone().unwrap());
    for _ in 0..3 {
        c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let resp = read_response(&mut r);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"Hello from a greenlet!\n");
    }
    // three pipelined requests in one write
    c.write_all(b"GET / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r).status, 200);
    let head = read_response_to(&mut r, true);
    assert_eq!(head.header("content-length"), Some("23"));
    assert_eq!(read_response(&mut r).status, 404);
    // Connection: close is honoured
    c.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r).status, 200);
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn bodies_by_length_and_chunked() {
    let addr = server();
    let r = request(
        addr,
        b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(r.body, b"hello");
    let r = request(
        addr,
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\nTrailer: 1\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Wikipedia ");
    let r = request(addr, b"GET /stream HTTP/1.1\r\n\r\n");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, b"chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
}

#[test]
fn static_files_are_byte_exact_and_confined() {
    let addr = server();
    let expected =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/static/index.html")).unwrap();
    let r = request(addr, b"GET /static/index.html HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.body, expected);
    for escape in ["/static/../Cargo.toml", "/static//etc/passwd", "/static/"] {
        let raw = format!("GET {escape} HTTP/1.1\r\n\r\n");
        assert_eq!(request(addr, raw.as_bytes()).status, 404, "{escape}");
    }
}

#[test]
fn bad_requests_get_errors_not_crashes() {
    let addr = server();
    let cases: &[(&[u8], u16)] = &[
        (b"garbage\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"get / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nContent-Length: nope\r\n\r\n", 400),
        (
            b"POST /echo HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n",
            413,
        ),
        (
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        (b"DELETE / HTTP/1.1\r\n\r\n", 405),
    ];
    for (raw, status) in cases {
        let r = request(addr, raw);
        assert_eq!(r.status, *status, "{:?}", String::from_utf8_lossy(raw));
    }
    // headers over the limit
    let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10_000));
    huge.extend_from_slice(b"\r\n\r\n");
    assert_eq!(request(addr, &huge).status, 431);
    // binary noise: an answer or a close, and the server lives on
    let mut c = connect(addr);
    c.write_all(&[0xff, 0x00, 0x13, b'\n', b'\n']).unwrap();
    let mut sink = Vec::new();
    let _ = c.read_to_end(&mut sink);
    assert_eq!(request(addr, b"GET / HTTP/1.1\r\n\r\n").status, 200);
}

#[test]
fn many_concurrent_connections() {
    let addr = server();
    let clients: Vec<_> = (0..100)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = connect(addr);
                let mut r = BufReader::new(c.try_clone().unwrap());
                for _ in 0..20 {
                    c.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
                    assert_eq!(read_response(&mut r).status, 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}
