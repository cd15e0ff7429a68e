//! gevent's classic concurrent fetcher: many URLs, at most N at a time,
//! results as they come (`Pool(N).imap_unordered(fetch, urls)`), with an
//! HTTP/1.1 client in plain blocking style over green sockets.
//!
//! - [`get`] fetches one `http://` URL: one connection per request
//!   (`Connection: close`), bodies by `Content-Length`, `chunked`, or to
//!   the end of the stream; every wait is bounded by a timeout, and the
//!   head and body by [`MAX_HEAD_BYTES`] and [`MAX_BODY_BYTES`].
//! - [`crawl`] fetches seed URLs through a [`green::pool::Pool`] of size
//!   `concurrency` and, up to `depth` links away, the pages they link to
//!   on the same host and port, each URL once.
//! - [`DemoSite`] is a small slow site to crawl (an index and numbered
//!   pages that take a while to answer), which counts how many requests it
//!   serves at once.

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use green::pool::Pool;
use green_net::{ServerHandle, StreamServer, TcpStream, ToSocketAddrs};

/// The status line and headers of a response may not exceed this.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// A body larger than this is an error.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// An `http://` URL, split into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    /// The host name or address, without brackets for IPv6.
    pub host: String,
    /// The port (80 when the URL names none).
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parses `http://host[:port][/path]`; a fragment is dropped.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for another scheme, a missing host or a bad port.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_examples::crawler::Url;
    ///
    /// let url = Url::parse("http://127.0.0.1:8080/a/b?x=1#top").unwrap();
    /// assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("127.0.0.1", 8080, "/a/b?x=1"));
    /// assert_eq!(url.to_string(), "http://127.0.0.1:8080/a/b?x=1");
    /// assert!(Url::parse("https://example.com/").is_err());
    /// assert_eq!(Url::parse("http://[::1]/").unwrap().authority(), "[::1]");
    /// ```
    pub fn parse(s: &str) -> io::Result<Url> {
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{s:?}: {why}"));
        let rest = s
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// URLs are fetched"))?;
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                (host, port.parse().map_err(|_| bad("bad port"))?)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Url {
            host: host.to_string(),
            port,
            path,
        })
    }

    /// The URL that `href`, found in this page, points to: absolute
    /// `http://` URLs, absolute paths and relative paths (`.` and `..`
    /// resolved); `None` for other schemes and fragments alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use green_examples::crawler::Url;
    ///
    /// let page = Url::parse("http://h/docs/a.html").unwrap();
    /// assert_eq!(page.join("b.html").unwrap().to_string(), "http://h/docs/b.html");
    /// assert_eq!(page.join("/top").unwrap().to_string(), "http://h/top");
    /// assert_eq!(page.join("../up/./c?q").unwrap().to_string(), "http://h/up/c?q");
    /// assert_eq!(page.join("http://other:81/").unwrap().to_string(), "http://other:81/");
    /// assert_eq!(page.join("mailto:x@h"), None);
    /// ```
    pub fn join(&self, href: &str) -> Option<Url> {
        let href = href.trim();
        if href.starts_with("http://") {
            return Url::parse(href).ok();
        }
        if href.is_empty() || href.starts_with('#') || href.starts_with("//") {
            return None;
        }
        let scheme = href.split(['/', '?', '#']).next().unwrap_or_default();
        if scheme.contains(':') {
            return None; // https:, mailto:, javascript:…
        }
        let href = href.split('#').next().unwrap_or_default();
        let path = if href.starts_with('/') {
            href.to_string()
        } else {
            let dir = &self.path[..=self.path.split('?').next()?.rfind('/')?];
            format!("{dir}{href}")
        };
        Some(Url {
            host: self.host.clone(),
            port: self.port,
            path: without_dots(&path),
        })
    }

    /// `host[:port]` as in the URL (the `Host` header): IPv6 addresses in
    /// brackets, no port when it is 80.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            80 => host,
            port => format!("{host}:{port}"),
        }
    }

    /// Whether `other` is on the same host and port.
    pub fn same_origin(&self, other: &Url) -> bool {
        self.host == other.host && self.port == other.port
    }
}

/// `path` (which starts with `/`) with its `.` and `..` segments resolved,
/// as RFC 3986 section 5.2.4 does; the query is left alone.
fn without_dots(path: &str) -> String {
    let (path, query) = path.split_at(path.find('?').unwrap_or(path.len()));
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if last {
                    out.push(""); // "/a/b/.." is "/a/"
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}{query}", out.join("/"))
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.path)
    }
}

/// A response: status, headers (names in lower case), body (de-chunked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers in the order received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Fetches `url` with a `GET` on a new connection; `timeout` bounds the
/// connect and every read and write.
///
/// # Errors
///
/// When the host cannot be resolved or reached, on a timeout, and with
/// `InvalidData` for a response that is malformed or over the limits.
pub fn get(url: &Url, timeout: Duration) -> io::Result<Response> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    let mut conn = None;
    for addr in (url.host.as_str(), url.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(e) => last = e,
        }
    }
    let conn = conn.ok_or(last)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    let host = url.authority();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: green-crawler\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path
    );
    (&conn).write_all(request.as_bytes())?;
    read_response(&mut BufReader::new(conn))
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

/// Reads one response to a `GET` (a `1xx` response before it is skipped).
///
/// # Errors
///
/// As [`get`].
pub fn read_response(r: &mut impl BufRead) -> io::Result<Response> {
    let mut head_left = MAX_HEAD_BYTES;
    loop {
        let line = head_line(r, &mut head_left)?;
        let mut parts = line.splitn(3, ' ');
        let (version, code) = (parts.next(), parts.next());
        if !version.is_some_and(|v| v.starts_with("HTTP/1.")) {
            return Err(invalid(format!("not an HTTP/1.x status line: {line:?}")));
        }
        let status: u16 = code
            .and_then(|c| c.parse().ok())
            .filter(|c| (100..1000).contains(c))
            .ok_or_else(|| invalid(format!("bad status line: {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = head_line(r, &mut head_left)?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(format!("bad header line: {line:?}")))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        if (100..200).contains(&status) {
            continue; // 100 Continue and friends: the real answer follows
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        response.body = read_body(r, &response)?;
        return Ok(response);
    }
}

/// One line of the head without its line ending, charged to `left`.
fn head_line(r: &mut impl BufRead, left: &mut usize) -> io::Result<String> {
    let mut line = Vec::new();
    r.by_ref()
        .take(*left as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if line.len() > *left {
        return Err(invalid("response head too large"));
    }
    *left -= line.len();
    if line.pop() != Some(b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed in the response head",
        ));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| invalid("response head is not UTF-8"))
}

/// The body of `response`, framed as its headers say.
fn read_body(r: &mut impl BufRead, response: &Response) -> io::Result<Vec<u8>> {
    if matches!(response.status, 204 | 304) {
        return Ok(Vec::new());
    }
    let chunked = response.header("transfer-encoding").is_some_and(|te| {
        te.rsplit(',')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("chunked")
    });
    if chunked {
        return read_chunked(r);
    }
    if let Some(length) = response.header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length {length:?}")))?;
        if length > MAX_BODY_BYTES {
            return Err(invalid("body too large"));
        }
        let mut body = vec![0; length];
        r.read_exact(&mut body)?;
        return Ok(body);
    }
    // Neither: the body ends with the connection.
    let mut body = Vec::new();
    r.take(MAX_BODY_BYTES as u64 + 1).read_to_end(&mut body)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(invalid("body too large"));
    }
    Ok(body)
}

/// A `Transfer-Encoding: chunked` body; trailers are read and dropped.
fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut head_left = MAX_HEAD_BYTES;
    loop {
        let line = head_line(r, &mut head_left)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            while !head_line(r, &mut head_left)?.is_empty() {} // trailers
            return Ok(body);
        }
        if size > MAX_BODY_BYTES - body.len() {
            return Err(invalid("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if !head_line(r, &mut head_left)?.is_empty() {
            return Err(invalid("no line ending after a chunk"));
        }
    }
}

/// The URLs of the `href="…"` (or `'…'`) attributes in `html`, resolved
/// against `page`.
///
/// # Examples
///
/// ```
/// use green_examples::crawler::{links, Url};
///
/// let page = Url::parse("http://h/a/").unwrap();
/// let found = links(&page, br#"<a href="b">b</a> <a HREF='/c'>c</a> <a href="mailto:x">"#);
/// let found: Vec<String> = found.iter().map(Url::to_string).collect();
/// assert_eq!(found, ["http://h/a/b", "http://h/c"]);
/// ```
pub fn links(page: &Url, html: &[u8]) -> Vec<Url> {
    let html = String::from_utf8_lossy(html);
    let lower = html.to_ascii_lowercase(); // same byte offsets
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("href=") {
        let start = at + i + "href=".len();
        at = start;
        let Some(quote @ ('"' | '\'')) = html[start..].chars().next() else {
            continue;
        };
        let Some(len) = html[start + 1..].find(quote) else {
            break;
        };
        if let Some(url) = page.join(&html[start + 1..start + 1 + len]) {
            found.push(url);
        }
        at = start + 1 + len;
    }
    found
}

/// How to crawl.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many fetches may run at once (the pool's size).
    pub concurrency: usize,
    /// How many links away from the seeds to go (0: the seeds only).
    /// Only links to the same host and port as their page are followed.
    pub depth: usize,
    /// Bounds each connect, read and write.
    pub timeout: Duration,
}

/// One fetch, as [`crawl`] reports it.
#[derive(Debug)]
pub struct Fetch {
    /// What was fetched.
    pub url: Url,
    /// How many links away from a seed.
    pub depth: usize,
    /// The response, or why there is none.
    pub result: io::Result<Response>,
    /// How long the fetch took.
    pub elapsed: Duration,
}

/// What a crawl did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// URLs fetched (answered with any status).
    pub fetched: usize,
    /// URLs that could not be fetched.
    pub failed: usize,
    /// Body bytes received.
    pub bytes: u64,
    /// The most fetches in flight at once.
    pub peak: usize,
    /// How long the crawl took.
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} fetched ({} bytes), {} failed, in {} ms; at most {} at once",
            self.fetched,
            self.bytes,
            self.failed,
            self.elapsed.as_millis(),
            self.peak
        )
    }
}

/// Fetches `seeds` (each once), at most `options.concurrency` at a time,
/// then the pages they link to, level by level, down to `options.depth`;
/// calls `on_fetch` for each fetch as it completes.
///
/// Must run inside [`green::run`].
///
/// # Panics
///
/// If `options.concurrency` is 0.
pub fn crawl(seeds: Vec<Url>, options: &Options, mut on_fetch: impl FnMut(&Fetch)) -> Summary {
    let started = Instant::now();
    let pool = Pool::new(options.concurrency);
    let in_flight = Rc::new(Cell::new(0usize));
    let peak = Rc::new(Cell::new(0usize));
    let mut seen = HashSet::new();
    let mut level: Vec<Url> = seeds
        .into_iter()
        .filter(|u| seen.insert(u.clone()))
        .collect();
    let mut summary = Summary::default();
    for depth in 0..=options.depth {
        let fetch = {
            let (in_flight, peak, timeout) = (in_flight.clone(), peak.clone(), options.timeout);
            move |url: Url| {
                in_flight.set(in_flight.get() + 1);
                peak.set(peak.get().max(in_flight.get()));
                let began = Instant::now();
                let result = get(&url, timeout);
                in_flight.set(in_flight.get() - 1);
                Fetch {
                    url,
                    depth,
                    result,
                    elapsed: began.elapsed(),
                }
            }
        };
        let mut next = Vec::new();
        for done in pool.imap_unordered(fetch, std::mem::take(&mut level)) {
            match &done.result {
                Ok(response) => {
                    summary.fetched += 1;
                    summary.bytes += response.body.len() as u64;
                    if depth < options.depth && response.status == 200 {
                        let found = links(&done.url, &response.body);
                        next.extend(
                            found
                                .into_iter()
                                .filter(|u| u.same_origin(&done.url) && seen.insert(u.clone())),
                        );
                    }
                }
                Err(_) => summary.failed += 1,
            }
            on_fetch(&done);
        }
        level = next;
        if level.is_empty() {
            break;
        }
    }
    summary.peak = peak.get();
    summary.elapsed = started.elapsed();
    summary
}

/// What [`DemoSite`] counts.
#[derive(Debug, Default)]
struct SiteStats {
    requests: Cell<usize>,
    active: Cell<usize>,
    peak: Cell<usize>,
}

/// A small slow site to crawl, served by greenlets of the calling hub:
///
/// - `/` lists every page;
/// - `/page/N` (N below `pages`) takes `delay` to answer, and links to
///   two other pages; odd pages come `chunked`, even ones with a
///   `Content-Length`;
/// - anything else is a 404.
///
/// It counts the requests it serves, and the most it served at once.
#[derive(Debug)]
pub struct DemoSite {
    server: ServerHandle,
    stats: Rc<SiteStats>,
    pages: usize,
}

impl DemoSite {
    /// Starts the site on a free loopback port.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    ///
    /// # Panics
    ///
    /// Outside [`green::run`].
    pub fn start(pages: usize, delay: Duration) -> io::Result<DemoSite> {
        let stats = Rc::new(SiteStats::default());
        let counts = stats.clone();
        let server = StreamServer::bind("127.0.0.1:0")?.start(move |conn: TcpStream, _| {
            let _ = serve_page(conn, pages, delay, &counts);
        });
        Ok(DemoSite {
            server,
            stats,
            pages,
        })
    }

    /// The site's address.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The URL of the index page.
    pub fn index(&self) -> Url {
        Url::parse(&format!("http://{}/", self.addr())).expect("a valid URL")
    }

    /// The URLs of every page.
    pub fn pages(&self) -> Vec<Url> {
        (0..self.pages)
            .map(|n| Url::parse(&format!("http://{}/page/{n}", self.addr())).expect("a valid URL"))
            .collect()
    }

    /// How many requests it has answered.
    pub fn requests(&self) -> usize {
        self.stats.requests.get()
    }

    /// The most requests it was serving at once.
    pub fn peak(&self) -> usize {
        self.stats.peak.get()
    }
}

impl Drop for DemoSite {
    fn drop(&mut self) {
        self.server.stop(Duration::ZERO);
    }
}

/// One connection of the demo site: one request, one response, close.
fn serve_page(conn: TcpStream, pages: usize, delay: Duration, stats: &SiteStats) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(&conn);
    let mut left = 8 * 1024;
    let request = head_line(&mut reader, &mut left)?;
    while !head_line(&mut reader, &mut left)?.is_empty() {}
    let path = request.split(' ').nth(1).unwrap_or_default().to_string();

    stats.requests.set(stats.requests.get() + 1);
    stats.active.set(stats.active.get() + 1);
    stats.peak.set(stats.peak.get().max(stats.active.get()));
    let _active = Defer(|| stats.active.set(stats.active.get() - 1));

    let page = path
        .strip_prefix("/page/")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n < pages);
    let (status, body, chunked) = match (path.as_str(), page) {
        ("/", _) => {
            let list: String = (0..pages)
                .map(|n| format!("<li><a href=\"/page/{n}\">page {n}</a></li>\n"))
                .collect();
            (
                "200 OK",
                format!("<h1>Demo site</h1>\n<ul>\n{list}</ul>\n"),
                false,
            )
        }
        (_, Some(n)) => {
            green::sleep(delay);
            let text = format!("<p>Page {n} of {pages}.</p>\n").repeat(1 + n % 7);
            let body = format!(
                "<h1>Page {n}</h1>\n{text}<a href=\"{}\">next</a> <a href=\"../page/{}\">jump</a>\n",
                (n + 1) % pages,
                (n * 7 + 3) % pages
            );
            ("200 OK", body, n % 2 == 1)
        }
        _ => ("404 Not Found", "<h1>Not found</h1>\n".to_string(), false),
    };
    let mut w = io::BufWriter::new(&conn);
    if chunked {
        write!(w, "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")?;
        for piece in body.as_bytes().chunks(100) {
            write!(w, "{:x}\r\n", piece.len())?;
            w.write_all(piece)?;
            w.write_all(b"\r\n")?;
        }
        w.write_all(b"0\r\n\r\n")?;
    } else {
        write!(
            w,
            "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
    }
    w.flush()
}

/// Runs a closure when dropped.
struct Defer<F: FnMut()>(F);

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
