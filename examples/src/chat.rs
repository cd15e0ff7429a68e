//! A line-based chat server: every client is a greenlet, and one
//! *broadcaster* greenlet owns the list of who is here.
//!
//! The client greenlets never touch each other. They talk to the
//! broadcaster through one channel of `Event`s (joined, said, left), and
//! the broadcaster answers each client through that client's own
//! *outbox* channel, which a writer greenlet drains into its socket. With
//! a single event channel, the broadcaster sees every join, line and leave
//! in one order, so every client sees the others' lines in the order they
//! were said, and nobody hears someone who has left (or has not yet
//! joined).
//!
//! The protocol, one line each way, `\n`-terminated (`\r\n` accepted):
//!
//! ```text
//! server: Welcome to green chat!
//! server: What is your name? (empty for guest3)
//! client: alice
//! server: * you are alice; also here: bob, guest2
//!                                         (bob and guest2 get "* alice joined")
//! client: hello                           (bob and guest2 get "alice: hello")
//! ...                                     (on leaving: "* alice left")
//! ```
//!
//! A name that is empty, taken, longer than [`MAX_NAME`] characters, starts
//! with `*`, holds a `:` or a control character, or looks like a guest name
//! (`guest` and digits) becomes `guestN`, where N is the connection's number
//! (1 for the first), so guest names never clash. Empty lines are not
//! sent on. A line longer than [`MAX_LINE`] bytes ends the connection. A
//! client that falls [`OUTBOX`] lines behind (it does not read) is
//! disconnected rather than let the server queue lines for it without
//! end, and a write that cannot proceed for [`WRITE_TIMEOUT`] does the
//! same.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use green::channel::{self, Receiver, Sender};
use green_net::{TcpListener, TcpStream};

/// The longest line a client may send, in bytes (without its `\n`).
pub const MAX_LINE: usize = 4096;
/// The longest name, in characters.
pub const MAX_NAME: usize = 32;
/// How many lines may wait for a client before it is disconnected.
pub const OUTBOX: usize = 1024;
/// How long a write to a client may wait before it is disconnected.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a client greenlet tells the broadcaster.
enum Event {
    /// Connection `id` asks to join as `name`; the broadcaster's lines for
    /// it go to `outbox`.
    Join {
        /// The connection's number.
        id: u64,
        /// The name it asked for (the broadcaster may pick `guestN`).
        name: String,
        /// Where its lines go.
        outbox: Sender<String>,
        /// Its socket, to disconnect it if it falls behind.
        conn: TcpStream,
    },
    /// Connection `id` said `text`.
    Say {
        /// The connection's number.
        id: u64,
        /// The line, without its line ending.
        text: String,
    },
    /// Connection `id` has gone.
    Leave {
        /// The connection's number.
        id: u64,
    },
}

/// Binds `addr` and serves forever: a broadcaster greenlet, and a
/// greenlet per client (plus one that writes to it).
///
/// Must run inside [`green::run`].
///
/// # Errors
///
/// When `addr` cannot be bound, or a greenlet cannot be created.
pub fn serve(addr: &str, on_ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    on_ready(listener.local_addr()?);
    let (events, inbox) = channel::unbounded();
    green::Builder::new()
        .name("broadcaster".to_string())
        .spawn(move || broadcaster(&inbox))?;
    let mut next_id = 0;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        next_id += 1;
        let (id, events) = (next_id, events.clone());
        green::Builder::new()
            .name(format!("client {id}"))
            .spawn(move || {
                let _ = client(id, stream, &events);
            })?;
    }
    Ok(())
}

/// A client who has joined.
struct Member {
    id: u64,
    name: String,
    outbox: Sender<String>,
    conn: TcpStream,
}

/// Owns the member list; turns events into lines for the members.
/// Returns when every sender of `inbox` is gone.
fn broadcaster(inbox: &Receiver<Event>) {
    let mut members: Vec<Member> = Vec::new(); // in the order they joined
    for event in inbox.iter() {
        match event {
            Event::Join {
                id,
                name,
                outbox,
                conn,
            } => {
                let name = if acceptable(&name, &members) {
                    name
                } else {
                    format!("guest{id}")
                };
                let here: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                let welcome = if here.is_empty() {
                    format!("* you are {name}; nobody else is here\n")
                } else {
                    format!("* you are {name}; also here: {}\n", here.join(", "))
                };
                let joined = format!("* {name} joined\n");
                if outbox.try_send(welcome).is_ok() {
                    members.push(Member {
                        id,
                        name,
                        outbox,
                        conn,
                    });
                    tell_others(&mut members, id, &joined);
                }
            }
            Event::Say { id, text } => {
                if let Some(m) = members.iter().find(|m| m.id == id) {
                    let line = format!("{}: {text}\n", m.name);
                    tell_others(&mut members, id, &line);
                }
            }
            Event::Leave { id } => {
                if let Some(at) = members.iter().position(|m| m.id == id) {
                    let gone = members.remove(at); // its writer ends
                    tell_others(&mut members, id, &format!("* {} left\n", gone.name));
                }
            }
        }
    }
}

/// Whether `name` may be used: not empty, not taken, printable, not
/// confusable with the server's lines or a guest name.
fn acceptable(name: &str, members: &[Member]) -> bool {
    let guest_like = name
        .strip_prefix("guest")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    !name.is_empty()
        && !guest_like
        && name.chars().count() <= MAX_NAME
        && !name.starts_with('*')
        && !name.chars().any(|c| c == ':' || c.is_control())
        && !members.iter().any(|m| m.name == name)
}

/// Queues `line` for every member but `from`. A member whose outbox is
/// full or closed is disconnected (its socket shut down, which ends its
/// writer even in the middle of a write, and its reader), and its leaving
/// told in turn.
fn tell_others(members: &mut Vec<Member>, from: u64, line: &str) {
    let mut lagging = Vec::new();
    for m in members.iter().filter(|m| m.id != from) {
        // Full (it does not read) or disconnected (its writer has failed).
        if m.outbox.try_send(line.to_string()).is_err() {
            lagging.push(m.id);
        }
    }
    for id in lagging {
        if let Some(at) = members.iter().position(|m| m.id == id) {
            let gone = members.remove(at);
            let _ = gone.conn.shutdown(Shutdown::Both);
            tell_others(members, id, &format!("* {} left\n", gone.name));
        }
    }
}

/// One connection: greet, read the name, join, pass lines on until the
/// client leaves.
fn client(id: u64, stream: TcpStream, events: &Sender<Event>) -> io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let greeting = format!("Welcome to green chat!\nWhat is your name? (empty for guest{id})\n");
    (&stream).write_all(greeting.as_bytes())?;
    let Some(name) = read_line(&mut reader)? else {
        return Ok(()); // gone before saying who
    };
    let conn = stream.try_clone()?;
    let (outbox, lines) = channel::bounded(OUTBOX);
    let writer = green::Builder::new()
        .name(format!("client {id} writer"))
        .spawn(move || write_lines(&stream, &lines))?;
    let joined = events.send(Event::Join {
        id,
        name: name.trim().to_string(),
        outbox,
        conn,
    });
    if joined.is_ok() {
        // Until EOF, an error, or a line too long.
        while let Ok(Some(text)) = read_line(&mut reader) {
            if !text.is_empty() && events.send(Event::Say { id, text }).is_err() {
                break;
            }
        }
        let _ = events.send(Event::Leave { id });
    }
    // The broadcaster drops the outbox on Leave; the writer then ends.
    let _ = writer.join();
    Ok(())
}

/// Reads one line without its `\n` or `\r\n` (invalid UTF-8 replaced);
/// `None` at the end of the stream.
///
/// # Errors
///
/// `InvalidData` for a line longer than [`MAX_LINE`] bytes, or the read's
/// error.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    // One byte more than the longest line, and its `\r\n`.
    let limit = MAX_LINE as u64 + 2;
    reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if line.len() > MAX_LINE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// A client's writer: sends what arrives in its outbox, several lines per
/// write when they queue up, until the outbox closes or a write fails;
/// then shuts the socket down so that the client's reader ends too.
fn write_lines(stream: &TcpStream, lines: &Receiver<String>) {
    while let Ok(mut batch) = lines.recv() {
        for more in lines.try_iter().take(64) {
            batch.push_str(&more);
        }
        if (&*stream).write_all(batch.as_bytes()).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}
