//! The Redis example end to end: RESP bytes in, RESP bytes out, many
//! clients at once against one green server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

/// Starts the server on its own thread (a hub), returns its address.
fn server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        green::run(|| {
            green_examples::redis::serve("127.0.0.1:0", |addr| tx.send(addr).unwrap()).unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// Sends `request`, reads exactly `expected.len()` bytes back.
fn exchange(conn: &mut TcpStream, request: &[u8], expected: &[u8]) {
    conn.write_all(request).unwrap();
    let mut got = vec![0; expected.len()];
    conn.read_exact(&mut got).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "for request {:?}",
        String::from_utf8_lossy(request)
    );
}

fn cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

#[test]
fn commands_answer_byte_exact() {
    let addr = server();
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    exchange(&mut c, b"PING\r\n", b"+PONG\r\n"); // inline
    exchange(&mut c, &cmd(&["PING", "hi"]), b"$2\r\nhi\r\n");
    exchange(&mut c, &cmd(&["ECHO", "x y"]), b"$3\r\nx y\r\n");
    exchange(&mut c, &cmd(&["GET", "k"]), b"$-1\r\n");
    exchange(&mut c, &cmd(&["SET", "k", "v"]), b"+OK\r\n");
    exchange(&mut c, &cmd(&["SET", "k", "w", "NX"]), b"$-1\r\n");
    exchange(&mut c, &cmd(&["SET", "k", "w", "XX"]), b"+OK\r\n");
    exchange(&mut c, &cmd(&["GET", "k"]), b"$1\r\nw\r\n");
    exchange(&mut c, &cmd(&["INCR", "n"]), b":1\r\n");
    exchange(&mut c, &cmd(&["INCRBY", "n", "41"]), b":42\r\n");
    exchange(&mut c, &cmd(&["DECRBY", "n", "2"]), b":40\r\n");
    exchange(
        &mut c,
        &cmd(&["INCR", "k"]),
        b"-ERR value is not an integer or out of range\r\n",
    );
    exchange(&mut c, &cmd(&["MSET", "a", "1", "b", "2"]), b"+OK\r\n");
    exchange(
        &mut c,
        &cmd(&["MGET", "a", "zz", "b"]),
        b"*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n",
    );
    exchange(&mut c, &cmd(&["EXISTS", "a", "b", "zz"]), b":2\r\n");
    exchange(&mut c, &cmd(&["DEL", "a", "zz"]), b":1\r\n");
    exchange(&mut c, &cmd(&["TTL", "b"]), b":-1\r\n");
    exchange(&mut c, &cmd(&["TTL", "zz"]), b":-2\r\n");
    exchange(&mut c, &cmd(&["EXPIRE", "b", "100"]), b":1\r\n");
    exchange(&mut c, &cmd(&["TTL", "b"]), b":100\r\n");
    exchange(&mut c, &cmd(&["SET", "gone", "1", "PX", "1"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(5));
    exchange(&mut c, &cmd(&["GET", "gone"]), b"$-1\r\n");
    exchange(&mut c, &cmd(&["DBSIZE"]), b":3\r\n"); // k, n, b
    exchange(&mut c, &cmd(&["KEYS", "[kn]"]), b"*2\r\n"); // then two keys
    let mut reader = BufReader::new(c.try_clone().unwrap());
    let mut keys = Vec::new();
    for _ in 0..2 {
        let mut len = String::new();
        reader.read_line(&mut len).unwrap();
        let mut key = String::new();
        reader.read_line(&mut key).unwrap();
        keys.push(key.trim_end().to_string());
    }
    keys.sort();
    assert_eq!(keys, ["k", "n"]);
    exchange(&mut c, &cmd(&["NOPE"]), b"-ERR unknown command 'NOPE'\r\n");
    exchange(
        &mut c,
        &cmd(&["GET"]),
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    exchange(&mut c, &cmd(&["FLUSHDB"]), b"+OK\r\n");
    exchange(&mut c, &cmd(&["DBSIZE"]), b":0\r\n");
    // pipelined: three commands in one write, three answers
    let mut pipelined = cmd(&["SET", "p", "1"]);
    pipelined.extend(cmd(&["INCR", "p"]));
    pipelined.extend(cmd(&["GET", "p"]));
    exchange(&mut c, &pipelined, b"+OK\r\n:2\r\n$1\r\n2\r\n");
    // garbage gets an error, not a hang or a crash
    exchange(
        &mut c,
        b"*x\r\n",
        b"-ERR Protocol error: invalid length\r\n",
    );
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "the server closes after a protocol error");
}

#[test]
fn many_clients_at_once() {
    let addr = server();
    let clients: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                for _ in 0..100 {
                    exchange(&mut c, &cmd(&["INCR", "shared"]), b":");
                    let mut line = String::new();
                    BufReader::new(&mut c).read_line(&mut line).unwrap();
                }
                exchange(&mut c, &cmd(&["SET", &format!("k{i}"), "v"]), b"+OK\r\n");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let mut c = TcpStream::connect(addr).unwrap();
    exchange(&mut c, &cmd(&["GET", "shared"]), b"$4\r\n5000\r\n");
    exchange(&mut c, &cmd(&["DBSIZE"]), b":51\r\n");
}
