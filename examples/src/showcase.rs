//! The showcase's engine: a green HTTP server and keep-alive clients on one
//! hub, measured. `examples/showcase.rs` is its command line.

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use green::lock::Semaphore;
use green_net::{ListenOptions, StreamServer, TcpStream};

const RESPONSE_BODY: &[u8] = b"Hello from a greenlet!\n";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Concurrent keep-alive client connections.
    pub connections: usize,
    /// How long the clients send requests.
    pub duration: Duration,
    /// Where the server listens.
    pub addr: String,
    /// Print a progress line every second.
    pub progress: bool,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Requests answered.
    pub requests: u64,
    /// Connections that failed (to connect, or mid-request).
    pub errors: u64,
    /// Requests per second over the whole run.
    pub per_second: f64,
    /// Median latency of a request.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Peak resident memory of the process, in KiB.
    pub peak_rss_kib: u64,
    /// OS threads in the process at the end.
    pub os_threads: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "summary:")?;
        writeln!(f, "  requests served   {}", self.requests)?;
        writeln!(f, "  errors            {}", self.errors)?;
        writeln!(f, "  requests/second   {:.0}", self.per_second)?;
        writeln!(f, "  latency p50       {:.2?}", self.p50)?;
        writeln!(f, "  latency p99       {:.2?}", self.p99)?;
        writeln!(f, "  peak memory       {} MiB", self.peak_rss_kib / 1024)?;
        write!(f, "  OS threads used   {}", self.os_threads)
    }
}

/// Each connection costs two descriptors here (client and server ends):
/// raise the soft limit as far as allowed, and fit the count under it.
pub fn fit_fd_limit(wanted: usize) -> usize {
    let need = (wanted * 2 + 64) as libc::rlim_t;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        if lim.rlim_max < need {
            // Root may raise the hard limit too.
            let raised = libc::rlimit {
                rlim_cur: need,
                rlim_max: need,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return wanted;
            }
        }
        lim.rlim_cur = lim.rlim_max.min(need.max(lim.rlim_cur));
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    let fit = ((lim.rlim_cur as usize).saturating_sub(64) / 2).max(1);
    if fit < wanted {
        println!("note: the open-file limit allows {fit} connections, not {wanted}");
        fit
    } else {
        wanted
    }
}

/// What the clients measure.
#[derive(Default)]
struct Stats {
    requests: Cell<u64>,
    errors: Cell<u64>,
    connected: Cell<usize>,
    latency: RefCell<Histogram>,
}

/// Runs the showcase inside the calling hub: `connections` clients (see
/// [`fit_fd_limit`]) against a server on `o.addr`, for `o.duration`.
///
/// # Errors
///
/// When the server cannot bind.
///
/// # Panics
///
/// Outside `green::run`.
pub fn run(o: &Options, connections: usize) -> io::Result<Summary> {
    let listener = ListenOptions::new().backlog(65_535).bind(o.addr.as_str())?;
    let addr = listener.local_addr()?;
    let server = StreamServer::from(listener).start(|conn, _peer| {
        let _ = serve(conn);
    });
    if o.progress {
        println!(
            "green HTTP server on http://{addr}/ — {connections} keep-alive clients for {:.0?}, \
             all on one OS thread",
            o.duration
        );
    }

    let stats = Rc::new(Stats::default());
    let start = Instant::now();
    let deadline = start + o.duration;
    // Connect at most 256 at a time: a burst of 10,000 SYNs would overflow
    // the kernel's accept queue and cost retransmission seconds.
    let connecting = Rc::new(Semaphore::new(256));
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let (stats, connecting) = (stats.clone(), connecting.clone());
            green::spawn(move || client(addr, deadline, &stats, &connecting))
        })
        .collect();

    let s = stats.clone();
    let show = o.progress;
    let progress = green::spawn(move || {
        let mut last = 0;
        loop {
            green::sleep(Duration::from_secs(1));
            let now = s.requests.get();
            if !show {
                continue;
            }
            println!(
                "  {:>5.1}s  {:>6} connected  {:>9} requests  {:>8} req/s",
                start.elapsed().as_secs_f64(),
                s.connected.get(),
                now,
                now - last
            );
            last = now;
        }
    });

    green::joinall(clients);
    let elapsed = start.elapsed();
    progress.kill();
    server.stop(Duration::from_secs(1));

    let h = stats.latency.borrow();
    let requests = stats.requests.get();
    Ok(Summary {
        requests,
        errors: stats.errors.get(),
        per_second: requests as f64 / elapsed.as_secs_f64(),
        p50: h.quantile(0.50),
        p99: h.quantile(0.99),
        peak_rss_kib: peak_rss_kib(),
        os_threads: os_threads(),
    })
}

/// The server side of one connection: HTTP/1.1 keep-alive, one response
/// per request, until the client closes.
fn serve(conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(1024, &conn);
    let mut writer = &conn;
    // One write per response: split small writes would meet Nagle's
    // algorithm and the peer's delayed ACK (40 ms each).
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        RESPONSE_BODY.len()
    )
    .into_bytes();
    response.extend_from_slice(RESPONSE_BODY);
    let mut line = String::new();
    loop {
        // request line, then headers up to the blank line
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(()); // the client closed
        }
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
        }
        writer.write_all(&response)?;
    }
}

/// One client connection: requests back to back until the deadline.
fn client(addr: SocketAddr, deadline: Instant, stats: &Stats, connecting: &Semaphore) {
    let conn = {
        let _slot = connecting.acquire();
        match TcpStream::connect(addr) {
            Ok(c) => c,
            Err(_) => {
                stats.errors.set(stats.errors.get() + 1);
                return;
            }
        }
    };
    stats.connected.set(stats.connected.get() + 1);
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::with_capacity(1024, &conn);
    let mut writer = &conn;
    let mut line = String::new();
    let mut body = [0u8; 64];
    while Instant::now() < deadline {
        let sent = Instant::now();
        let ok = (|| -> io::Result<()> {
            writer.write_all(b"GET / HTTP/1.1\r\nHost: showcase\r\n\r\n")?;
            let mut length = 0;
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                if let Some(v) = line.strip_prefix("Content-Length: ") {
                    length = v.trim().parse().map_err(|_| io::ErrorKind::InvalidData)?;
                }
                if line == "\r\n" {
                    break;
                }
            }
            reader.read_exact(&mut body[..length])?;
            Ok(())
        })();
        match ok {
            Ok(()) => {
                stats.requests.set(stats.requests.get() + 1);
                stats.latency.borrow_mut().record(sent.elapsed());
            }
            Err(_) => {
                stats.errors.set(stats.errors.get() + 1);
                break;
            }
        }
    }
    stats.connected.set(stats.connected.get() - 1);
}

/// Latencies in buckets of about 3% (log-linear), from 1 µs to about 70 s.
struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

const SUB: u32 = 32; // buckets per power of two

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; 27 * SUB as usize],
            total: 0,
        }
    }
}

impl Histogram {
    fn bucket(us: u64) -> usize {
        let us = us.max(1);
        let exp = 63 - us.leading_zeros(); // floor(log2)
        let frac = if exp >= 5 {
            (us >> (exp - 5)) & u64::from(SUB - 1)
        } else {
            (us << (5 - exp)) & u64::from(SUB - 1)
        };
        (exp * SUB) as usize + frac as usize
    }

    fn lower_bound(bucket: usize) -> Duration {
        let exp = bucket as u32 / SUB;
        let frac = u64::from(bucket as u32 % SUB);
        let us = if exp >= 5 {
            (u64::from(SUB) + frac) << (exp - 5)
        } else {
            (u64::from(SUB) + frac) >> (5 - exp)
        };
        Duration::from_micros(us)
    }

    fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let b = Self::bucket(us).min(self.counts.len() - 1);
        self.counts[b] += 1;
        self.total += 1;
    }

    fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = (q * self.total as f64).ceil() as u64;
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::lower_bound(b);
            }
        }
        Self::lower_bound(self.counts.len() - 1)
    }
}

fn proc_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn peak_rss_kib() -> u64 {
    proc_status("VmHWM:").unwrap_or(0)
}

/// OS threads in this process now.
pub fn os_threads() -> u64 {
    proc_status("Threads:").unwrap_or(0)
}
