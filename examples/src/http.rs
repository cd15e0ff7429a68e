//! An HTTP/1.1 server in plain blocking style (a thread per connection,
//! `BufReader`, `write_all`), run as greenlets through `green_std`.
//!
//! - Keep-alive (HTTP/1.1 by default, HTTP/1.0 on request), pipelining.
//! - Request bodies by `Content-Length` or `Transfer-Encoding: chunked`;
//!   responses with `Content-Length`, or chunked for `/stream`.
//! - Routes: `GET /` (a greeting), `POST /echo` (the body back),
//!   `GET /stream` (a chunked response), `GET /slow` (a chunked response
//!   that takes a second: a chunk sent every 200 ms), `GET /static/<path>`
//!   (files under the static root, read with `green_std::fs`), `HEAD` for
//!   all of them.
//! - Bad input is answered, never trusted: 400 for a malformed request,
//!   431 for headers over 8 KiB, 413 for bodies over 8 MiB, 501 for unknown
//!   transfer encodings, 404/405 otherwise; the connection is closed after
//!   an error it cannot resynchronise from.
//! - [`serve_until`] shuts down gracefully: it stops accepting, closes the
//!   connections that wait for a request, lets those in the middle of one
//!   finish it (for a grace period, then kills them; a greenlet can be
//!   killed where a thread cannot) and reports how many it drained.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use green::pool::Group;
use green::{GreenletId, JoinHandle};

use green_std::fs;
use green_std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use green_std::net::{TcpListener, TcpStream};
use green_std::sync::Arc;
use green_std::thread;

/// Headers larger than this get a 431.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Bodies larger than this get a 413.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Binds `addr` and serves forever; files for `/static/` come from
/// `static_root`.
///
/// # Errors
///
/// When `addr` cannot be bound.
pub fn serve(
    addr: &str,
    static_root: PathBuf,
    on_ready: impl FnOnce(std::net::SocketAddr),
) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    on_ready(listener.local_addr()?);
    let root = Arc::new(static_root);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let root = Arc::clone(&root);
        thread::spawn(move || {
            let _ = handle(stream, &root, None);
        });
    }
    Ok(())
}

/// What a graceful shutdown by [`serve_until`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Requests that were being read or answered when `stop` returned.
    pub in_flight: usize,
    /// Of those, the ones killed at the end of the grace period.
    pub killed: usize,
    /// Connections that were waiting for a request, closed at once.
    pub idle: usize,
}

/// Like [`serve`], until `stop` returns: it runs on the calling greenlet
/// while the server runs in others. Then the listener is closed (new
/// connections are refused), connections that wait for a request are
/// closed, and those in the middle of one finish it, answered with
/// `Connection: close` where their response has not started, for at most
/// `grace`; the ones still running then are killed.
///
/// # Errors
///
/// When `addr` cannot be bound.
pub fn serve_until(
    addr: &str,
    static_root: PathBuf,
    on_ready: impl FnOnce(std::net::SocketAddr),
    stop: impl FnOnce(),
    grace: Duration,
) -> io::Result<Drained> {
    let listener = TcpListener::bind(addr)?;
    on_ready(listener.local_addr()?);
    let root = Arc::new(static_root);
    let conns = Rc::new(Connections::default());
    let acceptor = {
        let conns = Rc::clone(&conns);
        green::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (root, tracked) = (Arc::clone(&root), Rc::clone(&conns));
                let conn = green::spawn(move || {
                    let me = Tracked::new(tracked);
                    let _ = handle(stream, &root, Some(&me));
                });
                conns.open.borrow_mut().insert(conn.id(), (conn, false));
            }
        })
    };
    stop();
    conns.closing.set(true);
    acceptor.kill(); // drops the listener: new connections are refused
    let open = std::mem::take(&mut *conns.open.borrow_mut());
    let (busy, idle): (Vec<_>, Vec<_>) = open.into_values().partition(|&(_, busy)| busy);
    for (conn, _) in &idle {
        conn.kill();
    }
    let in_flight = Group::new();
    for (conn, _) in &busy {
        in_flight.add(conn);
    }
    let killed = if in_flight.join_timeout(grace) {
        0
    } else {
        let late = in_flight.len();
        in_flight.kill();
        late
    };
    Ok(Drained {
        in_flight: busy.len(),
        killed,
        idle: idle.len(),
    })
}

/// The open connections of [`serve_until`] (all on its hub).
#[derive(Default)]
struct Connections {
    /// Set once `stop` has returned.
    closing: Cell<bool>,
    /// Each connection's greenlet, and whether it is in a request.
    open: RefCell<HashMap<GreenletId, (JoinHandle<()>, bool)>>,
}

/// A connection's entry in [`Connections`], from inside its greenlet;
/// removed when the greenlet ends, however it ends.
struct Tracked {
    id: GreenletId,
    conns: Rc<Connections>,
}

impl Tracked {
    fn new(conns: Rc<Connections>) -> Tracked {
        let id = green::current().id();
        Tracked { id, conns }
    }

    /// Marks the connection as in a request (`true`) or waiting for one.
    fn set_busy(&self, busy: bool) {
        if let Some((_, b)) = self.conns.open.borrow_mut().get_mut(&self.id) {
            *b = busy;
        }
    }

    fn closing(&self) -> bool {
        self.conns.closing.get()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Detaches our own handle; the shutdown took it out already.
        let me = self.conns.open.borrow_mut().remove(&self.id);
        drop(me);
    }
}

/// A parsed request.
struct Request {
    method: String,
    path: String,
    keep_alive: bool,
    body: Vec<u8>,
}

/// Why a request could not be read: the status to answer with.
struct Reject(u16, &'static str);

/// Serves one connection; `tracked` when [`serve_until`] may shut it down.
fn handle(stream: TcpStream, root: &Path, tracked: Option<&Tracked>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(&stream);
    let mut writer = BufWriter::new(&stream);
    loop {
        if let Some(me) = tracked {
            // Between requests, unless a pipelined one is here already.
            if reader.buffer().is_empty() {
                me.set_busy(false);
                if me.closing() || reader.fill_buf()?.is_empty() {
                    return writer.flush();
                }
                me.set_busy(true);
            }
        }
        let mut request = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return writer.flush(), // the client closed
            Err(Ok(Reject(status, why))) => {
                respond(
                    &mut writer,
                    status,
                    "text/plain",
                    why.as_bytes(),
                    false,
                    false,
                )?;
                return writer.flush();
            }
            Err(Err(e)) => return Err(e),
        };
        if tracked.is_some_and(Tracked::closing) {
            request.keep_alive = false;
        }
        let keep_alive = request.keep_alive;
        route(&request, root, &mut writer)?;
        if !keep_alive {
            return writer.flush();
        }
        // Pipelined requests get their answers in one write.
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
}

/// Reads one request; `Ok(None)` at a clean end of the connection.
fn read_request(r: &mut impl BufRead) -> Result<Option<Request>, io::Result<Reject>> {
    let mut head = Vec::new();
    // The head, bounded: read line by line until the blank line.
    loop {
        let mut line = Vec::new();
        let n = r
            .take((MAX_HEADER_BYTES + 1 - head.len().min(MAX_HEADER_BYTES)) as u64)
            .read_until(b'\n', &mut line)
            .map_err(Err)?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(Ok(Reject(400, "incomplete request\n")))
            };
        }
        if head.len() + line.len() > MAX_HEADER_BYTES {
            return Err(Ok(Reject(431, "request headers too large\n")));
        }
        if !line.ends_with(b"\n") {
            return Err(Ok(Reject(400, "incomplete request\n")));
        }
        let blank = line == b"\r\n" || line == b"\n";
        if blank && head.is_empty() {
            continue; // tolerated: empty lines before a request
        }
        head.extend_from_slice(&line);
        if blank {
            break;
        }
    }
    let head =
        std::str::from_utf8(&head).map_err(|_| Ok(Reject(400, "headers are not UTF-8\n")))?;
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Ok(Reject(400, "malformed request line\n")));
    };
    if method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !target.starts_with('/')
    {
        return Err(Ok(Reject(400, "malformed request line\n")));
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(Ok(Reject(400, "unsupported HTTP version\n"))),
    };
    let mut keep_alive = http11;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Ok(Reject(400, "malformed header\n")));
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| Ok(Reject(400, "bad Content-Length\n")))?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(Ok(Reject(400, "conflicting Content-Length\n")));
                }
                content_length = Some(n);
            }
            "transfer-encoding" => {
                if value.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                } else {
                    return Err(Ok(Reject(501, "unsupported Transfer-Encoding\n")));
                }
            }
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    keep_alive = false;
                } else if v.contains("keep-alive") {
                    keep_alive = true;
                }
            }
            _ => {}
        }
    }
    if chunked && content_length.is_some() {
        return Err(Ok(Reject(400, "both Content-Length and chunked\n")));
    }
    let body = if chunked {
        read_chunked(r)?
    } else {
        let n = content_length.unwrap_or(0);
        if n > MAX_BODY_BYTES {
            return Err(Ok(Reject(413, "body too large\n")));
        }
        let mut body = vec![0; n];
        r.read_exact(&mut body)
            .map_err(|_| Ok(Reject(400, "body shorter than Content-Length\n")))?;
        body
    };
    Ok(Some(Request {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or(target).to_string(),
        keep_alive,
        body,
    }))
}

/// Decodes a chunked body (trailers are read and ignored).
fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>, io::Result<Reject>> {
    let bad = || Ok(Reject(400, "malformed chunked body\n"));
    let mut body = Vec::new();
    loop {
        let mut size_line = Vec::new();
        r.take(64).read_until(b'\n', &mut size_line).map_err(Err)?;
        let size_line = std::str::from_utf8(&size_line).map_err(|_| bad())?;
        let hex = size_line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(hex, 16).map_err(|_| bad())?;
        if body.len() + size > MAX_BODY_BYTES {
            return Err(Ok(Reject(413, "body too large\n")));
        }
        if size == 0 {
            // trailers, up to the blank line
            loop {
                let mut line = Vec::new();
                let n = r
                    .take(MAX_HEADER_BYTES as u64)
                    .read_until(b'\n', &mut line)
                    .map_err(Err)?;
                if n == 0 || line == b"\r\n" || line == b"\n" {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..]).map_err(|_| bad())?;
        let mut crlf = [0; 2];
        r.read_exact(&mut crlf).map_err(|_| bad())?;
        if &crlf != b"\r\n" {
            return Err(bad());
        }
    }
}

fn route(req: &Request, root: &Path, w: &mut impl Write) -> io::Result<()> {
    let head_only = req.method == "HEAD";
    let get = req.method == "GET" || head_only;
    let ka = req.keep_alive;
    match req.path.as_str() {
        "/" if get => respond(
            w,
            200,
            "text/plain",
            b"Hello from a greenlet!\n",
            ka,
            head_only,
        ),
        "/echo" if req.method == "POST" => {
            respond(w, 200, "application/octet-stream", &req.body, ka, false)
        }
        "/stream" if get => {
            write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n{}\r\n",
                connection_header(ka)
            )?;
            if !head_only {
                for i in 0..5 {
                    let chunk = format!("chunk {i}\n");
                    write!(w, "{:x}\r\n{chunk}\r\n", chunk.len())?;
                }
                w.write_all(b"0\r\n\r\n")?;
            }
            Ok(())
        }
        path if get && path.starts_with("/static/") => {
            match static_file(root, &path["/static/".len()..]) {
                Some(file) => {
                    let body = fs::read(&file);
                    match body {
                        Ok(body) => respond(w, 200, content_type(&file), &body, ka, head_only),
                        Err(_) => respond(w, 404, "text/plain", b"not found\n", ka, head_only),
                    }
                }
                None => respond(w, 404, "text/plain", b"not found\n", ka, head_only),
            }
        }
        "/slow" if get => {
            write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n{}\r\n",
                connection_header(ka)
            )?;
            if !head_only {
                for i in 0..5 {
                    if i > 0 {
                        thread::sleep(Duration::from_millis(200));
                    }
                    let chunk = format!("slow {i}\n");
                    write!(w, "{:x}\r\n{chunk}\r\n", chunk.len())?;
                    w.flush()?; // each chunk as it comes
                }
                w.write_all(b"0\r\n\r\n")?;
            }
            Ok(())
        }
        "/" | "/echo" | "/stream" | "/slow" => {
            respond(w, 405, "text/plain", b"method not allowed\n", ka, false)
        }
        _ => respond(w, 404, "text/plain", b"not found\n", ka, head_only),
    }
}

/// The file for a `/static/` path, if the path stays inside the root.
fn static_file(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None; // no `..`, no absolute paths
    }
    Some(root.join(rel))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

fn connection_header(keep_alive: bool) -> &'static str {
    if keep_alive {
        ""
    } else {
        "Connection: close\r\n"
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        _ => "Unknown",
    }
}

fn respond(
    w: &mut impl Write,
    status: u16,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    write!(
        w,
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{}\r\n",
        reason(status),
        body.len(),
        connection_header(keep_alive)
    )?;
    if !head_only {
        w.write_all(body)?;
    }
    Ok(())
}
