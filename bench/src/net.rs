//! What the echo and http workloads share: one measurement (a server child
//! process and a load-generator child process), the sweep over contenders
//! and connection counts, and the table with green's aims.
//!
//! A measurement starts the server (`--serve`, see [`serve`]),
//! waits for its `LISTENING` line, runs the load generator (`--load`, see
//! [`load`](crate::load)) to completion, reads the server's peak resident
//! memory, and kills the server.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::contender::Contender;
use crate::load::{Report, Spec};
use crate::protocol::Proto;
use crate::rounds::{self, take_turns, Paired, Runs};
use crate::table::thousands;
use crate::{procfs, serve, sys, Plan};

/// A server child process, killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `who`'s server for `proto` and waits until it listens.
    pub fn start(proto: Proto, who: Contender) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["--serve", proto.key(), who.key()])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        server.addr = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("the server said {line:?}"))?;
        Ok(server)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client CPU use (in cores) from which the load generator may be the
/// bottleneck.
const SATURATED: f64 = 0.9;

/// One contender at one connection count.
#[derive(Debug)]
pub struct Point {
    /// Who served.
    pub who: Contender,
    /// Connections.
    pub conns: usize,
    /// Its runs, one per round.
    pub runs: Runs<Measured>,
}

impl Point {
    /// The run with the median rate, or why there is none.
    pub fn median(&self) -> Result<&Measured, String> {
        self.runs.median(Measured::rate)
    }
}

/// The figures of one run.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// What the load generator measured.
    pub load: Report,
    /// The server's peak resident memory (`VmHWM`), in KiB.
    pub server_peak_kib: u64,
}

impl Measured {
    /// Round trips per second.
    pub fn rate(&self) -> f64 {
        self.load.rate()
    }

    /// The 99th-percentile latency, in nanoseconds.
    pub fn p99(&self) -> f64 {
        self.load.p99_ns as f64
    }
}

/// Every point of one workload, and what was left out and why.
#[derive(Debug)]
pub struct Sweep {
    /// Which protocol.
    pub proto: Proto,
    /// In run order: by connection count, then contender.
    pub points: Vec<Point>,
    /// Runs per point.
    pub rounds: usize,
    /// Notes for under the table.
    pub notes: Vec<String>,
}

impl Sweep {
    /// The point of `who` at `conns`, if it was in the plan.
    pub fn point(&self, who: Contender, conns: usize) -> Option<&Point> {
        self.points
            .iter()
            .find(|p| p.who == who && p.conns == conns)
    }

    /// `figure` of `who` against `base`'s at `conns`, round by round.
    pub fn paired(
        &self,
        who: Contender,
        base: Contender,
        conns: usize,
        figure: impl Fn(&Measured) -> f64,
    ) -> Option<Paired> {
        let (a, b) = (self.point(who, conns)?, self.point(base, conns)?);
        Paired::of(&a.runs, &b.runs, figure)
    }
}

/// Raises `net.core.somaxconn` to [`serve::BACKLOG`] for a sweep (root
/// only), to be put back when the returned guard is dropped, and says what
/// it did in `notes`. At the default 4,096, the load generator's burst of
/// 10,000 connects overflowed the accept queue of a server slow to accept
/// (std's, 128 overflows in a run that got through): the kernel then drops
/// the handshake's last packet, the client believes it is connected and
/// sends, and its retransmissions back off until some connections' first
/// answer comes after the load generator's 30 s of patience.
fn raise_accept_queue(notes: &mut Vec<String>) -> Option<procfs::Restore> {
    let (sysctl, wanted) = (procfs::SOMAXCONN, serve::BACKLOG as usize);
    let name = sysctl.name();
    let now = sysctl.get().filter(|&now| now < wanted)?;
    if !procfs::is_root() {
        notes.push(format!(
            "Note: {name} is {now}: accept queues are shorter than the load generator's \
             bursts of connects (`sysctl -w {name}={wanted}`)."
        ));
        return None;
    }
    match sysctl.set_for_now(wanted, now) {
        Ok(restore) => {
            notes.push(format!(
                "Note: {name} was {now}; running as root, this benchmark raised it to \
                 {wanted} for the servers' accept queues and put {now} back afterwards."
            ));
            Some(restore)
        }
        Err(e) => {
            notes.push(format!("Note: {name} is {now} ({e} raising it)."));
            None
        }
    }
}

/// Runs `proto` for every contender at every connection count of the plan,
/// in `plan.net_rounds` rounds of turns (see [`rounds`]).
/// Prints progress on stderr.
pub fn sweep(proto: Proto, plan: &Plan, contenders: &[Contender]) -> Sweep {
    let mut sweep = Sweep {
        proto,
        points: Vec::new(),
        rounds: plan.net_rounds,
        notes: Vec::new(),
    };
    // Children inherit the raised limit; each raises its own too.
    let limit = sys::raise_nofile(serve::NOFILE).unwrap_or(0);
    let _backlog = raise_accept_queue(&mut sweep.notes);
    for &conns in &plan.conns {
        if conns as u64 + 64 > limit {
            sweep.notes.push(format!(
                "{} connections skipped: RLIMIT_NOFILE is {limit} here and cannot be raised \
                 (a server and the load generator each need {} open files).",
                thousands(conns as i64),
                conns + 64
            ));
            continue;
        }
        let runs = take_turns(plan.net_rounds, contenders, |round, who| {
            eprint!(
                "{}: {} {conns} conns, run {round}/{} ... ",
                proto.key(),
                who.key(),
                plan.net_rounds
            );
            let result = measure(proto, who, conns, plan);
            match &result {
                Ok(m) => eprintln!(
                    "{} rt/s, p99 {}, server CPU {:.0}%, client CPU {:.0}% \
                     (connected in {:.2} s, warm in {:.2} s)",
                    thousands(m.load.rate() as i64),
                    format_ns(m.load.p99_ns),
                    m.load.server_cpu * 100.0,
                    m.load.client_cpu * 100.0,
                    m.load.connect_secs,
                    m.load.warmup_secs
                ),
                Err(e) => eprintln!("failed: {e}"),
            }
            result
        });
        for (&who, runs) in contenders.iter().zip(runs) {
            sweep.points.push(Point { who, conns, runs });
        }
    }
    sweep
}

/// A paired ratio for the tables: `1.03× (3/5)`, the rounds counted being
/// those where the ratio is above 1; "n/a" without one.
pub fn format_paired(paired: Option<Paired>) -> String {
    paired.map_or("n/a".into(), |p| {
        format!("{:.2}× ({}/{})", p.ratio, p.above, p.rounds)
    })
}

/// One measurement: `who`'s server, `conns` connections.
fn measure(proto: Proto, who: Contender, conns: usize, plan: &Plan) -> Result<Measured, String> {
    let server = Server::start(proto, who)?;
    let spec = Spec {
        proto,
        addr: server.addr,
        conns,
        warmup: plan.net_warmup,
        window: plan.net_window,
        patience: plan.net_patience,
        server_pid: server.pid(),
    };
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("--load")
        .args(spec.args())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the load generator: {e}"))?;
    let load = Report::parse(&String::from_utf8_lossy(&out.stdout))?;
    Ok(Measured {
        load,
        server_peak_kib: procfs::peak_rss_kib(server.pid()).ok_or_else(|| {
            "the server's peak RSS (VmHWM) could not be read: did it exit?".to_string()
        })?,
    })
}

/// The markdown table of a sweep, green's aims, and notes.
pub fn render(sweep: &Sweep, title: &str, unit: &str) -> String {
    let mut out = format!(
        "### {title}\n\n\
         | contender | conns | {unit}/s | best | vs green | p50 | p99 | p99 vs green | server CPU | client CPU | {unit}/s per busy server core | server peak RSS | target machine |\n\
         | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |\n"
    );
    for p in &sweep.points {
        let name = p.who.label();
        let m = match p.median() {
            Ok(m) => m,
            Err(e) => {
                out.push_str(&format!(
                    "| {name} | {} | failed: {e} | | | | | | | | | | |\n",
                    thousands(p.conns as i64)
                ));
                continue;
            }
        };
        let vs_green = |figure: fn(&Measured) -> f64| {
            if p.who == Contender::Green1 {
                "—".to_string()
            } else {
                format_paired(sweep.paired(p.who, Contender::Green1, p.conns, figure))
            }
        };
        let l = &m.load;
        let reference = match (sweep.proto, p.who.echo_reference()) {
            (Proto::Echo, Some(r)) => match p.conns {
                100 => thousands(r[0] as i64),
                1000 => thousands(r[1] as i64),
                10_000 => thousands(r[2] as i64),
                _ => String::new(),
            },
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {:.0}% | {:.0}%{} | {} | {:.1} MiB | {reference} |\n",
            thousands(p.conns as i64),
            thousands(p.runs.median_of(Measured::rate).unwrap_or(0.0) as i64),
            thousands(p.runs.best(Measured::rate).unwrap_or(0.0) as i64),
            vs_green(Measured::rate),
            format_ns(p.runs.median_of(|m| m.load.p50_ns as f64).unwrap_or(0.0) as u64),
            format_ns(p.runs.median_of(Measured::p99).unwrap_or(0.0) as u64),
            vs_green(Measured::p99),
            l.server_cpu * 100.0,
            l.client_cpu * 100.0,
            if l.client_cpu >= SATURATED { " ⚠" } else { "" },
            per_core(l.rate(), l.server_cpu),
            m.server_peak_kib as f64 / 1024.0,
        ));
    }
    out.push('\n');
    out.push_str(&aims(sweep));
    out.push('\n');
    out.push_str(&format!(
        "{}, each giving every contender one run (in turn, the order reversed every \
         other round). Rate, p50 and p99 are each the median of the row's runs, \"best\" \
         its highest rate, and the CPU figures are those of its run with the median \
         rate. \"vs green\" is the median over the rounds of the contender's \
         figure ÷ green's in the same round, with the number of rounds in which that ratio \
         is above 1: runs seconds apart share the machine's drift, runs minutes apart do \
         not. ",
        rounds::count(sweep.rounds)
    ));
    out.push_str(
        "CPU is the share of one core used during the window (200% = two cores busy). \
         \"Per busy server core\" is the rate ÷ the server's CPU use. One-core contenders \
         are pinned to CPU 0 and the load generator (one thread, epoll) to the last CPU; \
         the multi-core contenders (green N hubs, tokio multi_thread, may N workers) use \
         every CPU, so on a 2-core machine they share a core with the load generator, and \
         their rate is bounded by that. ⚠ marks a load generator at 90% of its core or \
         more: there the rate may be the client's limit, and the rate per busy server core \
         is the fairer comparison. The target-machine column is issue 7's peer figure \
         (its `may` figure is shown on the one-worker row).\n",
    );
    for p in &sweep.points {
        if let (Ok(_), Some((round, e))) = (p.median(), p.runs.first_failure()) {
            out.push_str(&format!(
                "{} at {} connections failed in round {round} and was not run again \
                 (its figures are from the rounds before): {e}\n",
                p.who.label(),
                thousands(p.conns as i64)
            ));
        }
    }
    for note in &sweep.notes {
        out.push_str(note);
        out.push('\n');
    }
    out
}

/// Green's aims at every connection count, judged on the round-by-round
/// ratios: one hub at least as fast as tokio current_thread and may with
/// one worker, with a p99 at least as low, and at 10,000 connections less
/// memory than may and std threads; N hubs at least as fast as tokio
/// multi_thread. (N hubs against one hub is the scale workload's:
/// one load-generator thread cannot load N cores.)
fn aims(sweep: &Sweep) -> String {
    let mut out = String::from(
        "Green's aims, judged on the median ratio of the rounds (N hubs ≥ 1.8 × 1 hub is \
         judged in the scale workload: one load-generator thread cannot load more than \
         about one server core):\n\n\
         | conns | aim | green | peer | green ÷ peer, by round | |\n\
         | --: | --- | --: | --: | --- | --- |\n",
    );
    let mut conns: Vec<usize> = sweep.points.iter().map(|p| p.conns).collect();
    conns.dedup();
    let median = |who, c, figure: fn(&Measured) -> f64| {
        sweep.point(who, c).and_then(|p| p.runs.median_of(figure))
    };
    for c in conns {
        let mut checks = vec![
            (
                "1 hub rate ≥ tokio current_thread",
                Contender::Green1,
                Contender::TokioCt,
                Aim::Rate,
            ),
            (
                "1 hub rate ≥ may 1 worker",
                Contender::Green1,
                Contender::May1,
                Aim::Rate,
            ),
            (
                "N hubs rate ≥ tokio multi_thread",
                Contender::GreenN,
                Contender::TokioMt,
                Aim::Rate,
            ),
            (
                "1 hub p99 ≤ tokio current_thread",
                Contender::Green1,
                Contender::TokioCt,
                Aim::P99,
            ),
            (
                "1 hub p99 ≤ may 1 worker",
                Contender::Green1,
                Contender::May1,
                Aim::P99,
            ),
        ];
        if c == 10_000 {
            checks.push((
                "1 hub peak RSS < may 1 worker",
                Contender::Green1,
                Contender::May1,
                Aim::Rss,
            ));
            checks.push((
                "1 hub peak RSS < std threads",
                Contender::Green1,
                Contender::Std,
                Aim::Rss,
            ));
        }
        for (aim, green, peer, kind) in checks {
            let figure = kind.figure();
            let (Some(g), Some(p), Some(paired)) = (
                median(green, c, figure),
                median(peer, c, figure),
                sweep.paired(green, peer, c, figure),
            ) else {
                // A side that ran and never succeeded: the aim cannot be
                // judged, and the table says so rather than dropping it.
                let failed = [green, peer]
                    .into_iter()
                    .find(|&who| sweep.point(who, c).is_some_and(|p| p.median().is_err()));
                if let Some(who) = failed {
                    out.push_str(&format!(
                        "| {} | {aim} | | | {} had no good run | not judged |\n",
                        thousands(c as i64),
                        who.label(),
                    ));
                }
                continue;
            };
            let (met, won) = match kind {
                Aim::Rate => (paired.ratio >= 1.0, format!("ahead in {}", paired.above)),
                Aim::P99 => (paired.ratio <= 1.0, format!("lower in {}", paired.below)),
                Aim::Rss => (paired.ratio < 1.0, format!("lower in {}", paired.below)),
            };
            out.push_str(&format!(
                "| {} | {aim} | {} | {} | {:.2}×, {won} of {} | {} |\n",
                thousands(c as i64),
                kind.show(g),
                kind.show(p),
                paired.ratio,
                paired.rounds,
                if met { "met" } else { "**not met**" },
            ));
        }
    }
    out
}

/// What an aim compares.
#[derive(Clone, Copy)]
enum Aim {
    /// The rate: green's at least the peer's.
    Rate,
    /// The p99 latency: green's at most the peer's.
    P99,
    /// The server's peak memory: green's below the peer's.
    Rss,
}

impl Aim {
    fn figure(self) -> fn(&Measured) -> f64 {
        match self {
            Aim::Rate => Measured::rate,
            Aim::P99 => Measured::p99,
            Aim::Rss => |m| m.server_peak_kib as f64,
        }
    }

    fn show(self, v: f64) -> String {
        match self {
            Aim::Rate => thousands(v as i64),
            Aim::P99 => format_ns(v as u64),
            Aim::Rss => format!("{} KiB", thousands(v as i64)),
        }
    }
}

/// `rate` per busy core, or "n/a" when the CPU reading is too small to
/// divide by.
pub fn per_core(rate: f64, cores: f64) -> String {
    if cores > 0.05 {
        thousands((rate / cores) as i64)
    } else {
        "n/a".into()
    }
}

/// A latency for people: `412 µs`, `1.23 ms`, `2.1 s`.
pub fn format_ns(ns: u64) -> String {
    let ns = ns as f64;
    if ns < 10_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e6 {
        format!("{:.0} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: u64, p99_ms: u64, peak_kib: u64) -> Result<Measured, String> {
        Ok(Measured {
            load: Report {
                round_trips: rate,
                secs: 1.0,
                p50_ns: p99_ms * 500_000,
                p99_ns: p99_ms * 1_000_000,
                ..Report::default()
            },
            server_peak_kib: peak_kib,
        })
    }

    fn point(who: Contender, runs: Vec<Result<Measured, String>>) -> Point {
        Point {
            who,
            conns: 10_000,
            runs: Runs::new(runs),
        }
    }

    /// Two rounds at 10,000 connections: green uses less memory than may in
    /// both, std never got through.
    fn sweep() -> Sweep {
        Sweep {
            proto: Proto::Echo,
            points: vec![
                point(
                    Contender::Green1,
                    vec![run(100, 100, 47_000), run(110, 90, 47_100)],
                ),
                point(
                    Contender::May1,
                    vec![run(105, 120, 48_000), run(100, 80, 48_200)],
                ),
                point(
                    Contender::Std,
                    vec![Err("no answer".into()), Err("no answer".into())],
                ),
            ],
            rounds: 2,
            notes: Vec::new(),
        }
    }

    fn row<'a>(table: &'a str, aim: &str) -> &'a str {
        table
            .lines()
            .find(|l| l.contains(aim))
            .unwrap_or_else(|| panic!("no row for {aim:?} in\n{table}"))
    }

    #[test]
    fn memory_below_the_peer_in_every_round_is_met() {
        let table = aims(&sweep());
        let rss = row(&table, "1 hub peak RSS < may 1 worker");
        assert!(rss.contains("lower in 2 of 2"), "{rss}");
        assert!(rss.ends_with("| met |"), "{rss}");
    }

    #[test]
    fn an_aim_against_a_peer_that_always_failed_is_shown_not_judged() {
        let table = aims(&sweep());
        let std = row(&table, "1 hub peak RSS < std threads");
        assert!(std.contains("had no good run"), "{std}");
        assert!(std.ends_with("| not judged |"), "{std}");
    }

    #[test]
    fn rate_and_p99_aims_are_judged_round_by_round() {
        let table = aims(&sweep());
        // Rates 100 vs 105 and 110 vs 100: ratios 0.95 and 1.10, median
        // 1.03 (two rounds: the mean of both).
        let rate = row(&table, "1 hub rate ≥ may 1 worker");
        assert!(rate.contains("ahead in 1 of 2"), "{rate}");
        assert!(rate.ends_with("| met |"), "{rate}");
        // p99 100 vs 120 ms and 90 vs 80 ms: ratios 0.83 and 1.125.
        let p99 = row(&table, "1 hub p99 ≤ may 1 worker");
        assert!(p99.contains("lower in 1 of 2"), "{p99}");
    }
}
