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
    /// The figures, or why there are none.
    pub result: Result<Measured, String>,
}

/// The figures of one [`Point`]: its best run (highest rate).
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// What the load generator measured.
    pub load: Report,
    /// The median rate of all its runs.
    pub median_rate: f64,
    /// The server's peak resident memory (`VmHWM`), in KiB.
    pub server_peak_kib: u64,
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
    /// The figures of `who` at `conns`, if measured.
    pub fn get(&self, who: Contender, conns: usize) -> Option<&Measured> {
        self.points
            .iter()
            .find(|p| p.who == who && p.conns == conns)?
            .result
            .as_ref()
            .ok()
    }
}

/// Runs `proto` for every contender at every connection count of the plan,
/// `plan.net_rounds` times each, the contenders taking turns so that a
/// burst of load from elsewhere on the machine hits them alike; keeps each
/// one's best run. Prints progress on stderr.
pub fn sweep(proto: Proto, plan: &Plan, contenders: &[Contender]) -> Sweep {
    let mut sweep = Sweep {
        proto,
        points: Vec::new(),
        rounds: plan.net_rounds,
        notes: Vec::new(),
    };
    // Children inherit the raised limit; each raises its own too.
    let limit = sys::raise_nofile(serve::NOFILE).unwrap_or(0);
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
        let results = take_turns(
            plan.net_rounds,
            contenders,
            |m: &Measured| m.load.rate(),
            |round, who| {
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
            },
        );
        for (&who, result) in contenders.iter().zip(results) {
            sweep.points.push(Point {
                who,
                conns,
                result: result.map(|(m, median_rate)| Measured { median_rate, ..m }),
            });
        }
    }
    sweep
}

/// Measures every contender `rounds` times, the contenders taking turns so
/// that a burst of load from elsewhere on the machine hits them alike
/// (`measure` gets the round, from 1, and the contender). Returns, per
/// contender, its best run (the highest `rate`) with the median rate of the
/// runs that succeeded; the first error if none did.
pub fn take_turns<T: Copy>(
    rounds: usize,
    contenders: &[Contender],
    rate: impl Fn(&T) -> f64,
    mut measure: impl FnMut(usize, Contender) -> Result<T, String>,
) -> Vec<Result<(T, f64), String>> {
    let mut runs: Vec<Vec<Result<T, String>>> = vec![Vec::new(); contenders.len()];
    for round in 1..=rounds {
        for (&who, runs) in contenders.iter().zip(&mut runs) {
            runs.push(measure(round, who));
        }
    }
    runs.into_iter().map(|runs| best(runs, &rate)).collect()
}

/// The run with the highest `rate`, and the median rate of all that
/// succeeded; the first error if none did.
fn best<T: Copy>(
    runs: Vec<Result<T, String>>,
    rate: impl Fn(&T) -> f64,
) -> Result<(T, f64), String> {
    let mut ok: Vec<T> = runs
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    if ok.is_empty() {
        return Err(runs
            .into_iter()
            .find_map(Result::err)
            .unwrap_or_else(|| "not run".to_string()));
    }
    ok.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    Ok((ok[ok.len() - 1], rate(&ok[ok.len() / 2])))
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
        median_rate: load.rate(),
        server_peak_kib: procfs::peak_rss_kib(server.pid()),
    })
}

/// The markdown table of a sweep, green's aims, and notes.
pub fn render(sweep: &Sweep, title: &str, unit: &str) -> String {
    let mut out = format!(
        "### {title}\n\n\
         | contender | conns | {unit}/s | median | vs green | p50 | p99 | p99 vs green | server CPU | client CPU | {unit}/s per busy server core | server peak RSS | target machine |\n\
         | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |\n"
    );
    for p in &sweep.points {
        let name = p.who.label();
        let m = match &p.result {
            Ok(m) => m,
            Err(e) => {
                out.push_str(&format!(
                    "| {name} | {} | failed: {e} | | | | | | | | | | |\n",
                    p.conns
                ));
                continue;
            }
        };
        let green = sweep.get(Contender::Green1, p.conns);
        let ratio = |v: f64, base: Option<f64>| match base {
            Some(b) if b > 0.0 => format!("{:.2}×", v / b),
            _ => "n/a".into(),
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
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {:.0}% | {:.0}%{} | {} | {} MiB | {reference} |\n",
            thousands(p.conns as i64),
            thousands(l.rate() as i64),
            thousands(m.median_rate as i64),
            ratio(l.rate(), green.map(|g| g.load.rate())),
            format_ns(l.p50_ns),
            format_ns(l.p99_ns),
            ratio(l.p99_ns as f64, green.map(|g| g.load.p99_ns as f64)),
            l.server_cpu * 100.0,
            l.client_cpu * 100.0,
            if l.client_cpu >= SATURATED { " ⚠" } else { "" },
            per_core(l.rate(), l.server_cpu),
            m.server_peak_kib / 1024,
        ));
    }
    out.push('\n');
    out.push_str(&aims(sweep));
    out.push('\n');
    out.push_str(&format!(
        "Each contender's best of {} runs (rate; the other figures are from that run), \
         the contenders taking turns; the median rate next to it. ",
        sweep.rounds
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
    for note in &sweep.notes {
        out.push_str(note);
        out.push('\n');
    }
    out
}

/// Green's aims at every connection count: one hub at least as fast as
/// tokio current_thread and may with one worker, with a p99 at least as
/// low; N hubs at least 1.8× one hub and at least tokio multi_thread.
fn aims(sweep: &Sweep) -> String {
    let mut out = String::from(
        "Green's aims:\n\n| conns | aim | green | peer | |\n| --: | --- | --: | --: | --- |\n",
    );
    let mut conns: Vec<usize> = sweep.points.iter().map(|p| p.conns).collect();
    conns.dedup();
    let rate = |who, c| sweep.get(who, c).map(|m| m.load.rate());
    let p99 = |who, c| sweep.get(who, c).map(|m| m.load.p99_ns as f64);
    for c in conns {
        let checks = [
            (
                "1 hub rate ≥ tokio current_thread",
                rate(Contender::Green1, c),
                rate(Contender::TokioCt, c),
                1.0,
            ),
            (
                "1 hub rate ≥ may 1 worker",
                rate(Contender::Green1, c),
                rate(Contender::May1, c),
                1.0,
            ),
            (
                "N hubs rate ≥ 1.8 × 1 hub",
                rate(Contender::GreenN, c),
                rate(Contender::Green1, c),
                1.8,
            ),
            (
                "N hubs rate ≥ tokio multi_thread",
                rate(Contender::GreenN, c),
                rate(Contender::TokioMt, c),
                1.0,
            ),
        ];
        for (aim, green, peer, factor) in checks {
            if let (Some(g), Some(p)) = (green, peer) {
                let met = if g >= p * factor {
                    "met"
                } else {
                    "**not met**"
                };
                out.push_str(&format!(
                    "| {} | {aim} | {} | {} | {met} |\n",
                    thousands(c as i64),
                    thousands(g as i64),
                    thousands(p as i64)
                ));
            }
        }
        for (aim, peer) in [
            ("1 hub p99 ≤ tokio current_thread", Contender::TokioCt),
            ("1 hub p99 ≤ may 1 worker", Contender::May1),
        ] {
            if let (Some(g), Some(p)) = (p99(Contender::Green1, c), p99(peer, c)) {
                let met = if g <= p { "met" } else { "**not met**" };
                out.push_str(&format!(
                    "| {} | {aim} | {} | {} | {met} |\n",
                    thousands(c as i64),
                    format_ns(g as u64),
                    format_ns(p as u64)
                ));
            }
        }
    }
    out
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
    use super::take_turns;
    use crate::contender::Contender;

    #[test]
    fn take_turns_keeps_the_best_run_and_the_median_rate() {
        let who = [Contender::Green1, Contender::TokioCt];
        let mut order = Vec::new();
        let results = take_turns(
            3,
            &who,
            |&rate: &f64| rate,
            |round, c| {
                order.push((round, c));
                match (c, round) {
                    (Contender::Green1, _) => Ok([5.0, 9.0, 7.0][round - 1]),
                    _ => Err(format!("failed in round {round}")),
                }
            },
        );
        // Taking turns: every contender once per round.
        assert_eq!(order[..2], [(1, who[0]), (1, who[1])]);
        assert_eq!(order.len(), 6);
        assert_eq!(results[0], Ok((9.0, 7.0)));
        assert_eq!(results[1], Err("failed in round 1".to_string()));
    }
}
