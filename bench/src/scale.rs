//! Workload **scale**: how a runtime's echo rate grows from one core to all
//! of them, with the clients inside the server's own process.
//!
//! Issue 7 asks N hubs for 1.8× one hub on two cores. The echo and http
//! workloads cannot show that on a two-core machine: their load generator
//! needs a core of its own, so N hubs get one core and a share. Here every
//! contender runs [`CONNS`] echo clients and their server connections as
//! tasks of one process (this binary re-run as `--scale <contender> <conns>
//! <warm-up ms> <window ms>`): the one-core contenders pinned to CPU 0, the
//! N-core ones on every core, so the ratio of the two is the scaling. Green's
//! N hubs run in two configurations. By hash: each hub binds the port with
//! `SO_REUSEPORT` and runs its share of the clients, and the kernel spreads
//! the connections over the hubs' listeners by their addresses, so about
//! half the clients are served by another hub. Pinned and steered: the hubs
//! are pinned one per core (`Runtime::pin_to_cores`) and each listener has
//! `SO_INCOMING_CPU` set to its hub's CPU, so each hub gets the connections
//! of its own clients, as a server behind a NIC with a receive queue per
//! core would get them. Tokio's and may's clients are spawned like any task
//! and go where their schedulers put them (may pins its workers itself).
//!
//! A client sends 64 bytes and reads them back, again and again, and counts
//! the round trips it started in the measured window. A thread outside the
//! runtime opens and closes the window, reads the process's CPU time at its
//! edges, and prints `SCALE round_trips=… secs=… cpu=…` (or `ERROR why`)
//! once every client has added its count.

use std::io::{Read, Write};
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::contender::Contender;
use crate::net::{format_paired, per_core};
use crate::protocol::{Proto, MESSAGE};
use crate::rounds::{self, Paired, Runs};
use crate::serve::{self, Hubs};
use crate::table::thousands;
use crate::{peers, procfs, sys, Plan};

/// Clients (and so connections) per run.
pub const CONNS: usize = 1_000;

/// How long the clients may take to connect, and to stop after the window.
const PATIENCE: Duration = Duration::from_secs(30);

/// Where the clients are: warming up, counting, or told to stop.
const WARM: u8 = 0;
const COUNT: u8 = 1;
const STOP: u8 = 2;

/// What the clients and the controlling thread share.
static PHASE: AtomicU8 = AtomicU8::new(WARM);
static CONNECTED: AtomicUsize = AtomicUsize::new(0);
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);
/// The first client failure, for the `ERROR` line.
static FIRST_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);

/// What one run measured.
#[derive(Clone, Copy, Debug, Default)]
struct Report {
    round_trips: u64,
    secs: f64,
    /// The process's CPU use in the window, in cores.
    cpu: f64,
}

impl Report {
    fn rate(&self) -> f64 {
        self.round_trips as f64 / self.secs.max(1e-9)
    }

    fn parse(out: &str) -> Result<Report, String> {
        if let Some(why) = out.lines().find_map(|l| l.strip_prefix("ERROR ")) {
            return Err(why.to_string());
        }
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("SCALE "))
            .ok_or("the child printed no result")?;
        let mut r = Report::default();
        for pair in line.split_whitespace() {
            let (key, value) = pair.split_once('=').ok_or("malformed result")?;
            let float = || value.parse::<f64>().map_err(|e| e.to_string());
            match key {
                "round_trips" => r.round_trips = value.parse().map_err(|e| format!("{e}"))?,
                "secs" => r.secs = float()?,
                "cpu" => r.cpu = float()?,
                _ => {}
            }
        }
        Ok(r)
    }
}

/// One configuration measured: a contender, and for green's N hubs whether
/// they are pinned and steer connections to their CPU or take them by hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    who: Contender,
    steered: bool,
}

impl Entry {
    fn plain(who: Contender) -> Entry {
        Entry {
            who,
            steered: false,
        }
    }

    fn label(self) -> String {
        match (self.who, self.steered) {
            (Contender::GreenN, true) => format!("{}, pinned, steered", self.who.label()),
            (Contender::GreenN, false) => format!("{}, by hash", self.who.label()),
            (who, _) => who.label(),
        }
    }

    /// The one-core configuration of an N-core entry.
    fn one_core_twin(self) -> Option<Entry> {
        match self.who {
            Contender::GreenN => Some(Entry::plain(Contender::Green1)),
            Contender::TokioMt => Some(Entry::plain(Contender::TokioCt)),
            Contender::MayN => Some(Entry::plain(Contender::May1)),
            _ => None,
        }
    }
}

/// Runs every selected server contender but std (which has no N-core
/// twin), green's N hubs both steered and by hash, in `plan.net_rounds`
/// rounds of turns; returns the markdown section.
pub fn run(plan: &Plan, contenders: &[Contender]) -> String {
    let mut who = Vec::new();
    for c in Contender::SERVERS {
        if c == Contender::Std || !contenders.contains(&c) {
            continue;
        }
        who.push(Entry::plain(c));
        if c == Contender::GreenN {
            who.push(Entry {
                who: c,
                steered: true,
            });
        }
    }
    let n = sys::cpus();
    let mut out = format!(
        "### Scaling: echo with {} clients inside the server's process, 1 core against {n}\n\n",
        thousands(CONNS as i64)
    );
    if let Err(e) = sys::raise_nofile(serve::NOFILE) {
        out.push_str(&format!("Skipped: cannot raise RLIMIT_NOFILE: {e}.\n"));
        return out;
    }
    let runs = rounds::take_turns(plan.net_rounds, &who, |round, e| {
        eprint!(
            "scale: {}{} {CONNS} clients, run {round}/{} ... ",
            e.who.key(),
            if e.steered { " steered" } else { "" },
            plan.net_rounds
        );
        let result = in_child(e, plan);
        match &result {
            Ok(r) => eprintln!(
                "{} rt/s, CPU {:.0}%",
                thousands(r.rate() as i64),
                r.cpu * 100.0
            ),
            Err(e) => eprintln!("failed: {e}"),
        }
        result
    });
    let runs_of = |e: Entry| who.iter().position(|&w| w == e).map(|i| &runs[i]);
    out.push_str(
        "| contender | round trips/s | best | CPU | round trips/s per busy core | vs its one-core twin | vs green by hash on as many cores |\n\
         | --- | --: | --: | --: | --: | --: | --: |\n",
    );
    for (&e, runs) in who.iter().zip(&runs) {
        let m = match runs.median(Report::rate) {
            Ok(m) => m,
            Err(why) => {
                out.push_str(&format!("| {} | failed: {why} | | | | | |\n", e.label()));
                continue;
            }
        };
        let twin = e.one_core_twin().and_then(runs_of);
        let green = Entry::plain(if e.who.multi_core() {
            Contender::GreenN
        } else {
            Contender::Green1
        });
        let paired = |base: Option<&Runs<Report>>, mine: bool| match base {
            _ if mine => "—".to_string(),
            Some(base) => format_paired(Paired::of(runs, base, Report::rate)),
            None => "n/a".to_string(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {:.0}% | {} | {} | {} |\n",
            e.label(),
            thousands(m.rate() as i64),
            thousands(runs.best(Report::rate).unwrap_or(0.0) as i64),
            m.cpu * 100.0,
            per_core(m.rate(), m.cpu),
            paired(twin, !e.who.multi_core()),
            paired(runs_of(green), e == green),
        ));
    }
    out.push('\n');
    let aim = 0.9 * n as f64;
    for steered in [false, true] {
        let green_n = Entry {
            who: Contender::GreenN,
            steered,
        };
        let aims = [
            (
                Entry::plain(Contender::Green1),
                format!("≥ {aim:.1} × 1 hub"),
                aim,
            ),
            (
                Entry::plain(Contender::TokioMt),
                "≥ tokio multi_thread".to_string(),
                1.0,
            ),
        ];
        for (peer, text, factor) in aims {
            let (Some(a), Some(b)) = (runs_of(green_n), runs_of(peer)) else {
                continue;
            };
            if let Some(p) = Paired::of(a, b, Report::rate) {
                let met = if p.ratio >= factor {
                    "met"
                } else {
                    "**not met**"
                };
                out.push_str(&format!(
                    "- {} {text}: {:.2}×, at least {factor:.1} in {} of {} rounds; {met}.\n",
                    green_n.label(),
                    p.ratio,
                    rounds_at_least(a, b, factor),
                    p.rounds
                ));
            }
        }
    }
    out.push_str(&format!(
        "\n{} of turns, as in the server workloads. A client sends {MESSAGE} bytes and reads \
         them back; the rate counts the round trips started in the {:?} window (after a \
         {:?} warm-up). CPU is the whole process's (clients and servers), in cores. The \
         one-core contenders are pinned to CPU 0; the others use every CPU. Green's N hubs \
         run twice: by hash (the kernel spreads connections over the hubs' listeners, so \
         about half the clients are served by another hub), and pinned and steered (each \
         hub gets the connections of its own clients, as a server behind a NIC with a \
         queue per core gets them; tokio's and may's tasks go where their schedulers put \
         them). \"vs its one-core twin\" is the scaling: N hubs ÷ 1 hub, tokio \
         multi_thread ÷ current_thread, may N workers ÷ 1, the median of the rounds' \
         ratios (rounds above 1 in brackets).\n",
        rounds::count(plan.net_rounds),
        plan.net_window,
        plan.net_warmup,
    ));
    out
}

/// In how many rounds `a`'s rate is at least `factor` × `b`'s.
fn rounds_at_least(a: &Runs<Report>, b: &Runs<Report>, factor: f64) -> usize {
    rounds::ratios(a, b, Report::rate).map_or(0, |r| r.iter().filter(|&&x| x >= factor).count())
}

fn in_child(e: Entry, plan: &Plan) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--scale", e.who.key(), &CONNS.to_string()])
        .arg(plan.net_warmup.as_millis().to_string())
        .arg(plan.net_window.as_millis().to_string())
        .args(e.steered.then_some("steered"))
        .output()
        .map_err(|e| format!("cannot start the child: {e}"))?;
    Report::parse(&String::from_utf8_lossy(&out.stdout))
}

/// The child's entry point; never returns.
pub fn child_main(args: &[String]) -> ! {
    let ms = |i: usize| {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .map(Duration::from_millis)
    };
    let (Some(who), Some(conns), Some(warmup), Some(window)) = (
        args.first().and_then(|c| Contender::from_key(c)),
        args.get(1).and_then(|c| c.parse::<usize>().ok()),
        ms(2),
        ms(3),
    ) else {
        eprintln!(
            "usage: green-bench --scale <contender> <conns> <warm-up ms> <window ms> [steered]"
        );
        std::process::exit(2);
    };
    if let Err(e) = sys::raise_nofile(serve::NOFILE) {
        eprintln!("--scale: cannot raise RLIMIT_NOFILE: {e}");
    }
    std::thread::spawn(move || control(conns, warmup, window));
    if !who.multi_core() {
        sys::pin_to_cpu(0);
    }
    let n = sys::cpus();
    match who {
        Contender::Green1 => {
            green::run(|| scale_green(&Hubs::new(1), 0, conns, conns, false));
        }
        Contender::GreenN => {
            let steered = args.get(4).map(String::as_str) == Some("steered");
            let hubs = Hubs::new(n);
            green::Runtime::new()
                .hubs(n)
                .pin_to_cores(steered)
                .run(|hub| scale_green(&hubs, hub, share(conns, n, hub), conns, steered));
        }
        Contender::TokioCt => peers::tokio_runtime().block_on(scale_tokio(conns)),
        Contender::TokioMt => peers::tokio_runtime_multi(n).block_on(scale_tokio(conns)),
        Contender::May1 => scale_may(1, conns),
        Contender::MayN => scale_may(n, conns),
        Contender::Std => fail("std has no one-core and N-core pair here"),
    }
    // The controlling thread ends the process.
    loop {
        std::thread::park();
    }
}

/// Hub `hub`'s share of `conns` clients over `n` hubs.
fn share(conns: usize, n: usize, hub: usize) -> usize {
    conns / n + usize::from(hub < conns % n)
}

/// Opens and closes the window, then prints the result and ends the
/// process.
fn control(conns: usize, warmup: Duration, window: Duration) -> ! {
    wait_for(&CONNECTED, conns, "connected");
    std::thread::sleep(warmup);
    let me = std::process::id();
    let (start, cpu_start) = (Instant::now(), procfs::cpu_ticks(me));
    PHASE.store(COUNT, Ordering::Relaxed);
    std::thread::sleep(window);
    PHASE.store(STOP, Ordering::Relaxed);
    let (secs, cpu_end) = (start.elapsed().as_secs_f64(), procfs::cpu_ticks(me));
    wait_for(&FINISHED, conns, "stopped");
    let failed = FAILED.load(Ordering::Relaxed);
    if failed > 0 {
        fail(&format!(
            "{failed} of {conns} clients failed (the first: {})",
            first_failure()
        ));
    }
    let cpu = cpu_end.saturating_sub(cpu_start) as f64 / sys::ticks_per_second() / secs;
    println!(
        "SCALE round_trips={} secs={secs:.6} cpu={cpu:.4}",
        ROUND_TRIPS.load(Ordering::Relaxed)
    );
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// Waits until `counter` reaches `conns`, or fails after [`PATIENCE`].
fn wait_for(counter: &AtomicUsize, conns: usize, what: &str) {
    let since = Instant::now();
    while counter.load(Ordering::Acquire) < conns {
        if since.elapsed() > PATIENCE || FAILED.load(Ordering::Relaxed) > 0 {
            fail(&format!(
                "{} of {conns} clients {what} within {PATIENCE:?}, {} failed (the first: {})",
                counter.load(Ordering::Relaxed),
                FAILED.load(Ordering::Relaxed),
                first_failure()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn fail(why: &str) -> ! {
    println!("ERROR {why}");
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// One client's round trips, until told to stop; blocking style.
fn client(conn: std::io::Result<impl Read + Write>) {
    let counted = conn.map_err(|e| during("connect", e)).and_then(|mut conn| {
        CONNECTED.fetch_add(1, Ordering::Release);
        let mut buf = [7u8; MESSAGE];
        let mut counted = 0;
        loop {
            let phase = PHASE.load(Ordering::Relaxed);
            if phase == STOP {
                return Ok(counted);
            }
            conn.write_all(&buf).map_err(|e| during("write", e))?;
            conn.read_exact(&mut buf).map_err(|e| during("read", e))?;
            counted += u64::from(phase == COUNT);
        }
    });
    finish(counted);
}

/// The first client failure, for the `ERROR` line ("none" before any).
fn first_failure() -> &'static str {
    FIRST_FAILURE.get().map_or("none", String::as_str)
}

/// `e`, saying which step of a client it ended, and in which phase.
fn during(step: &str, e: std::io::Error) -> std::io::Error {
    let phase = match PHASE.load(Ordering::Relaxed) {
        WARM => "warming up",
        COUNT => "counting",
        _ => "stopping",
    };
    std::io::Error::new(e.kind(), format!("{step} while {phase}: {e}"))
}

/// [`client`] for tokio.
async fn client_tokio(addr: std::net::SocketAddr) {
    let counted = async {
        let mut conn = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| during("connect", e))?;
        conn.set_nodelay(true)?;
        CONNECTED.fetch_add(1, Ordering::Release);
        let mut buf = [7u8; MESSAGE];
        let mut counted = 0;
        loop {
            let phase = PHASE.load(Ordering::Relaxed);
            if phase == STOP {
                return Ok(counted);
            }
            conn.write_all(&buf).await.map_err(|e| during("write", e))?;
            conn.read_exact(&mut buf)
                .await
                .map_err(|e| during("read", e))?;
            counted += u64::from(phase == COUNT);
        }
    };
    finish(counted.await);
}

fn finish(counted: std::io::Result<u64>) {
    match counted {
        Ok(n) => {
            ROUND_TRIPS.fetch_add(n, Ordering::Relaxed);
        }
        Err(e) => {
            eprintln!("--scale: a client failed: {e}");
            let _ = FIRST_FAILURE.set(e.to_string());
            FAILED.fetch_add(1, Ordering::Relaxed);
        }
    }
    FINISHED.fetch_add(1, Ordering::Release);
}

/// One hub: its `SO_REUSEPORT` listener (asking for its CPU's connections
/// if `steered` and pinned) and acceptor, and `clients` clients. It
/// returns once all `total` clients of the process have finished, not
/// just its own: by hash, its servers serve clients of other hubs too, and
/// a hub whose main greenlet returns drops them, resetting a connection
/// whose client still waits for its last echo (`read while stopping:
/// Connection reset by peer`, one run in about twenty in debug builds).
fn scale_green(hubs: &Hubs, hub: usize, clients: usize, total: usize, steered: bool) {
    let listener = serve::green_listener(hubs, hub, steered);
    let addr = listener.local_addr().expect("local_addr");
    green::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let _ = conn.set_nodelay(true);
            green::spawn(move || Proto::Echo.serve(conn));
        }
    });
    let clients: Vec<_> = (0..clients)
        .map(|_| {
            green::spawn(move || {
                client(green_net::TcpStream::connect(addr).and_then(|c| {
                    c.set_nodelay(true)?;
                    Ok(c)
                }))
            })
        })
        .collect();
    for c in clients {
        let _ = c.join();
    }
    while FINISHED.load(Ordering::Acquire) < total {
        green::sleep(Duration::from_millis(1));
    }
}

async fn scale_tokio(conns: usize) {
    let listener = serve::std_listener();
    listener.set_nonblocking(true).expect("set_nonblocking");
    let listener = tokio::net::TcpListener::from_std(listener).expect("register");
    let addr = listener.local_addr().expect("local_addr");
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            let _ = conn.set_nodelay(true);
            tokio::spawn(Proto::Echo.serve_tokio(conn));
        }
    });
    let clients: Vec<_> = (0..conns)
        .map(|_| tokio::spawn(client_tokio(addr)))
        .collect();
    for c in clients {
        let _ = c.await;
    }
}

fn scale_may(workers: usize, conns: usize) {
    peers::may_workers(workers);
    let listener = may::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    peers::may_go(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let _ = conn.set_nodelay(true);
            peers::may_go(move || Proto::Echo.serve(conn));
        }
    });
    let clients: Vec<_> = (0..conns)
        .map(|_| {
            peers::may_go(move || {
                client(may::net::TcpStream::connect(addr).and_then(|c| {
                    c.set_nodelay(true)?;
                    Ok(c)
                }))
            })
        })
        .collect();
    for c in clients {
        let _ = c.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_clients_over_hubs() {
        assert_eq!((0..3).map(|h| share(1000, 3, h)).sum::<usize>(), 1000);
        assert_eq!([share(5, 2, 0), share(5, 2, 1)], [3, 2]);
    }

    #[test]
    fn parses_the_childs_line() {
        let r = Report::parse("SCALE round_trips=2000 secs=2.0 cpu=1.9500\n").unwrap();
        assert_eq!((r.round_trips, r.secs, r.cpu), (2000, 2.0, 1.95));
        assert_eq!(r.rate(), 1000.0);
        assert_eq!(Report::parse("ERROR no").unwrap_err(), "no");
    }
}
