//! Workload **timers**: a million tasks (100,000 with `--quick`), each
//! sleeping its own scattered duration (0 to 1 s, deterministic
//! pseudo-random), for green (one hub), tokio current_thread and may (one
//! worker): the total time from the first spawn until every task has been
//! joined, how late the wake-ups were, and the peak resident memory.
//!
//! Each contender runs in a child process of its own (this binary,
//! re-run as `--timers <contender> <count>`), pinned to CPU 0. Coroutine
//! stacks need two kernel mappings each (`may`'s; green's only before
//! Linux 6.13), so the parent raises `vm.max_map_count` as the memory
//! workload does (see [`memory`](crate::memory)).

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::contender::Contender;
use crate::memory::Budget;
use crate::net::{format_ns, format_paired};
use crate::procfs::{self, Memory};
use crate::rounds::{self, Paired, Runs};
use crate::table::thousands;
use crate::{peers, sys, Plan};

/// The longest sleep.
const LONGEST: Duration = Duration::from_secs(1);

/// What a child measured.
#[derive(Debug, Default)]
struct Report {
    /// First spawn to last join.
    secs: f64,
    /// Mean and worst wake-up lateness, in ns.
    late_mean_ns: u64,
    late_max_ns: u64,
    /// Resident memory before the first spawn and at its peak, in KiB.
    base_kib: u64,
    peak_kib: u64,
}

impl Report {
    fn line(&self) -> String {
        format!(
            "TIMERS secs={:.6} late_mean_ns={} late_max_ns={} base_kib={} peak_kib={}",
            self.secs, self.late_mean_ns, self.late_max_ns, self.base_kib, self.peak_kib
        )
    }

    fn parse(out: &str) -> Option<Report> {
        let line = out.lines().find_map(|l| l.strip_prefix("TIMERS "))?;
        let mut r = Report::default();
        for pair in line.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            match key {
                "secs" => r.secs = value.parse().ok()?,
                "late_mean_ns" => r.late_mean_ns = value.parse().ok()?,
                "late_max_ns" => r.late_max_ns = value.parse().ok()?,
                "base_kib" => r.base_kib = value.parse().ok()?,
                "peak_kib" => r.peak_kib = value.parse().ok()?,
                _ => {}
            }
        }
        Some(r)
    }
}

/// Runs every contender in a child, [`Plan::timers_rounds`] times in turns;
/// returns the markdown section.
pub fn run(plan: &Plan) -> String {
    let budget = Budget::new(plan.timers_count);
    let count = budget.count;
    let rounds = plan.timers_rounds;
    let who = Contender::TIMERS;
    let runs = rounds::take_turns(rounds, &who, |round, c| {
        eprint!(
            "timers: {} {count} tasks, run {round}/{rounds} ... ",
            c.key()
        );
        let r = in_child(c, count);
        match &r {
            Ok(r) => eprintln!("{:.2} s, peak RSS {} MiB", r.secs, r.peak_kib / 1024),
            Err(e) => eprintln!("failed: {e}"),
        }
        r
    });
    drop(budget.restore);
    let mut out = format!(
        "### Timers: {} tasks, each sleeping 0–{LONGEST:?} (scattered)\n\n\
         | contender | total time | runs | vs green | over the longest sleep | mean lateness | worst lateness | peak RSS | RSS per task |\n\
         | --- | --: | --: | --: | --: | --: | --: | --: | --: |\n",
        thousands(count as i64)
    );
    let green = who.iter().position(|&c| c == Contender::Green1);
    for (i, c) in who.iter().enumerate() {
        let against = green.filter(|&g| g != i).map(|g| &runs[g]);
        out.push_str(&row(&c.label(), &runs[i], against, count));
    }
    out.push_str(&format!(
        "\nEach run in a fresh child process pinned to CPU 0, {} taken in turns \
         (the order reversed every other round). The row is the contender's run with the \
         median total time; \"runs\" is the range of its total times, and \"vs green\" \
         the median of the rounds' ratios, with the rounds in which it took longer than \
         green. Total time: first spawn to last join. Lateness: wake-up time minus the \
         deadline, per task. RSS per task: (peak `VmHWM` − `VmRSS` before the first \
         spawn) ÷ tasks, task handles included.\n",
        rounds::count(rounds)
    ));
    for note in budget.notes {
        out.push_str(&note);
        out.push('\n');
    }
    out
}

/// One contender's row: its median run, the range of its runs, and its
/// paired ratio to green's runs (`None` when this row is green's).
fn row(name: &str, runs: &Runs<Report>, green: Option<&Runs<Report>>, count: usize) -> String {
    let secs = |r: &Report| r.secs;
    let r = match runs.median(secs) {
        Ok(r) => r,
        Err(e) => return format!("| {name} | failed: {e} | | | | | | | |\n"),
    };
    let range = match runs.range(secs) {
        Some((lo, hi)) if hi > lo => format!("{lo:.2}–{hi:.2} s"),
        _ => format!("{:.2} s", r.secs),
    };
    let vs_green = green.map_or("—".to_string(), |g| {
        format_paired(Paired::of(runs, g, secs))
    });
    let per_task = (r.peak_kib.saturating_sub(r.base_kib) * 1024) as f64 / count as f64;
    format!(
        "| {name} | {:.2} s | {range} | {vs_green} | {:.2} s | {} | {} | {} MiB | {} B |\n",
        r.secs,
        r.secs - LONGEST.as_secs_f64(),
        format_ns(r.late_mean_ns),
        format_ns(r.late_max_ns),
        r.peak_kib / 1024,
        thousands(per_task as i64),
    )
}

fn in_child(who: Contender, count: usize) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--timers", who.key(), &count.to_string()])
        .output()
        .map_err(|e| format!("cannot start child: {e}"))?;
    Report::parse(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rfind(|l| !l.trim().is_empty());
        format!("child {}: {}", out.status, last.unwrap_or("no output"))
    })
}

/// Task `i`'s sleep: splitmix64 of `i`, in microseconds below [`LONGEST`].
fn duration(i: usize) -> Duration {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    Duration::from_micros(z % LONGEST.as_micros() as u64)
}

/// How late `now` is for `due`, in ns.
fn late(due: Instant) -> u64 {
    Instant::now().saturating_duration_since(due).as_nanos() as u64
}

/// The child's entry point: `--timers <contender> <count>`; never returns.
pub fn child_main(args: &[String]) -> ! {
    let (Some(who), Some(count)) = (
        args.first().and_then(|k| Contender::from_key(k)),
        args.get(1).and_then(|c| c.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: green-bench --timers <green-1|tokio-ct|may-1> <count>");
        std::process::exit(2);
    };
    sys::pin_to_cpu(0);
    let base_kib = Memory::now().map_or(0, |m| m.rss / 1024);
    let (elapsed, lateness) = match who {
        Contender::Green1 => green::run(|| {
            let started = Instant::now();
            let handles: Vec<_> = (0..count)
                .map(|i| {
                    green::spawn(move || {
                        let due = Instant::now() + duration(i);
                        green::sleep_until(due);
                        late(due)
                    })
                })
                .collect();
            let lateness: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            (started.elapsed(), lateness)
        }),
        Contender::TokioCt => peers::tokio_runtime().block_on(async move {
            let started = Instant::now();
            let handles: Vec<_> = (0..count)
                .map(|i| {
                    tokio::spawn(async move {
                        let due = Instant::now() + duration(i);
                        tokio::time::sleep_until(due.into()).await;
                        late(due)
                    })
                })
                .collect();
            let mut lateness = Vec::with_capacity(count);
            for h in handles {
                lateness.push(h.await.unwrap());
            }
            (started.elapsed(), lateness)
        }),
        Contender::May1 => {
            peers::may_go(|| ()).join().expect("warm-up coroutine");
            // The spawner is a coroutine on the worker, as green's main
            // greenlet is on its hub and tokio's future in `block_on`: every
            // spawn happens before any sleeper starts. (From the main
            // thread, the worker would run sleepers alongside the spawns,
            // and fewer would be alive at once.)
            peers::may_go(move || {
                let started = Instant::now();
                let handles: Vec<_> = (0..count)
                    .map(|i| {
                        peers::may_go(move || {
                            let due = Instant::now() + duration(i);
                            may::coroutine::sleep(duration(i));
                            late(due)
                        })
                    })
                    .collect();
                let lateness: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
                (started.elapsed(), lateness)
            })
            .join()
            .expect("the spawner coroutine")
        }
        other => {
            eprintln!("--timers: {} has no timers workload", other.key());
            std::process::exit(2);
        }
    };
    let report = Report {
        secs: elapsed.as_secs_f64(),
        late_mean_ns: lateness.iter().sum::<u64>() / lateness.len().max(1) as u64,
        late_max_ns: lateness.iter().copied().max().unwrap_or(0),
        base_kib,
        peak_kib: procfs::peak_rss_kib(std::process::id()).expect("this process's VmHWM"),
    };
    println!("{}", report.line());
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_scattered_below_the_longest() {
        let d: Vec<Duration> = (0..1000).map(duration).collect();
        assert!(d.iter().all(|d| *d < LONGEST));
        assert!(d.iter().any(|d| *d < LONGEST / 10));
        assert!(d.iter().any(|d| *d > LONGEST * 9 / 10));
    }

    #[test]
    fn a_row_is_the_median_run_with_the_range_and_the_paired_ratio() {
        let run = |secs: f64| {
            Ok(Report {
                secs,
                late_mean_ns: 1_000,
                late_max_ns: 2_000_000,
                base_kib: 1_000,
                peak_kib: 1_000 + 4 * 1024,
            })
        };
        let green = Runs::new(vec![run(4.0), run(6.0), run(3.9)]);
        let tokio = Runs::new(vec![run(1.5), run(1.4), run(1.6)]);
        let failed: Runs<Report> = Runs::new(vec![Err("child exit status: 1".into())]);
        // Green's median run is 4.0 s; 4 MiB over 1,024 tasks is 4,096 B each.
        assert_eq!(
            row("green", &green, None, 1024),
            "| green | 4.00 s | 3.90–6.00 s | — | 3.00 s | 1.0 µs | 2.00 ms | 4 MiB | 4,096 B |\n"
        );
        // Tokio against green, round by round: 1.5/4.0, 1.4/6.0, 1.6/3.9.
        assert!(row("tokio", &tokio, Some(&green), 1024)
            .starts_with("| tokio | 1.50 s | 1.40–1.60 s | 0.38× (0/3) | 0.50 s |"));
        assert_eq!(
            row("may", &failed, Some(&green), 1024),
            "| may | failed: child exit status: 1 | | | | | | | |\n"
        );
    }

    #[test]
    fn reports_round_trip() {
        let r = Report {
            secs: 1.5,
            late_mean_ns: 20,
            late_max_ns: 300,
            base_kib: 4,
            peak_kib: 50,
        };
        let back = Report::parse(&r.line()).unwrap();
        assert_eq!((back.late_max_ns, back.peak_kib), (300, 50));
    }
}
