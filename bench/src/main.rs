//! green against its peers, side by side, in one run.
//!
//! ```text
//! cargo run --release -p green-bench              # full run, about eleven minutes
//! cargo run --release -p green-bench -- --quick   # reduced counts, under two minutes
//! cargo run --release -p green-bench -- --only echo,http --plot charts
//! ```
//!
//! Eight workloads, each printed as a markdown table with every figure's
//! ratio to green's (and, for the first three, to the raw `generator`
//! crate's, the floor under any design built on it), plus the figure of the
//! target machine for orientation where issue 7 gives one. Progress goes to
//! stderr, the tables to stdout:
//!
//! 1. **switch** ([`switch`]): one yield between two tasks. Peers: raw
//!    `generator` resume + yield, `may` (one worker), tokio current-thread.
//! 2. **spawn** ([`spawn`]): spawn a task that returns a value and join it,
//!    sequentially and in batches of 1,000. Peers: an unpooled generator,
//!    a re-initialised one, tokio, may.
//! 3. **channel** ([`channel`]): a ping-pong round trip between two tasks
//!    over unbounded and over rendezvous (or one-slot) channels, and with
//!    one side receiving through a select over two channels. Peers: tokio
//!    current-thread, `may` (one worker, unbounded and select only), std
//!    threads pinned to one CPU.
//! 4. **memory** ([`memory`], alias `idle`): resident memory per idle
//!    task with 100,000 tasks, each implementation in a fresh child
//!    process. This may raise `vm.max_map_count` when run as root (and says
//!    so).
//! 5. **scale** ([`scale`]): echo with the clients inside the server's
//!    process, each runtime on one core and on all of them: the scaling of
//!    N hubs, which the load generator's own core hides in 6 and 7 on a
//!    small machine.
//! 6. **timers** ([`timers`]): a million tasks sleeping scattered durations
//!    (green, tokio current_thread, may), each in a child process: total
//!    time, wake-up lateness, peak memory.
//! 7. **echo** ([`echo`]): TCP echo round trips at 100, 1,000 and 10,000
//!    connections for every server contender ([`contender`]): green with
//!    one hub and with N, tokio current_thread and multi_thread, may with
//!    one worker and with N, std threads. Each server runs in a process of
//!    its own ([`serve`]), loaded by one shared epoll load generator
//!    ([`load`]) in another, with p50/p99, both sides' CPU use and the
//!    server's peak memory. This may raise `net.core.somaxconn` when run
//!    as root (and says so).
//! 8. **http** ([`http`]): a keep-alive HTTP/1.1 hello-world per server
//!    contender, loaded the same way, and by `wrk` when it is installed.
//!
//! They run in that order: echo and http last, because std's server at
//! 10,000 connections leaves the kernel tidying up after its threads for
//! ten minutes and more. Run after them (the order until 2026-12-04), the
//! scale rows of a full run came out up to a third lower than on a quiet
//! machine (green's one hub 112k round trips/s at 15:48 that day, 174–185k
//! in runs of their own a quarter hour later; 8% lower in the next full
//! run), and timers varied by half.
//!
//! Timings of workloads 1–4 are the best (and the median) of several runs
//! after a warm-up, measured inside each runtime (runtime creation is left
//! out). Timers (three runs of each contender), scale, echo and http run
//! in rounds, every contender taking a turn in each, and compare
//! contenders round by round ([`rounds`]). Nothing is asserted: the
//! figures are for people. Build with `--release`; a debug build says so
//! at the top of its output.
//!
//! Options: `--only` picks workloads; `--contenders green-1,tokio-ct,…`
//! limits the server workloads to those contenders; `--conns 100,1000`
//! replaces the connection counts; `--plot DIR` writes SVG charts of echo
//! and http (throughput and p99 against the connection count, see
//! [`plot`]). `--child`, `--serve`, `--load`, `--pinned` and `--timers` are
//! the internal entries of the child processes.

mod channel;
mod contender;
mod echo;
mod http;
mod idle;
mod load;
mod memory;
mod net;
mod peers;
mod plot;
mod procfs;
mod protocol;
mod rounds;
mod scale;
mod serve;
mod spawn;
mod switch;
mod sys;
mod table;
mod timers;
mod timing;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use contender::Contender;

/// Iteration counts of one run.
#[derive(Debug)]
pub struct Plan {
    /// Whether this is the reduced `--quick` plan.
    pub quick: bool,
    /// Runs per figure, after one warm-up; the median is reported.
    pub reps: usize,
    /// Yields per task in measurement 1.
    pub switch_iters: u64,
    /// Tasks spawned and joined per run in measurement 2.
    pub spawn_iters: u64,
    /// Round trips per run in measurement 3.
    pub channel_iters: u64,
    /// Idle tasks per process in measurement 4.
    pub idle_count: usize,
    /// Connection counts of the server workloads.
    pub conns: Vec<usize>,
    /// Round trips before each server measurement's window.
    pub net_warmup: Duration,
    /// The measured window of each server measurement.
    pub net_window: Duration,
    /// How long the load generator waits for every connection's first
    /// answer before it gives up on a server.
    pub net_patience: Duration,
    /// Rounds of each server measurement, every contender taking a turn in
    /// each (see [`rounds`]).
    pub net_rounds: usize,
    /// Sleeping tasks in the timers workload.
    pub timers_count: usize,
    /// Runs of each contender in the timers workload, in turns (see
    /// [`rounds`]).
    pub timers_rounds: usize,
}

/// The connection counts of the server workloads, unless `--conns` says.
const CONNS: [usize; 3] = [100, 1_000, 10_000];

impl Plan {
    const FULL: Plan = Plan {
        quick: false,
        reps: 7,
        switch_iters: 1_000_000,
        spawn_iters: 100_000,
        channel_iters: 500_000,
        idle_count: 100_000,
        conns: Vec::new(),
        net_warmup: Duration::from_millis(500),
        net_window: Duration::from_secs(1),
        net_patience: Duration::from_secs(30),
        net_rounds: 5,
        timers_count: 1_000_000,
        timers_rounds: 3,
    };

    const QUICK: Plan = Plan {
        quick: true,
        reps: 3,
        switch_iters: 100_000,
        spawn_iters: 10_000,
        channel_iters: 100_000,
        idle_count: 10_000,
        conns: Vec::new(),
        net_warmup: Duration::from_millis(200),
        net_window: Duration::from_millis(600),
        net_patience: Duration::from_secs(10),
        net_rounds: 1,
        timers_count: 100_000,
        timers_rounds: 1,
    };
}

/// Which measurements to run.
#[derive(Debug, Clone, Copy)]
struct Selection {
    switch: bool,
    spawn: bool,
    channel: bool,
    memory: bool,
    echo: bool,
    http: bool,
    scale: bool,
    timers: bool,
}

const USAGE: &str =
    "usage: green-bench [--quick] [--only switch,spawn,channel,memory|idle,echo,http,scale,timers] \
                     [--contenders green-1,green-n,tokio-ct,tokio-mt,may-1,may-n,std] \
                     [--conns 100,1000,10000] [--plot DIR]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        idle::child_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--serve") {
        serve::child_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--pinned") {
        http::pinned_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--timers") {
        timers::child_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--scale") {
        scale::child_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--load") {
        load::child_main(&args[1..]);
    }
    let mut plan = Plan::FULL;
    let mut conns = CONNS.to_vec();
    let mut selection = Selection {
        switch: true,
        spawn: true,
        channel: true,
        memory: true,
        echo: true,
        http: true,
        scale: true,
        timers: true,
    };
    let mut contenders = Contender::SERVERS.to_vec();
    let mut plot_dir = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => plan = Plan::QUICK,
            "--plot" => match rest.next() {
                Some(dir) => plot_dir = Some(PathBuf::from(dir)),
                None => return usage_error(),
            },
            "--conns" => match rest.next().map(|list| parse_conns(list)) {
                Some(Some(list)) => conns = list,
                _ => return usage_error(),
            },
            "--only" => match rest.next().map(|list| parse_only(list)) {
                Some(Some(only)) => selection = only,
                _ => return usage_error(),
            },
            "--contenders" => match rest.next().map(|list| contender::parse_list(list)) {
                Some(Ok(list)) => contenders = list,
                Some(Err(e)) => {
                    eprintln!("{e}");
                    return usage_error();
                }
                None => return usage_error(),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => return usage_error(),
        }
    }
    plan.conns = conns;
    run(&plan, selection, &contenders, plot_dir.as_deref());
    ExitCode::SUCCESS
}

fn usage_error() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

/// Writes the charts of `sweep` if `--plot` asked for them, and says where.
fn plots(dir: Option<&Path>, sweep: &net::Sweep, unit: &str) {
    let Some(dir) = dir else { return };
    match plot::write(dir, sweep, unit) {
        Ok(paths) => {
            for p in paths {
                println!("Chart: `{}`.", p.display());
            }
            println!();
        }
        Err(e) => eprintln!("--plot: {e}"),
    }
}

/// `100,1000` → those connection counts; `None` if one is not a number.
fn parse_conns(list: &str) -> Option<Vec<usize>> {
    list.split(',').map(|c| c.trim().parse().ok()).collect()
}

/// `switch,memory` → those measurements; `None` for an unknown name.
fn parse_only(list: &str) -> Option<Selection> {
    let mut s = Selection {
        switch: false,
        spawn: false,
        channel: false,
        memory: false,
        echo: false,
        http: false,
        scale: false,
        timers: false,
    };
    for name in list.split(',') {
        match name.trim() {
            "switch" => s.switch = true,
            "spawn" => s.spawn = true,
            "channel" => s.channel = true,
            "memory" | "idle" => s.memory = true,
            "echo" => s.echo = true,
            "http" => s.http = true,
            "scale" => s.scale = true,
            "timers" => s.timers = true,
            _ => return None,
        }
    }
    Some(s)
}

fn run(plan: &Plan, selection: Selection, contenders: &[Contender], plot_dir: Option<&Path>) {
    let started = Instant::now();
    println!("# green-bench\n");
    if cfg!(debug_assertions) {
        println!("**Debug build: these figures mean little. Use `cargo run --release`.**\n");
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "Machine: {cpus} CPU(s), {}. Mode: {}. Load average at start: {}.{}\n",
        procfs::cpu_model().unwrap_or_else(|| "unknown CPU".into()),
        if plan.quick {
            "--quick (reduced counts)"
        } else {
            "full"
        },
        procfs::load_average().map_or("unknown".into(), |l| format!("{l:.2}")),
        procfs::sched_policy().map_or(String::new(), |p| format!(
            " Scheduling policy: {p} (inherited by every child process)."
        )),
    );
    if selection.switch {
        eprintln!("switch: green, generator, may, tokio ...");
        println!("{}", switch::run(plan));
    }
    if selection.spawn {
        eprintln!("spawn: green, generator, tokio, may ...");
        let (sequential, batch) = spawn::run(plan);
        println!("{sequential}");
        println!("{batch}");
    }
    if selection.channel {
        eprintln!("channel: green, tokio, may, std ...");
        let (unbounded, bounded, select) = channel::run(plan);
        println!("{unbounded}");
        println!("{bounded}");
        println!("{select}");
    }
    if selection.memory {
        println!("{}", memory::run(plan));
    }
    if selection.scale {
        println!("{}", scale::run(plan, contenders));
    }
    if selection.timers {
        println!("{}", timers::run(plan));
    }
    if selection.echo {
        let (sweep, text) = echo::run(plan, contenders);
        println!("{text}");
        plots(plot_dir, &sweep, "round trips");
    }
    if selection.http {
        let (sweep, text) = http::run(plan, contenders);
        println!("{text}");
        plots(plot_dir, &sweep, "requests");
    }
    println!("Total time: {:.1} s.", started.elapsed().as_secs_f64());
}
