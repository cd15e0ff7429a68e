//! The child side of measurement 4: in a process of its own, start `count`
//! tasks of one implementation that all stay suspended, and report how much
//! resident memory they added.
//!
//! Each workload first warms up (one task started and finished, so lazy
//! one-time setup such as signal stacks, panic hooks and worker threads is
//! not counted), takes a [`Memory`] snapshot, starts `count` tasks while
//! keeping their handles (as a program would), waits until every task has
//! run up to its suspension point, and takes a second snapshot. The child
//! then prints one `RESULT` line and exits at once, without tearing the
//! tasks down: nothing after the second snapshot matters.

use std::hint::black_box;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use generator::{Gn, LocalGenerator};

use crate::peers;
use crate::procfs::Memory;
use crate::table::Kind;

/// How long a sleeping task sleeps: longer than any run of this program.
const LONG: Duration = Duration::from_secs(3600);

/// How long a child waits for its tasks to start before giving up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Tasks that have reached their suspension point (or are about to).
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// One kind of idle task, measured in a child process of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// A greenlet parked in `green::park()`.
    GreenPark,
    /// A greenlet in `green::sleep` (a timer entry as well).
    GreenSleep,
    /// A raw generator suspended in `yield_with`.
    Generator,
    /// A tokio task awaiting `std::future::pending()`.
    TokioPending,
    /// A tokio task awaiting `tokio::time::sleep`.
    TokioSleep,
    /// A may coroutine parked in `may::coroutine::park()`.
    MayPark,
}

impl Idle {
    /// Every workload, in table order.
    pub const ALL: [Idle; 6] = [
        Idle::GreenPark,
        Idle::GreenSleep,
        Idle::Generator,
        Idle::TokioPending,
        Idle::TokioSleep,
        Idle::MayPark,
    ];

    /// The name passed to a child process on its command line.
    pub fn key(self) -> &'static str {
        match self {
            Idle::GreenPark => "green-park",
            Idle::GreenSleep => "green-sleep",
            Idle::Generator => "generator",
            Idle::TokioPending => "tokio-pending",
            Idle::TokioSleep => "tokio-sleep",
            Idle::MayPark => "may-park",
        }
    }

    /// The workload named `key`.
    pub fn from_key(key: &str) -> Option<Idle> {
        Idle::ALL.into_iter().find(|i| i.key() == key)
    }

    /// Row label.
    pub fn label(self) -> &'static str {
        match self {
            Idle::GreenPark => "green, parked",
            Idle::GreenSleep => "green, sleeping",
            Idle::Generator => "generator, suspended",
            Idle::TokioPending => "tokio, pending future",
            Idle::TokioSleep => "tokio, sleeping",
            Idle::MayPark => "may, parked",
        }
    }

    /// Baseline role in the table.
    pub fn kind(self) -> Kind {
        match self {
            Idle::GreenPark | Idle::GreenSleep => Kind::Green,
            Idle::Generator => Kind::Generator,
            _ => Kind::Peer,
        }
    }

    /// What each task does, and on what stack.
    pub fn note(self) -> String {
        let green_stack = green::default_stack_size() / 1024;
        let gen_stack = generator::DEFAULT_STACK_SIZE * std::mem::size_of::<usize>() / 1024;
        match self {
            Idle::GreenPark => format!("`green::park()`, {green_stack} KiB stack"),
            Idle::GreenSleep => format!("`green::sleep(1 h)`, {green_stack} KiB stack"),
            Idle::Generator => format!("one `yield_with`, default {gen_stack} KiB stack"),
            Idle::TokioPending => "`std::future::pending()`".into(),
            Idle::TokioSleep => "`tokio::time::sleep(1 h)`".into(),
            Idle::MayPark => format!(
                "`may::coroutine::park()`, {} KiB stack",
                may::config().get_stack_size() * std::mem::size_of::<usize>() / 1024
            ),
        }
    }

    /// Target-machine figure, where there is one.
    pub fn reference(self) -> Option<f64> {
        match self {
            Idle::Generator => Some(8.3 * 1024.0),
            Idle::TokioPending => Some(464.0),
            Idle::MayPark => Some(8.7 * 1024.0),
            _ => None,
        }
    }
}

/// What a child reports: memory added by `count` idle tasks.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Tasks started.
    pub count: usize,
    /// Growth of `RssAnon`, bytes.
    pub rss_anon: i64,
    /// Growth of `VmRSS`, bytes.
    pub rss: i64,
    /// Growth of `VmPTE` (kernel page tables), bytes.
    pub page_tables: i64,
}

impl Report {
    fn between(count: usize, before: Memory, after: Memory) -> Report {
        let delta = |a: u64, b: u64| a as i64 - b as i64;
        Report {
            count,
            rss_anon: delta(after.rss_anon, before.rss_anon),
            rss: delta(after.rss, before.rss),
            page_tables: delta(after.page_tables, before.page_tables),
        }
    }

    /// The child's output line.
    fn line(&self) -> String {
        format!(
            "RESULT count={} rss_anon={} rss={} page_tables={}",
            self.count, self.rss_anon, self.rss, self.page_tables
        )
    }

    /// Parses the `RESULT` line out of a child's output.
    pub fn parse(output: &str) -> Option<Report> {
        let line = output.lines().find_map(|l| l.strip_prefix("RESULT "))?;
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        };
        Some(Report {
            count: field("count")?.parse().ok()?,
            rss_anon: field("rss_anon")?.parse().ok()?,
            rss: field("rss")?.parse().ok()?,
            page_tables: field("page_tables")?.parse().ok()?,
        })
    }
}

/// Entry point of a child process (`--child <key> <count>`): runs one
/// workload, prints its `RESULT` line and exits.
pub fn child_main(args: &[String]) -> ! {
    let (Some(idle), Some(count)) = (
        args.first().and_then(|k| Idle::from_key(k)),
        args.get(1).and_then(|c| c.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: green-bench --child <workload> <count>");
        std::process::exit(2);
    };
    match idle {
        Idle::GreenPark => green_idle(count, green::park),
        Idle::GreenSleep => green_idle(count, || green::sleep(LONG)),
        Idle::Generator => generator_idle(count),
        Idle::TokioPending => tokio_idle(count, std::future::pending),
        Idle::TokioSleep => tokio_idle(count, || tokio::time::sleep(LONG)),
        Idle::MayPark => may_idle(count),
    }
}

/// Prints the report and exits without tearing anything down.
fn finish(count: usize, before: Memory) -> ! {
    let after = snapshot();
    println!("{}", Report::between(count, before, after).line());
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

fn snapshot() -> Memory {
    Memory::now().unwrap_or_else(|e| {
        eprintln!("cannot read /proc/self/status: {e}");
        std::process::exit(1);
    })
}

/// Waits (with `pause` between looks) until `count` tasks have started.
fn wait_started(count: usize, mut pause: impl FnMut()) {
    let deadline = Instant::now() + START_TIMEOUT;
    while STARTED.load(Ordering::Relaxed) < count {
        if Instant::now() > deadline {
            eprintln!(
                "only {} of {count} tasks started within {START_TIMEOUT:?}",
                STARTED.load(Ordering::Relaxed)
            );
            std::process::exit(1);
        }
        pause();
    }
}

fn green_idle(count: usize, wait: fn()) -> ! {
    green::run(move || {
        green::spawn(|| ()).join().expect("warm-up greenlet");
        let before = snapshot();
        let mut handles = Vec::with_capacity(count);
        for _ in 0..count {
            handles.push(green::spawn(move || {
                STARTED.fetch_add(1, Ordering::Relaxed);
                wait();
            }));
        }
        wait_started(count, green::yield_now);
        black_box(&handles);
        finish(count, before)
    });
    unreachable!("`finish` exits the process")
}

fn generator_idle(count: usize) -> ! {
    let new = || -> LocalGenerator<'static, (), ()> {
        let mut gen = Gn::<()>::new_scoped_local(|mut scope| scope.yield_with(()));
        gen.resume();
        gen
    };
    drop(new()); // warm-up
    let before = snapshot();
    let gens: Vec<_> = (0..count).map(|_| new()).collect();
    black_box(&gens);
    finish(count, before)
}

fn tokio_idle<F>(count: usize, wait: fn() -> F) -> !
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    peers::tokio_runtime().block_on(async move {
        tokio::spawn(async {}).await.expect("warm-up task");
        let before = snapshot();
        let mut handles = Vec::with_capacity(count);
        for _ in 0..count {
            handles.push(tokio::spawn(async move {
                STARTED.fetch_add(1, Ordering::Relaxed);
                wait().await;
            }));
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while STARTED.load(Ordering::Relaxed) < count && Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        wait_started(count, || ()); // reports a timeout, if any
        black_box(&handles);
        finish(count, before)
    });
    unreachable!("`finish` exits the process")
}

fn may_idle(count: usize) -> ! {
    peers::may_go(|| ()).join().expect("warm-up coroutine");
    let before = snapshot();
    let handles: Vec<_> = (0..count)
        .map(|_| {
            peers::may_go(|| {
                STARTED.fetch_add(1, Ordering::Relaxed);
                may::coroutine::park();
            })
        })
        .collect();
    wait_started(count, || std::thread::sleep(Duration::from_millis(1)));
    // The last coroutines counted themselves but may not have parked yet.
    std::thread::sleep(Duration::from_millis(20));
    black_box(&handles);
    finish(count, before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips() {
        let r = Report {
            count: 10,
            rss_anon: 81_920,
            rss: 90_000,
            page_tables: -4096,
        };
        let parsed = Report::parse(&format!("noise\n{}\n", r.line())).unwrap();
        assert_eq!(parsed.count, 10);
        assert_eq!(parsed.rss_anon, 81_920);
        assert_eq!(parsed.rss, 90_000);
        assert_eq!(parsed.page_tables, -4096);
    }

    #[test]
    fn keys_round_trip() {
        for idle in Idle::ALL {
            assert_eq!(Idle::from_key(idle.key()), Some(idle));
        }
    }
}
