//! The load generator shared by every server workload: this binary re-run
//! as `--load <spec>`, a process of its own, pinned to the last CPU (the
//! one-core servers sit on CPU 0).
//!
//! One thread drives every connection through epoll (`mio`), closed loop:
//! each connection has one request in flight, and sends the next as soon as
//! the answer is complete. Per round trip that is one `write`, one `read`
//! and a share of an `epoll_wait`, so the client costs about what the
//! server does and does not hide the server's speed; its CPU use is
//! reported next to every figure to show it.
//!
//! Phases: open every connection (at most [`CONNECTING`] at a time, so the
//! server's accept queue never overflows into SYN retries), run round trips
//! for the warm-up, which lasts until every connection has had an answer
//! (so the server has accepted them all and started their tasks) and at
//! least the planned warm-up time, then for the measured window. Only answers completed in
//! the window count; the latency of each is from its request's `write` to
//! the `epoll_wait` return that delivered its last byte. At the window's
//! edges it reads its own and the server's CPU time from `/proc`.
//!
//! It prints one line, `RESULT key=value…` or `ERROR why`, and exits.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::protocol::Proto;
use crate::{procfs, sys};

/// Connects in flight at once.
const CONNECTING: usize = 128;

/// How long opening the connections may stall before giving up.
const STALL: Duration = Duration::from_secs(10);

/// What to run: the arguments of `--load`.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Protocol to speak.
    pub proto: Proto,
    /// The server.
    pub addr: SocketAddr,
    /// Connections to open.
    pub conns: usize,
    /// Round trips before the measured window.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
    /// How long the warm-up may wait for every connection's first answer.
    pub patience: Duration,
    /// The server's process, whose CPU time is read.
    pub server_pid: u32,
}

impl Spec {
    /// The command-line form, parsed back by the child.
    pub fn args(&self) -> Vec<String> {
        vec![
            self.proto.key().into(),
            self.addr.to_string(),
            self.conns.to_string(),
            self.warmup.as_millis().to_string(),
            self.window.as_millis().to_string(),
            self.patience.as_millis().to_string(),
            self.server_pid.to_string(),
        ]
    }

    fn parse(args: &[String]) -> Option<Spec> {
        let [proto, addr, conns, warmup, window, patience, pid] = args else {
            return None;
        };
        let ms = |s: &str| s.parse().ok().map(Duration::from_millis);
        Some(Spec {
            proto: Proto::from_key(proto)?,
            addr: addr.parse().ok()?,
            conns: conns.parse().ok()?,
            warmup: ms(warmup)?,
            window: ms(window)?,
            patience: ms(patience)?,
            server_pid: pid.parse().ok()?,
        })
    }
}

/// What one run measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    /// Round trips completed in the window.
    pub round_trips: u64,
    /// The window's actual length, in seconds.
    pub secs: f64,
    /// Median latency, in nanoseconds.
    pub p50_ns: u64,
    /// 99th-percentile latency, in nanoseconds.
    pub p99_ns: u64,
    /// This process's CPU use in the window, in cores.
    pub client_cpu: f64,
    /// The server's CPU use in the window, in cores.
    pub server_cpu: f64,
    /// Seconds it took to open every connection.
    pub connect_secs: f64,
    /// Seconds of warm-up (until every connection had an answer, and at
    /// least the planned warm-up).
    pub warmup_secs: f64,
}

impl Report {
    /// Round trips per second.
    pub fn rate(&self) -> f64 {
        self.round_trips as f64 / self.secs.max(1e-9)
    }

    fn line(&self) -> String {
        format!(
            "RESULT round_trips={} secs={:.6} p50_ns={} p99_ns={} client_cpu={:.4} \
             server_cpu={:.4} connect_secs={:.3} warmup_secs={:.3}",
            self.round_trips,
            self.secs,
            self.p50_ns,
            self.p99_ns,
            self.client_cpu,
            self.server_cpu,
            self.connect_secs,
            self.warmup_secs
        )
    }

    /// Parses the child's output: the report, or the child's reason.
    pub fn parse(out: &str) -> Result<Report, String> {
        if let Some(why) = out.lines().find_map(|l| l.strip_prefix("ERROR ")) {
            return Err(why.to_string());
        }
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .ok_or("the load generator printed no result")?;
        let mut r = Report::default();
        for pair in line.split_whitespace() {
            let (key, value) = pair.split_once('=').ok_or("malformed result")?;
            let int = || value.parse::<u64>().map_err(|e| e.to_string());
            let float = || value.parse::<f64>().map_err(|e| e.to_string());
            match key {
                "round_trips" => r.round_trips = int()?,
                "secs" => r.secs = float()?,
                "p50_ns" => r.p50_ns = int()?,
                "p99_ns" => r.p99_ns = int()?,
                "client_cpu" => r.client_cpu = float()?,
                "server_cpu" => r.server_cpu = float()?,
                "connect_secs" => r.connect_secs = float()?,
                "warmup_secs" => r.warmup_secs = float()?,
                _ => {}
            }
        }
        Ok(r)
    }
}

/// The child's entry point; never returns.
pub fn child_main(args: &[String]) -> ! {
    let Some(spec) = Spec::parse(args) else {
        eprintln!("usage: green-bench --load <echo|http> <addr> <conns> <warmup ms> <window ms> <patience ms> <server pid>");
        std::process::exit(2);
    };
    sys::pin_to_cpu(sys::load_cpu());
    let line = sys::raise_nofile(spec.conns as u64 + 64)
        .and_then(|_| run(&spec))
        .map_or_else(|e| format!("ERROR {e}"), |r| r.line());
    println!("{line}");
    let _ = io::stdout().flush();
    std::process::exit(0);
}

/// One connection and its round trip in progress.
struct Conn {
    stream: TcpStream,
    connected: bool,
    /// Bytes of the request written so far.
    sent: usize,
    /// Bytes of the answer read so far, in `buf`.
    got: usize,
    buf: [u8; 256],
    /// When the request went out.
    since: Instant,
    /// Whether it has had an answer yet.
    answered: bool,
}

impl Conn {
    /// Starts the next round trip.
    fn request(&mut self, req: &[u8], now: Instant) -> io::Result<()> {
        self.sent = 0;
        self.got = 0;
        self.since = now;
        self.send(req).map(drop)
    }

    /// Writes what is left of the request; `true` once it is all out.
    fn send(&mut self, req: &[u8]) -> io::Result<bool> {
        while self.sent < req.len() {
            match self.stream.write(&req[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads until the answer is complete; `true` once it is.
    fn receive(&mut self, proto: Proto) -> io::Result<bool> {
        loop {
            if let Some(len) = proto.response_len(&self.buf[..self.got]) {
                if len != self.got {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the server sent more than one answer",
                    ));
                }
                return Ok(true);
            }
            if self.got == self.buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the answer is too long",
                ));
            }
            match self.stream.read(&mut self.buf[self.got..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed a connection",
                    ))
                }
                Ok(n) => self.got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// CPU times at one instant.
struct Mark {
    at: Instant,
    client: u64,
    server: u64,
}

impl Mark {
    fn now(server_pid: u32) -> Mark {
        Mark {
            client: procfs::cpu_ticks(std::process::id()),
            server: procfs::cpu_ticks(server_pid),
            at: Instant::now(),
        }
    }
}

fn run(spec: &Spec) -> io::Result<Report> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let started = Instant::now();
    let mut conns = connect_all(spec, &mut poll, &mut events)?;
    let connect_secs = started.elapsed().as_secs_f64();

    let req = spec.proto.request();
    let now = Instant::now();
    let warmup_start = now;
    let (warmup_min, give_up) = (now + spec.warmup, now + spec.patience);
    for c in &mut conns {
        c.request(req, now)?;
    }
    let mut unanswered = conns.len();
    // Set when the window opens; then it ends at `end`.
    let mut first: Option<Mark> = None;
    let mut end = give_up;
    let mut latencies: Vec<u64> = Vec::with_capacity(1 << 20);
    loop {
        let now = Instant::now();
        if first.is_none() && unanswered == 0 && now >= warmup_min {
            first = Some(Mark::now(spec.server_pid));
            end = now + spec.window;
        }
        if now >= end {
            break;
        }
        let until = if first.is_some() || unanswered > 0 {
            end
        } else {
            warmup_min
        };
        poll.poll(&mut events, Some(until - now))?;
        let now = Instant::now();
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if c.sent < req.len() && !c.send(req)? {
                continue;
            }
            let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
            if !readable || !c.receive(spec.proto)? {
                continue;
            }
            if !c.answered {
                c.answered = true;
                unanswered -= 1;
            }
            if first.is_some() && now < end {
                latencies.push((now - c.since).as_nanos() as u64);
            }
            c.request(req, now)?;
        }
    }
    let Some(first) = first else {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{unanswered} of {} connections had no answer within {:?}",
                conns.len(),
                spec.patience
            ),
        ));
    };
    let warmup_secs = (first.at - warmup_start).as_secs_f64();
    let last = Mark::now(spec.server_pid);
    let secs = (last.at - first.at).as_secs_f64();
    let hz = sys::ticks_per_second();
    let cores = |a: u64, b: u64| b.saturating_sub(a) as f64 / hz / secs;
    latencies.sort_unstable();
    let pick = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len().max(1));
        latencies.get(i - 1).copied().unwrap_or(0)
    };
    Ok(Report {
        round_trips: latencies.len() as u64,
        secs,
        p50_ns: pick(0.50),
        p99_ns: pick(0.99),
        client_cpu: cores(first.client, last.client),
        server_cpu: cores(first.server, last.server),
        connect_secs,
        warmup_secs,
    })
}

/// Opens `spec.conns` connections, [`CONNECTING`] at a time.
fn connect_all(spec: &Spec, poll: &mut Poll, events: &mut Events) -> io::Result<Vec<Conn>> {
    let mut conns: Vec<Conn> = Vec::with_capacity(spec.conns);
    let (mut pending, mut connected) = (0, 0);
    while connected < spec.conns {
        while pending < CONNECTING && conns.len() < spec.conns {
            let mut stream = TcpStream::connect(spec.addr)?;
            poll.registry().register(
                &mut stream,
                Token(conns.len()),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            conns.push(Conn {
                stream,
                connected: false,
                sent: 0,
                got: 0,
                buf: [0; 256],
                since: Instant::now(),
                answered: false,
            });
            pending += 1;
        }
        poll.poll(events, Some(STALL))?;
        if events.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connecting stalled at {connected} of {}", spec.conns),
            ));
        }
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if c.connected {
                continue;
            }
            if let Some(e) = c.stream.take_error()? {
                return Err(e);
            }
            match c.stream.peer_addr() {
                Ok(_) => {
                    c.connected = true;
                    c.stream.set_nodelay(true)?;
                    connected += 1;
                    pending -= 1;
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(conns)
}
