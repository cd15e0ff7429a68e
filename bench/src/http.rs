//! Workload **http**: a minimal HTTP/1.1 keep-alive hello-world per
//! contender (the same code for all, see
//! [`protocol`](crate::protocol)), loaded by the shared load generator at
//! every connection count, and, when `wrk` is on `PATH`, by
//! `wrk -t1 -c100 --latency` pinned to the load generator's CPU.
//!
//! For `wrk`, the server's CPU time is read before `wrk` starts and after it
//! exits, and `wrk`'s own while it runs; the figure that travels between
//! machines is requests per busy server core.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::contender::Contender;
use crate::net::{self, format_ns, per_core, Server, Sweep};
use crate::protocol::Proto;
use crate::rounds::{self, Paired};
use crate::table::thousands;
use crate::{procfs, sys, Plan};

/// `wrk`'s connections, as in issue 7.
const WRK_CONNS: usize = 100;

/// Runs the sweep and `wrk`; returns the sweep (for the plots) and the
/// markdown sections.
pub fn run(plan: &Plan, contenders: &[Contender]) -> (Sweep, String) {
    let sweep = net::sweep(Proto::Http, plan, contenders);
    let mut text = net::render(
        &sweep,
        &format!(
            "HTTP/1.1 keep-alive hello-world, shared load generator ({:?} window after {:?} \
             warm-up)",
            plan.net_window, plan.net_warmup
        ),
        "requests",
    );
    text.push('\n');
    text.push_str(&wrk_section(plan, contenders));
    (sweep, text)
}

/// What one `wrk` run measured.
#[derive(Clone, Copy, Debug)]
struct WrkRun {
    rate: f64,
    p50_ns: u64,
    p99_ns: u64,
    server_cpu: f64,
    wrk_cpu: f64,
}

fn wrk_section(plan: &Plan, contenders: &[Contender]) -> String {
    let secs = plan.net_window.as_secs().max(1);
    let mut out =
        format!("### HTTP/1.1 keep-alive hello-world, `wrk -t1 -c{WRK_CONNS} -d{secs}s`\n\n");
    if Command::new("wrk").arg("--version").output().is_err() {
        out.push_str("`wrk` is not installed (Debian: `apt-get install wrk`): skipped.\n");
        return out;
    }
    let runs = rounds::take_turns(plan.net_rounds, contenders, |round, who| {
        eprint!(
            "http: {} wrk -c{WRK_CONNS}, run {round}/{} ... ",
            who.key(),
            plan.net_rounds
        );
        let result = wrk(who, secs);
        match &result {
            Ok(run) => eprintln!(
                "{} requests/s, server CPU {:.0}%, wrk CPU {:.0}%",
                thousands(run.rate as i64),
                run.server_cpu * 100.0,
                run.wrk_cpu * 100.0
            ),
            Err(e) => eprintln!("failed: {e}"),
        }
        result
    });
    out.push_str(
        "| contender | requests/s | best | vs green | p50 | p99 | server CPU | wrk CPU | requests/s per busy server core | per busy core vs green | target machine, per busy core |\n\
         | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |\n",
    );
    let green = contenders.iter().position(|&c| c == Contender::Green1);
    for (i, &who) in contenders.iter().enumerate() {
        let name = who.label();
        let run = match runs[i].median(|r| r.rate) {
            Ok(run) => run,
            Err(e) => {
                out.push_str(&format!("| {name} | failed: {e} | | | | | | | | | |\n"));
                continue;
            }
        };
        let vs_green = |figure: fn(&WrkRun) -> f64| match green {
            Some(g) if g != i => net::format_paired(Paired::of(&runs[i], &runs[g], figure)),
            Some(_) => "—".to_string(),
            None => "n/a".to_string(),
        };
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {:.0}% | {:.0}% | {} | {} | {} |\n",
            thousands(run.rate as i64),
            thousands(runs[i].best(|r| r.rate).unwrap_or(0.0) as i64),
            vs_green(|r| r.rate),
            format_ns(run.p50_ns),
            format_ns(run.p99_ns),
            run.server_cpu * 100.0,
            run.wrk_cpu * 100.0,
            per_core(run.rate, run.server_cpu),
            vs_green(|r| if r.server_cpu > 0.05 {
                r.rate / r.server_cpu
            } else {
                0.0
            }),
            who.wrk_reference()
                .map_or(String::new(), |r| thousands(r as i64)),
        ));
    }
    out.push_str(&format!(
        "\n{} of turns, as above: the figures are from each contender's run with \
         the median rate, \"vs green\" is the median ratio of the rounds. `wrk` runs \
         pinned to CPU {} (through this binary's `--pinned`), like the load generator; its \
         CPU is sampled from /proc while it runs.\n",
        rounds::count(plan.net_rounds),
        sys::load_cpu()
    ));
    out
}

/// One `wrk` run against `who`'s server.
fn wrk(who: Contender, secs: u64) -> Result<WrkRun, String> {
    let server = Server::start(Proto::Http, who)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let server_before = procfs::cpu_ticks(server.pid());
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["--pinned", &sys::load_cpu().to_string(), "wrk", "-t1"])
        .arg(format!("-c{WRK_CONNS}"))
        .arg(format!("-d{secs}s"))
        .args(["--latency", &format!("http://{}/", server.addr)])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start wrk: {e}"))?;
    // `--pinned` execs wrk in place, so the child's pid is wrk's; its CPU
    // time can only be read while it runs.
    let mut wrk_ticks = 0;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        wrk_ticks = wrk_ticks.max(procfs::cpu_ticks(child.id()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let server_ticks = procfs::cpu_ticks(server.pid()).saturating_sub(server_before);
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let hz = sys::ticks_per_second();
    let rate = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output: {text:?}"))?;
    if let Some(errors) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        return Err(format!("wrk reported `{}`", errors.trim()));
    }
    Ok(WrkRun {
        rate,
        p50_ns: percentile(&text, "50%").unwrap_or(0),
        p99_ns: percentile(&text, "99%").unwrap_or(0),
        server_cpu: server_ticks as f64 / hz / elapsed,
        wrk_cpu: wrk_ticks as f64 / hz / elapsed,
    })
}

/// A line of wrk's latency distribution (`    99%    1.20ms`), in ns.
fn percentile(text: &str, label: &str) -> Option<u64> {
    let value = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))?
        .trim();
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let number: f64 = value[..split].parse().ok()?;
    let scale = match &value[split..] {
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    Some((number * scale) as u64)
}

/// The entry of `--pinned CPU PROGRAM ARGS…`: pins this process to `CPU`
/// and replaces it with the program (the pinning survives `exec`).
pub fn pinned_main(args: &[String]) -> ! {
    use std::os::unix::process::CommandExt as _;
    let (Some(cpu), Some(program)) = (args.first().and_then(|c| c.parse().ok()), args.get(1))
    else {
        eprintln!("usage: green-bench --pinned <cpu> <program> [args…]");
        std::process::exit(2);
    };
    sys::pin_to_cpu(cpu);
    let e = Command::new(program).args(&args[2..]).exec();
    eprintln!("cannot run {program}: {e}");
    std::process::exit(127);
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn parses_wrk_percentiles() {
        let out = "  Latency Distribution\n     50%  310.00us\n     99%    1.20ms\n";
        assert_eq!(percentile(out, "50%"), Some(310_000));
        assert_eq!(percentile(out, "99%"), Some(1_200_000));
    }
}
