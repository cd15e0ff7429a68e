//! The chat example end to end: three clients, the exact bytes each one
//! receives, joins and leaves announced, and no line lost or echoed when
//! all of them talk at once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(10);

/// Starts the server on its own thread (a hub), returns its address.
fn server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        green::run(|| {
            green_examples::chat::serve("127.0.0.1:0", |addr| tx.send(addr).unwrap()).unwrap();
        });
    });
    rx.recv_timeout(LIMIT).unwrap()
}

/// A test client: a socket and a line reader over it.
struct Client {
    conn: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let conn = TcpStream::connect_timeout(&addr, LIMIT).unwrap();
        conn.set_read_timeout(Some(LIMIT)).unwrap();
        conn.set_write_timeout(Some(LIMIT)).unwrap();
        let reader = BufReader::new(conn.try_clone().unwrap());
        Client { conn, reader }
    }

    /// Connects, checks the greeting of connection number `n`, gives
    /// `name`, checks the server's answer.
    fn join(addr: SocketAddr, n: u32, name: &str, answer: &str) -> Client {
        let mut c = Client::connect(addr);
        c.expect("Welcome to green chat!\n");
        c.expect(&format!("What is your name? (empty for guest{n})\n"));
        c.send(name);
        c.expect(answer);
        c
    }

    fn send(&mut self, line: &str) {
        self.conn.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// The next line, with its `\n`.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a line in time");
        line
    }

    fn expect(&mut self, line: &str) {
        assert_eq!(self.line(), line);
    }

    /// Asserts that the server has closed the connection, with nothing
    /// more to say.
    fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        let _ = self.reader.read_to_end(&mut rest); // EOF, or reset
        assert_eq!(String::from_utf8_lossy(&rest), "");
    }
}

#[test]
fn three_clients_hear_each_other_byte_exact() {
    let addr = server();
    let mut alice = Client::join(addr, 1, "alice", "* you are alice; nobody else is here\n");
    let mut bob = Client::join(addr, 2, "bob", "* you are bob; also here: alice\n");
    alice.expect("* bob joined\n");
    // An empty name: the connection's guest name.
    let mut guest = Client::join(addr, 3, "", "* you are guest3; also here: alice, bob\n");
    alice.expect("* guest3 joined\n");
    bob.expect("* guest3 joined\n");

    alice.send("hello, all");
    bob.expect("alice: hello, all\n");
    guest.expect("alice: hello, all\n");
    guest.send(""); // empty lines are not sent on
    guest.conn.write_all(b"hi from guest\r\n").unwrap(); // \r\n works too
    alice.expect("guest3: hi from guest\n");
    bob.expect("guest3: hi from guest\n");

    // bob leaves; the others are told, and talk on without him.
    drop(bob);
    alice.expect("* bob left\n");
    guest.expect("* bob left\n");
    guest.send("bye bob");
    alice.expect("guest3: bye bob\n");

    // Nobody hears their own lines: the next thing each one gets is
    // the other's line.
    alice.send("last from alice");
    guest.expect("alice: last from alice\n");
    guest.send("last from guest");
    alice.expect("guest3: last from guest\n");
}

#[test]
fn all_talking_at_once_loses_and_echoes_nothing() {
    const LINES: usize = 200;
    let addr = server();
    let names = ["ann", "ben", "cat"];
    let mut clients = vec![Client::join(
        addr,
        1,
        "ann",
        "* you are ann; nobody else is here\n",
    )];
    clients.push(Client::join(
        addr,
        2,
        "ben",
        "* you are ben; also here: ann\n",
    ));
    clients[0].expect("* ben joined\n");
    clients.push(Client::join(
        addr,
        3,
        "cat",
        "* you are cat; also here: ann, ben\n",
    ));
    clients[0].expect("* cat joined\n");
    clients[1].expect("* cat joined\n");

    // Each client sends its lines and reads the others' at the same time.
    let talkers: Vec<_> = clients
        .into_iter()
        .zip(names)
        .map(|(mut c, name)| {
            std::thread::spawn(move || {
                let mut writer = c.conn.try_clone().unwrap();
                let sender = std::thread::spawn(move || {
                    for i in 0..LINES {
                        writer
                            .write_all(format!("{name} {i}\n").as_bytes())
                            .unwrap();
                    }
                });
                let heard: Vec<String> = (0..2 * LINES).map(|_| c.line()).collect();
                sender.join().unwrap();
                (c, heard)
            })
        })
        .collect();
    let mut clients = Vec::new();
    for (talker, name) in talkers.into_iter().zip(names) {
        let (c, heard) = talker.join().unwrap();
        // Everything from each of the two others, in the order they sent.
        for other in names.iter().filter(|&&n| n != name) {
            let from_other: Vec<&String> = heard
                .iter()
                .filter(|l| l.starts_with(&format!("{other}: ")))
                .collect();
            let sent: Vec<String> = (0..LINES)
                .map(|i| format!("{other}: {other} {i}\n"))
                .collect();
            assert_eq!(
                from_other,
                sent.iter().collect::<Vec<_>>(),
                "{name} hearing {other}"
            );
        }
        // The 2 × LINES lines read are all the others': none is an echo.
        clients.push(c);
    }
    // ...and nothing more after them: the next line is a fresh one.
    clients[0].send("done");
    clients[1].expect("ann: done\n");
    clients[2].expect("ann: done\n");
}

#[test]
fn names_are_checked_and_long_lines_end_the_connection() {
    let addr = server();
    let mut zoe = Client::join(addr, 1, "  zoe  ", "* you are zoe; nobody else is here\n");
    // Taken, a colon, a star, a guest's, too long, a control character:
    // each gets its connection's guest name.
    let long_name = "n".repeat(green_examples::chat::MAX_NAME + 1);
    let bad = ["zoe", "a:b", "*x", "guest9", &long_name, "tab\there"];
    for (n, name) in (2..).zip(bad) {
        let answer = format!("* you are guest{n}; also here: zoe\n");
        let guest = Client::join(addr, n, name, &answer);
        zoe.expect(&format!("* guest{n} joined\n"));
        drop(guest);
        zoe.expect(&format!("* guest{n} left\n"));
    }
    let longest_name = "m".repeat(green_examples::chat::MAX_NAME);
    let answer = format!("* you are {longest_name}; also here: zoe\n");
    let mut max = Client::join(addr, 8, &longest_name, &answer);
    zoe.expect(&format!("* {longest_name} joined\n"));

    // The longest allowed line goes through.
    let longest = "y".repeat(green_examples::chat::MAX_LINE);
    max.send(&longest);
    zoe.expect(&format!("{longest_name}: {longest}\n"));
    // A longer one ends that connection, is not passed on, and the
    // others are told.
    max.send(&"x".repeat(green_examples::chat::MAX_LINE + 1));
    max.expect_closed();
    zoe.expect(&format!("* {longest_name} left\n"));
    zoe.send("anyone?");
    let mut late = Client::join(addr, 9, "late", "* you are late; also here: zoe\n");
    zoe.expect("* late joined\n");
    zoe.send("hi late");
    late.expect("zoe: hi late\n"); // and not "anyone?": said before joining
}

#[test]
fn a_client_that_does_not_read_is_disconnected() {
    let addr = server();
    let mut talker = Client::join(addr, 1, "talker", "* you are talker; nobody else is here\n");
    let sleepy = Client::join(addr, 2, "sleepy", "* you are sleepy; also here: talker\n");
    talker.expect("* sleepy joined\n");
    // sleepy reads nothing more: once the socket buffers and its outbox
    // are full, the server lets it go. The talker talks until told so
    // (at most 100,000 lines of 4 KiB).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writer = talker.conn.try_clone().unwrap();
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let line = format!("{}\n", "z".repeat(4095));
            for _ in 0..100_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                writer.write_all(line.as_bytes()).unwrap();
            }
        })
    };
    talker.expect("* sleepy left\n");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flood.join().unwrap();
    drop(sleepy);
    // The server carries on.
    let mut next = Client::join(addr, 3, "next", "* you are next; also here: talker\n");
    talker.expect("* next joined\n");
    next.send("still here?");
    talker.expect("next: still here?\n");
}
