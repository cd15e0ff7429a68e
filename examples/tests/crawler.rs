//! The crawler end to end, against a site of plain threads that counts
//! what it serves: every URL fetched once, the right status and bytes for
//! each (`Content-Length`, chunked, and close-delimited bodies), and as
//! many requests at once as the cap, never more.
//!
//! How "reaches the cap" is made certain rather than likely: the site
//! holds each request until `cap` are in flight (or every expected request
//! has arrived), waits `GRACE` more for any request beyond the cap, then
//! answers them together. A crawler that keeps `cap` fetches going is never
//! held long; one that keeps fewer would be held until `HOLD` passes, and
//! then fail the peak check; one that starts more is seen doing so during
//! the grace. A request leaves the site's count just *before* its response
//! is written, so the count never includes a fetch the crawler may already
//! have finished: a crawler within the cap never shows more.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use green_examples::crawler::{self, DemoSite, Options, Url};

const LIMIT: Duration = Duration::from_secs(10);
/// The longest the site holds a request waiting for the others.
const HOLD: Duration = Duration::from_secs(5);
/// How long the site waits, once `cap` requests are in, for more.
const GRACE: Duration = Duration::from_millis(30);

/// What the site has seen.
#[derive(Default)]
struct Seen {
    /// Requests per path.
    paths: BTreeMap<String, usize>,
    arrived: usize,
    active: usize,
    peak: usize,
    /// Bumped each time the held requests are let go.
    release: u64,
}

/// A site of plain threads (a thread per connection) that counts what it
/// serves and holds requests until `cap` are in flight.
struct Site {
    addr: SocketAddr,
    seen: Arc<(Mutex<Seen>, Condvar)>,
}

impl Site {
    /// `expected`: how many requests the test will make in all.
    fn start(cap: usize, expected: usize) -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
        let shared = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let seen = shared.clone();
                std::thread::spawn(move || {
                    let _ = answer(conn, &seen, cap, expected);
                });
            }
        });
        Site { addr, seen }
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.0.lock().unwrap()
    }
}

/// The site's pages: `/page/N` has "page N\n" N+1 times; even pages come
/// with a `Content-Length`, odd ones chunked, and every fifth ends with
/// the connection instead. `/missing/N` is a 404, `/fail/N` a 500. Pages
/// link to the next two pages and to another host.
fn page(path: &str) -> (u16, String) {
    let number = |prefix: &str| path.strip_prefix(prefix)?.parse::<usize>().ok();
    if let Some(n) = number("/page/") {
        let mut body = format!("page {n}\n").repeat(n + 1);
        body.push_str(&format!(
            "<a href=\"{}\">next</a> <a href='/page/{}'>after</a> <a href=\"http://127.0.0.1:1/\">away</a>\n",
            n + 1,
            n + 2
        ));
        (200, body)
    } else if let Some(n) = number("/missing/") {
        (404, format!("no page {n}\n"))
    } else if let Some(n) = number("/fail/") {
        (500, format!("failure {n}\n"))
    } else {
        (404, "not found\n".to_string())
    }
}

fn answer(
    conn: TcpStream,
    seen: &(Mutex<Seen>, Condvar),
    cap: usize,
    expected: usize,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(LIMIT))?;
    conn.set_write_timeout(Some(LIMIT))?;
    let mut reader = BufReader::new(&conn);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split(' ').nth(1).unwrap_or_default().to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }

    let (lock, cond) = seen;
    let mut s = lock.lock().unwrap();
    *s.paths.entry(path.clone()).or_default() += 1;
    s.arrived += 1;
    s.active += 1;
    s.peak = s.peak.max(s.active);
    if s.arrived >= expected {
        s.release += 1;
        cond.notify_all();
    } else if s.active >= cap {
        // Room for a request over the cap to show up, then let all go.
        drop(s);
        std::thread::sleep(GRACE);
        s = lock.lock().unwrap();
        s.release += 1;
        cond.notify_all();
    } else {
        let waiting_for = s.release;
        s = cond
            .wait_timeout_while(s, HOLD, |s| s.release == waiting_for)
            .unwrap()
            .0;
    }
    s.active -= 1;
    drop(s);

    let (status, body) = page(&path);
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let number: usize = path.rsplit('/').next().unwrap().parse().unwrap_or(0);
    let mut w = &conn;
    write!(w, "HTTP/1.1 {status} {reason}\r\nConnection: close\r\n")?;
    if number % 5 == 4 {
        // No length: the body ends with the connection.
        write!(w, "\r\n{body}")?;
    } else if number % 2 == 1 {
        write!(w, "Transfer-Encoding: chunked\r\n\r\n")?;
        for piece in body.as_bytes().chunks(7) {
            write!(w, "{:X};ext=1\r\n", piece.len())?;
            w.write_all(piece)?;
            w.write_all(b"\r\n")?;
        }
        write!(w, "0\r\nX-Trailer: yes\r\n\r\n")?;
    } else {
        write!(w, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    }
    Ok(())
}

#[test]
fn every_url_once_with_the_cap_reached_and_never_exceeded() {
    const CAP: usize = 8;
    let paths: Vec<String> = (0..30)
        .map(|n| format!("/page/{n}"))
        .chain((0..5).map(|n| format!("/missing/{n}")))
        .chain((0..5).map(|n| format!("/fail/{n}")))
        .collect();
    let site = Site::start(CAP, paths.len());
    let mut seeds: Vec<Url> = paths.iter().map(|p| site.url(p)).collect();
    seeds.push(site.url("/page/3")); // a duplicate seed is fetched once

    let options = Options {
        concurrency: CAP,
        depth: 0,
        timeout: LIMIT,
    };
    let (summary, fetched) = green::run(|| {
        let mut fetched = Vec::new();
        let summary = crawler::crawl(seeds, &options, |fetch| {
            let response = fetch.result.as_ref().expect("fetched");
            fetched.push((
                fetch.url.path.clone(),
                response.status,
                response.body.clone(),
            ));
        });
        (summary, fetched)
    });

    // Every URL once, with its status and its exact body.
    let got: BTreeSet<&String> = fetched.iter().map(|(path, _, _)| path).collect();
    assert_eq!(fetched.len(), paths.len(), "one fetch per URL");
    assert_eq!(got, paths.iter().collect(), "every URL");
    for (path, status, body) in &fetched {
        let (want_status, want_body) = page(path);
        assert_eq!(*status, want_status, "{path}");
        assert_eq!(String::from_utf8_lossy(body), want_body, "{path}");
    }
    let bytes: usize = paths.iter().map(|p| page(p).1.len()).sum();
    assert_eq!(summary.bytes, bytes as u64);
    assert_eq!((summary.fetched, summary.failed), (paths.len(), 0));

    let seen = site.seen();
    assert!(seen.paths.values().all(|&n| n == 1), "{:?}", seen.paths);
    assert_eq!(seen.paths.len(), paths.len());
    // The cap, reached and never exceeded, as the site saw it and as the
    // crawler counted it.
    assert_eq!(seen.peak, CAP, "requests at once at the site");
    assert_eq!(summary.peak, CAP, "fetches at once in the crawler");
}

#[test]
fn links_are_followed_on_the_same_site_to_the_depth_asked() {
    // /page/0 links to 1 and 2; those to 2, 3 and 3, 4: three levels
    // reach pages 0 to 4. The link to another host is not followed (it
    // would fail: nothing listens on port 1).
    let site = Site::start(1, usize::MAX);
    let options = Options {
        concurrency: 3,
        depth: 2,
        timeout: LIMIT,
    };
    let seeds = vec![site.url("/page/0")];
    let summary = green::run(|| crawler::crawl(seeds, &options, |_| {}));
    assert_eq!((summary.fetched, summary.failed), (5, 0), "{summary}");
    let seen = site.seen();
    let want: BTreeMap<String, usize> = (0..5).map(|n| (format!("/page/{n}"), 1)).collect();
    assert_eq!(seen.paths, want);
}

#[test]
fn the_demo_site_is_crawled_whole_within_the_cap() {
    const PAGES: usize = 12;
    const CAP: usize = 4;
    green::run(|| {
        let site = DemoSite::start(PAGES, Duration::from_millis(20)).unwrap();
        let options = Options {
            concurrency: CAP,
            depth: 1,
            timeout: LIMIT,
        };
        let mut urls = Vec::new();
        let summary = crawler::crawl(vec![site.index()], &options, |fetch| {
            assert_eq!(fetch.result.as_ref().unwrap().status, 200, "{}", fetch.url);
            urls.push(fetch.url.clone());
        });
        assert_eq!(summary.fetched, PAGES + 1, "{summary}");
        let mut want = site.pages();
        want.push(site.index());
        urls.sort_by_key(|u| u.to_string());
        want.sort_by_key(|u| u.to_string());
        assert_eq!(urls, want);
        assert_eq!(site.requests(), PAGES + 1);
        assert!(site.peak() <= CAP, "{} at once", site.peak());
        assert!(summary.peak <= CAP, "{summary}");
    });
}
