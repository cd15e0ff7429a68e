//! A RESP2 key-value server in plain blocking style: a thread per
//! connection, a `Mutex<HashMap>`, `read` and `write`. Through `green_std`
//! each "thread" is a greenlet and the whole server runs on one OS thread.
//!
//! Commands: PING, ECHO, GET, SET (EX/PX/NX/XX), DEL, EXISTS, INCR, DECR,
//! INCRBY, DECRBY, MGET, MSET, EXPIRE, PEXPIRE, TTL, PTTL, KEYS, DBSIZE,
//! FLUSHDB, FLUSHALL, INFO, CONFIG GET (empty answers, for
//! `redis-benchmark`), COMMAND (empty), QUIT. Inline commands
//! (`PING\r\n`) work too.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use green_std::io::{self, BufRead, BufReader, BufWriter, Write};
use green_std::net::{TcpListener, TcpStream};
use green_std::sync::{Arc, Mutex};
use green_std::thread;

/// The largest bulk string or array accepted: a client cannot make the
/// server allocate more.
const MAX_BULK: usize = 512 * 1024 * 1024;
const MAX_ARGS: usize = 1024 * 1024;

/// A stored value and its expiry.
struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

/// The keyspace.
#[derive(Default)]
struct Store {
    map: HashMap<Vec<u8>, Entry>,
    started: Option<Instant>,
}

impl Store {
    fn live(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let expired = self
            .map
            .get(key)
            .is_some_and(|e| e.expires.is_some_and(|t| t <= Instant::now()));
        if expired {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    fn purge(&mut self) {
        let now = Instant::now();
        self.map.retain(|_, e| e.expires.is_none_or(|t| t > now));
    }
}

/// Binds `addr` and serves forever, a thread (greenlet) per connection.
///
/// # Errors
///
/// When `addr` cannot be bound.
pub fn serve(addr: &str, on_ready: impl FnOnce(std::net::SocketAddr)) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    on_ready(listener.local_addr()?);
    let store = Arc::new(Mutex::new(Store {
        started: Some(Instant::now()),
        ..Store::default()
    }));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(_) => continue, // a connection failed before we got it
        };
        let store = Arc::clone(&store);
        thread::spawn(move || {
            let _ = handle(stream, &store);
        });
    }
    Ok(())
}

/// One connection: read a command, answer it, until the client leaves.
fn handle(stream: TcpStream, store: &Mutex<Store>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(&stream);
    let mut writer = BufWriter::new(&stream);
    loop {
        let args = match read_command(&mut reader) {
            Ok(Some(args)) => args,
            Ok(None) => return writer.flush(), // EOF
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                write_error(&mut writer, &format!("ERR Protocol error: {e}"))?;
                return writer.flush();
            }
            Err(e) => return Err(e),
        };
        if args.is_empty() {
            continue;
        }
        let quit = args[0].eq_ignore_ascii_case(b"QUIT");
        execute(&args, store, &mut writer)?;
        // Answer pipelined commands in one write, once the input runs dry.
        if quit || reader.buffer().is_empty() {
            writer.flush()?;
        }
        if quit {
            return Ok(());
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads one command: a RESP array of bulk strings, or an inline line.
/// `None` at a clean end of input.
fn read_command(r: &mut impl BufRead) -> io::Result<Option<Vec<Vec<u8>>>> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    let line = trim_crlf(&line);
    if line.first() != Some(&b'*') {
        // inline command
        return Ok(Some(
            line.split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .map(<[u8]>::to_vec)
                .collect(),
        ));
    }
    let count = parse_len(&line[1..], MAX_ARGS)?;
    let mut args = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let mut header = Vec::new();
        r.read_until(b'\n', &mut header)?;
        let header = trim_crlf(&header);
        if header.first() != Some(&b'$') {
            return Err(invalid("expected '$'"));
        }
        let len = parse_len(&header[1..], MAX_BULK)?;
        let mut bulk = vec![0; len + 2];
        r.read_exact(&mut bulk)?;
        if &bulk[len..] != b"\r\n" {
            return Err(invalid("bulk string not terminated by CRLF"));
        }
        bulk.truncate(len);
        args.push(bulk);
    }
    Ok(Some(args))
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_len(digits: &[u8], max: usize) -> io::Result<usize> {
    let n: i64 = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("invalid length"))?;
    usize::try_from(n.max(0))
        .ok()
        .filter(|&n| n <= max)
        .ok_or_else(|| invalid("length out of range"))
}

fn write_error(w: &mut impl Write, msg: &str) -> io::Result<()> {
    write!(w, "-{msg}\r\n")
}

fn write_bulk(w: &mut impl Write, value: Option<&[u8]>) -> io::Result<()> {
    match value {
        None => w.write_all(b"$-1\r\n"),
        Some(v) => {
            write!(w, "${}\r\n", v.len())?;
            w.write_all(v)?;
            w.write_all(b"\r\n")
        }
    }
}

fn write_int(w: &mut impl Write, n: i64) -> io::Result<()> {
    write!(w, ":{n}\r\n")
}

fn number(arg: &[u8]) -> Option<i64> {
    std::str::from_utf8(arg).ok()?.parse().ok()
}

/// Runs one command and writes its answer.
fn execute(args: &[Vec<u8>], store: &Mutex<Store>, w: &mut impl Write) -> io::Result<()> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let argc = args.len();
    let arity_ok = match name.as_str() {
        "PING" => argc <= 2,
        "ECHO" | "GET" | "INCR" | "DECR" | "TTL" | "PTTL" | "KEYS" => argc == 2,
        "SET" => argc >= 3,
        "DEL" | "EXISTS" | "MGET" => argc >= 2,
        "INCRBY" | "DECRBY" | "EXPIRE" | "PEXPIRE" => argc == 3,
        "MSET" => argc >= 3 && argc % 2 == 1,
        "DBSIZE" | "QUIT" => argc == 1,
        "FLUSHDB" | "FLUSHALL" | "INFO" | "COMMAND" | "CONFIG" => true,
        _ => {
            let shown = String::from_utf8_lossy(&args[0]);
            return write_error(w, &format!("ERR unknown command '{shown}'"));
        }
    };
    if !arity_ok {
        let lower = name.to_ascii_lowercase();
        return write_error(
            w,
            &format!("ERR wrong number of arguments for '{lower}' command"),
        );
    }
    let mut db = store.lock().unwrap_or_else(|p| p.into_inner());
    match name.as_str() {
        "PING" => match args.get(1) {
            None => w.write_all(b"+PONG\r\n"),
            Some(msg) => write_bulk(w, Some(msg)),
        },
        "ECHO" => write_bulk(w, Some(&args[1])),
        "QUIT" => w.write_all(b"+OK\r\n"),
        "GET" => {
            let v = db.live(&args[1]).map(|e| e.value.clone());
            write_bulk(w, v.as_deref())
        }
        "SET" => set(&mut db, args, w),
        "DEL" | "EXISTS" => {
            let mut n = 0;
            for key in &args[1..] {
                if db.live(key).is_some() {
                    n += 1;
                    if name == "DEL" {
                        db.map.remove(key);
                    }
                }
            }
            write_int(w, n)
        }
        "INCR" | "DECR" | "INCRBY" | "DECRBY" => {
            let by = match name.as_str() {
                "INCR" => Some(1),
                "DECR" => Some(-1),
                "INCRBY" => number(&args[2]),
                _ => number(&args[2]).and_then(i64::checked_neg),
            };
            let Some(by) = by else {
                return write_error(w, "ERR value is not an integer or out of range");
            };
            let current = match db.live(&args[1]) {
                None => Some(0),
                Some(e) => number(&e.value),
            };
            let Some(next) = current.and_then(|c| c.checked_add(by)) else {
                return write_error(w, "ERR value is not an integer or out of range");
            };
            let expires = db.live(&args[1]).and_then(|e| e.expires);
            db.map.insert(
                args[1].clone(),
                Entry {
                    value: next.to_string().into_bytes(),
                    expires,
                },
            );
            write_int(w, next)
        }
        "MGET" => {
            write!(w, "*{}\r\n", argc - 1)?;
            for key in &args[1..] {
                let v = db.live(key).map(|e| e.value.clone());
                write_bulk(w, v.as_deref())?;
            }
            Ok(())
        }
        "MSET" => {
            for pair in args[1..].chunks(2) {
                db.map.insert(
                    pair[0].clone(),
                    Entry {
                        value: pair[1].clone(),
                        expires: None,
                    },
                );
            }
            w.write_all(b"+OK\r\n")
        }
        "EXPIRE" | "PEXPIRE" => {
            let Some(n) = number(&args[2]) else {
                return write_error(w, "ERR value is not an integer or out of range");
            };
            let ms = if name == "EXPIRE" {
                n.saturating_mul(1000)
            } else {
                n
            };
            let found = match db.live(&args[1]) {
                None => false,
                Some(e) => {
                    e.expires = Some(Instant::now() + Duration::from_millis(ms.max(0) as u64));
                    true
                }
            };
            if found && ms <= 0 {
                db.map.remove(&args[1]);
            }
            write_int(w, i64::from(found))
        }
        "TTL" | "PTTL" => {
            let ttl = match db.live(&args[1]) {
                None => -2,
                Some(Entry { expires: None, .. }) => -1,
                Some(Entry {
                    expires: Some(t), ..
                }) => {
                    let left = t.saturating_duration_since(Instant::now());
                    if name == "TTL" {
                        // rounded like Redis: remaining seconds, rounded up
                        left.as_millis().div_ceil(1000) as i64
                    } else {
                        left.as_millis() as i64
                    }
                }
            };
            write_int(w, ttl)
        }
        "KEYS" => {
            db.purge();
            let keys: Vec<&Vec<u8>> = db.map.keys().filter(|k| glob(&args[1], k)).collect();
            write!(w, "*{}\r\n", keys.len())?;
            for k in keys {
                write_bulk(w, Some(k))?;
            }
            Ok(())
        }
        "DBSIZE" => {
            db.purge();
            write_int(w, db.map.len() as i64)
        }
        "FLUSHDB" | "FLUSHALL" => {
            db.map.clear();
            w.write_all(b"+OK\r\n")
        }
        "INFO" => {
            db.purge();
            let uptime = db.started.map_or(0, |s| s.elapsed().as_secs());
            let info = format!(
                "# Server\r\nredis_version:7.0.0-green\r\nredis_mode:standalone\r\n\
                 uptime_in_seconds:{uptime}\r\n\r\n# Keyspace\r\ndb0:keys={},expires=0\r\n",
                db.map.len()
            );
            write_bulk(w, Some(info.as_bytes()))
        }
        // CONFIG GET name: the name with an empty value (redis-benchmark
        // asks for `save` and `appendonly`).
        "CONFIG" if argc == 3 && args[1].eq_ignore_ascii_case(b"GET") => {
            w.write_all(b"*2\r\n")?;
            write_bulk(w, Some(&args[2]))?;
            write_bulk(w, Some(b""))
        }
        "CONFIG" | "COMMAND" => w.write_all(b"*0\r\n"),
        _ => unreachable!("arity checked every known command"),
    }
}

fn set(db: &mut Store, args: &[Vec<u8>], w: &mut impl Write) -> io::Result<()> {
    let (mut expires, mut nx, mut xx) = (None, false, false);
    let mut i = 3;
    while i < args.len() {
        let opt = String::from_utf8_lossy(&args[i]).to_ascii_uppercase();
        match opt.as_str() {
            "NX" => nx = true,
            "XX" => xx = true,
            "EX" | "PX" => {
                let n = args.get(i + 1).and_then(|a| number(a)).filter(|&n| n > 0);
                let Some(n) = n else {
                    return write_error(w, "ERR invalid expire time in 'set' command");
                };
                let ms = if opt == "EX" {
                    n.saturating_mul(1000)
                } else {
                    n
                };
                expires = Some(Instant::now() + Duration::from_millis(ms as u64));
                i += 1;
            }
            _ => return write_error(w, "ERR syntax error"),
        }
        i += 1;
    }
    if nx && xx {
        return write_error(w, "ERR syntax error");
    }
    let exists = db.live(&args[1]).is_some();
    if (nx && exists) || (xx && !exists) {
        return w.write_all(b"$-1\r\n");
    }
    db.map.insert(
        args[1].clone(),
        Entry {
            value: args[2].clone(),
            expires,
        },
    );
    w.write_all(b"+OK\r\n")
}

/// Redis's glob: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`.
fn glob(pattern: &[u8], s: &[u8]) -> bool {
    match pattern.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((b'[', rest)) => {
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return !s.is_empty() && s[0] == b'[' && glob(rest, &s[1..]);
            };
            let (class, after) = (&rest[..end], &rest[end + 1..]);
            let Some(&c) = s.first() else { return false };
            let (negate, class) = match class.split_first() {
                Some((b'^', c)) => (true, c),
                _ => (false, class),
            };
            let mut hit = false;
            let mut j = 0;
            while j < class.len() {
                if j + 2 < class.len() && class[j + 1] == b'-' {
                    hit |= (class[j]..=class[j + 2]).contains(&c);
                    j += 3;
                } else {
                    hit |= class[j] == c;
                    j += 1;
                }
            }
            hit != negate && glob(after, &s[1..])
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            !s.is_empty() && s[0] == rest[0] && glob(&rest[1..], &s[1..])
        }
        Some((&p, rest)) => !s.is_empty() && s[0] == p && glob(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_like_redis() {
        assert!(glob(b"*", b"anything"));
        assert!(glob(b"h?llo", b"hello"));
        assert!(glob(b"h[ae]llo", b"hallo"));
        assert!(!glob(b"h[^e]llo", b"hello"));
        assert!(glob(b"h[a-c]llo", b"hbllo"));
        assert!(glob(b"key:*:x", b"key:12:x"));
        assert!(!glob(b"key:*:x", b"key:12:y"));
        assert!(glob(b"a\\*", b"a*"));
    }
}
