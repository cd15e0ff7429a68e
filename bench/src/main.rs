//! green against its peers, side by side, in one run.
//!
//! ```text
//! cargo run --release -p green-bench              # full run, about a minute
//! cargo run --release -p green-bench -- --quick   # reduced counts, a few seconds
//! cargo run --release -p green-bench -- --only switch,spawn
//! ```
//!
//! Four measurements, each printed as a markdown table with every figure's
//! ratio to green's and to the raw `generator` crate's (the floor under any
//! design built on it), plus the figure of the target machine for
//! orientation:
//!
//! 1. **switch** ([`switch`]): one yield between two tasks. Peers: raw
//!    `generator` resume + yield, `may` (one worker), tokio current-thread.
//! 2. **spawn** ([`spawn`]): spawn a task that returns a value and join it,
//!    sequentially and in batches of 1,000. Peers: an unpooled generator,
//!    a re-initialised one, tokio, may.
//! 3. **memory** ([`memory`]): resident memory per idle task with 100,000
//!    tasks, each implementation in a fresh child process. This may raise
//!    `vm.max_map_count` when run as root (and says so).
//!
//! 4. **echo** ([`echo`]): TCP echo round trips at 100 and 1,000
//!    connections, green (one hub) against a thread-per-connection std
//!    server, each in its own process, with p50/p99 and CPU use.
//!
//! Timings are the best (and the median) of several runs after a warm-up,
//! measured inside each runtime (runtime creation is left out). Nothing is
//! asserted: the figures are for people. Build with `--release`; a debug
//! build says so at the top of its output.
//!
//! `--child <workload> <count>` is the internal entry of the memory
//! measurement's child processes.

mod echo;
mod idle;
mod memory;
mod peers;
mod procfs;
mod spawn;
mod switch;
mod table;
mod timing;

use std::process::ExitCode;
use std::time::Instant;

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
    /// Idle tasks per process in measurement 3.
    pub idle_count: usize,
}

impl Plan {
    const FULL: Plan = Plan {
        quick: false,
        reps: 7,
        switch_iters: 1_000_000,
        spawn_iters: 100_000,
        idle_count: 100_000,
    };

    const QUICK: Plan = Plan {
        quick: true,
        reps: 3,
        switch_iters: 100_000,
        spawn_iters: 10_000,
        idle_count: 10_000,
    };
}

/// Which measurements to run.
#[derive(Debug, Clone, Copy)]
struct Selection {
    switch: bool,
    spawn: bool,
    memory: bool,
    echo: bool,
}

const USAGE: &str = "usage: green-bench [--quick] [--only switch,spawn,memory,echo]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        idle::child_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--serve-echo") {
        echo::child_main(&args[1..]);
    }
    let mut plan = &Plan::FULL;
    let mut selection = Selection {
        switch: true,
        spawn: true,
        memory: true,
        echo: true,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => plan = &Plan::QUICK,
            "--only" => match rest.next().map(|list| parse_only(list)) {
                Some(Some(only)) => selection = only,
                _ => return usage_error(),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => return usage_error(),
        }
    }
    run(plan, selection);
    ExitCode::SUCCESS
}

fn usage_error() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

/// `switch,memory` → those measurements; `None` for an unknown name.
fn parse_only(list: &str) -> Option<Selection> {
    let mut s = Selection {
        switch: false,
        spawn: false,
        memory: false,
        echo: false,
    };
    for name in list.split(',') {
        match name.trim() {
            "switch" => s.switch = true,
            "spawn" => s.spawn = true,
            "memory" => s.memory = true,
            "echo" => s.echo = true,
            _ => return None,
        }
    }
    Some(s)
}

fn run(plan: &Plan, selection: Selection) {
    let started = Instant::now();
    println!("# green-bench\n");
    if cfg!(debug_assertions) {
        println!("**Debug build: these figures mean little. Use `cargo run --release`.**\n");
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "Machine: {cpus} CPU(s), {}. Mode: {}.\n",
        procfs::cpu_model().unwrap_or_else(|| "unknown CPU".into()),
        if plan.quick {
            "--quick (reduced counts)"
        } else {
            "full"
        },
    );
    if selection.switch {
        println!("{}", switch::run(plan));
    }
    if selection.spawn {
        let (sequential, batch) = spawn::run(plan);
        println!("{sequential}");
        println!("{batch}");
    }
    if selection.memory {
        println!("{}", memory::run(plan));
    }
    if selection.echo {
        println!("{}", echo::run(plan));
    }
    println!("Total time: {:.1} s.", started.elapsed().as_secs_f64());
}
