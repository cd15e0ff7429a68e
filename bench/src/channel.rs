//! Measurement 3: a channel round trip between two tasks.
//!
//! Ping-pong: task A sends a number on one channel and waits for it on a
//! second; task B receives it and sends it back, `n` times. Each round trip
//! is two sends, two receives and two switches (through the scheduler:
//! green's hub, tokio's run queue, may's worker loop; the kernel's, for std
//! threads). Two tables: over unbounded channels, where a send never waits,
//! and over rendezvous (or one-slot) channels, where it waits for the
//! receiver. A times itself from before it starts B until B's last value is
//! back; every contender runs the same logic.
//!
//! A third table puts a select in the loop: B receives through a select
//! over two unbounded channels, the ping channel first and an idle one that
//! never carries a value second, then sends the value back with a plain
//! send. B is nearly always waiting when A sends, so each round trip is one
//! select that registers on both channels, blocks, is woken by A's send and
//! withdraws from the idle channel: the cost of a blocking select, not only
//! of its fast path. tokio's is `tokio::select!` with `biased;` (the first
//! ready branch wins, as in green's `Select`); may's is `may::select!`,
//! which runs each branch in a coroutine of its own, spawned per select,
//! and cancels the losers.
//!
//! std's two threads are pinned to one CPU, the same single core as the
//! others use: across two cores its wake-ups would race spinning peers
//! instead of switching.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use crate::peers;
use crate::sys;
use crate::table::{thousands, Kind, Row, Table, Unit};
use crate::timing::interleaved;
use crate::Plan;

/// Runs every implementation and returns the three tables: unbounded,
/// rendezvous / one slot, and through a select.
pub fn run(plan: &Plan) -> (Table, Table, Table) {
    let n = plan.channel_iters;
    // A kernel context switch costs microseconds: std's threads make a
    // twentieth of the round trips, to keep the run short.
    let few = (n / 20).max(1_000);
    let [green_unbounded, tokio_unbounded, may_unbounded, std_unbounded, green_rendezvous, green_one, tokio_one, std_rendezvous, green_select, tokio_select, may_select] =
        interleaved(
            plan.reps,
            &mut [
                (n, &mut || green(n, green::channel::unbounded)),
                (n, &mut || tokio_unbounded(n)),
                (n, &mut || may(n)),
                (few, &mut || std_threads(few, std_mpsc::channel)),
                (n, &mut || green(n, green::channel::channel)),
                (n, &mut || green(n, || green::channel::bounded(1))),
                (n, &mut || tokio_bounded(n)),
                (few, &mut || std_threads(few, || std_mpsc::sync_channel(0))),
                (n, &mut || green_select(n)),
                (n, &mut || tokio_select(n)),
                (n, &mut || may_select(n)),
            ],
        )
        .try_into()
        .expect("one sample per contender");
    let tokio_note = "two tasks, current-thread runtime without drivers (its fastest)";
    let std_note = format!(
        "two threads pinned to one CPU; {} round trips",
        thousands(few as i64)
    );
    let unbounded = vec![
        Row::timed("green `unbounded()`", Kind::Green, green_unbounded)
            .note("two greenlets, one hub"),
        Row::timed(
            "tokio `mpsc::unbounded_channel`",
            Kind::Peer,
            tokio_unbounded,
        )
        .note(tokio_note),
        Row::timed("may `sync::mpsc::channel`", Kind::Peer, may_unbounded)
            .note("two coroutines, 1 worker thread"),
        Row::timed("std `mpsc::channel`", Kind::Peer, std_unbounded).note(std_note.clone()),
    ];
    let bounded = vec![
        Row::timed(
            "green `channel()` (rendezvous)",
            Kind::Green,
            green_rendezvous,
        )
        .note("two greenlets, one hub; `bounded(0)`"),
        Row::timed("green `bounded(1)`", Kind::Peer, green_one).note("two greenlets, one hub"),
        Row::timed("tokio `mpsc::channel(1)`", Kind::Peer, tokio_one).note(tokio_note),
        Row::timed("std `mpsc::sync_channel(0)`", Kind::Peer, std_rendezvous).note(std_note),
    ];
    let select = vec![
        Row::timed("green `Select`", Kind::Green, green_select)
            .note("two greenlets, one hub; `unbounded()`"),
        Row::timed("tokio `select!`", Kind::Peer, tokio_select)
            .note("`biased;`, two `unbounded_channel` receivers; two tasks, current-thread runtime without drivers"),
        Row::timed("may `select!`", Kind::Peer, may_select)
            .note("two coroutines, 1 worker thread; a coroutine per branch per select"),
    ];
    let footnote = format!(
        "{} round trips, best and median of {} runs after a warm-up; the \
         contenders' runs take turns. may has no bounded channel.",
        thousands(n as i64),
        plan.reps
    );
    let table = |title: &str, rows| Table {
        title: title.into(),
        figure: "ns per round trip",
        unit: Unit::Nanos,
        rows,
        aim: None,
        scale: None,
        footnotes: vec![footnote.clone()],
    };
    let mut select = table(
        "3c. Channel ping-pong, B receiving through a select over two channels",
        select,
    );
    select.footnotes.push(
        "B selects over the ping channel (added first) and an idle one, then \
         sends back with a plain send; it is waiting when A sends, so each \
         round trip is one blocking select."
            .into(),
    );
    (
        table("3a. Channel ping-pong, unbounded", unbounded),
        table("3b. Channel ping-pong, rendezvous or one slot", bounded),
        select,
    )
}

type GreenPair = (green::channel::Sender<u64>, green::channel::Receiver<u64>);

fn green(n: u64, make: fn() -> GreenPair) -> Duration {
    green_with(n, make, |rx| rx.recv().expect("ping"))
}

/// A sends `n` values one at a time over a channel from `make`, and B,
/// another greenlet of the hub, takes each with `take` and sends it back.
fn green_with(
    n: u64,
    make: fn() -> GreenPair,
    take: impl Fn(&green::channel::Receiver<u64>) -> u64 + 'static,
) -> Duration {
    green::run(move || {
        let (ping_tx, ping_rx) = make();
        let (pong_tx, pong_rx) = make();
        let start = Instant::now();
        let b = green::spawn(move || {
            for _ in 0..n {
                pong_tx.send(take(&ping_rx)).expect("pong");
            }
        });
        for i in 0..n {
            ping_tx.send(i).expect("ping");
            pong_rx.recv().expect("pong");
        }
        let elapsed = start.elapsed();
        b.join().expect("greenlet b");
        elapsed
    })
}

fn tokio_unbounded(n: u64) -> Duration {
    peers::tokio_runtime_bare().block_on(async move {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel();
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel();
        let start = Instant::now();
        let b = tokio::spawn(async move {
            for _ in 0..n {
                let v = ping_rx.recv().await.expect("ping");
                pong_tx.send(v).expect("pong");
            }
        });
        for i in 0..n {
            ping_tx.send(i).expect("ping");
            pong_rx.recv().await.expect("pong");
        }
        let elapsed = start.elapsed();
        b.await.expect("task b");
        elapsed
    })
}

fn tokio_bounded(n: u64) -> Duration {
    peers::tokio_runtime_bare().block_on(async move {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel(1);
        let start = Instant::now();
        let b = tokio::spawn(async move {
            for _ in 0..n {
                let v = ping_rx.recv().await.expect("ping");
                pong_tx.send(v).await.expect("pong");
            }
        });
        for i in 0..n {
            ping_tx.send(i).await.expect("ping");
            pong_rx.recv().await.expect("pong");
        }
        let elapsed = start.elapsed();
        b.await.expect("task b");
        elapsed
    })
}

fn may(n: u64) -> Duration {
    // A is a coroutine too, so that no round trip wakes a thread.
    let a = peers::may_go(move || {
        let (ping_tx, ping_rx) = may::sync::mpsc::channel();
        let (pong_tx, pong_rx) = may::sync::mpsc::channel();
        let start = Instant::now();
        let b = peers::may_go(move || {
            for _ in 0..n {
                let v = ping_rx.recv().expect("ping");
                pong_tx.send(v).expect("pong");
            }
        });
        for i in 0..n {
            ping_tx.send(i).expect("ping");
            pong_rx.recv().expect("pong");
        }
        let elapsed = start.elapsed();
        b.join().expect("coroutine b");
        elapsed
    });
    a.join().expect("coroutine a")
}

/// [`green()`] over unbounded channels, B receiving through a [`Select`]
/// over the ping channel and an idle one.
///
/// [`Select`]: green::channel::Select
fn green_select(n: u64) -> Duration {
    let (_idle_tx, idle_rx) = green::channel::unbounded::<u64>();
    green_with(n, green::channel::unbounded, move |ping_rx| {
        green::channel::Select::new()
            .recv(ping_rx, |v| v.expect("ping"))
            .recv(&idle_rx, |_| unreachable!("the idle channel"))
            .wait()
    })
}

/// [`tokio_unbounded`], B receiving through `tokio::select!`.
fn tokio_select(n: u64) -> Duration {
    peers::tokio_runtime_bare().block_on(async move {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel();
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel();
        let (_idle_tx, mut idle_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let start = Instant::now();
        let b = tokio::spawn(async move {
            for _ in 0..n {
                let v = tokio::select! {
                    biased;
                    v = ping_rx.recv() => v.expect("ping"),
                    _ = idle_rx.recv() => unreachable!("the idle channel"),
                };
                pong_tx.send(v).expect("pong");
            }
        });
        for i in 0..n {
            ping_tx.send(i).expect("ping");
            pong_rx.recv().await.expect("pong");
        }
        let elapsed = start.elapsed();
        b.await.expect("task b");
        elapsed
    })
}

/// [`may()`], B receiving through `may::select!`.
fn may_select(n: u64) -> Duration {
    let a = peers::may_go(move || {
        let (ping_tx, ping_rx) = may::sync::mpsc::channel();
        let (pong_tx, pong_rx) = may::sync::mpsc::channel();
        let (_idle_tx, idle_rx) = may::sync::mpsc::channel::<u64>();
        let start = Instant::now();
        let b = peers::may_go(move || {
            for _ in 0..n {
                let mut got = None;
                // A branch's body runs in that branch's coroutine, scoped to
                // the select: it may borrow `got`. (The macro spawns with
                // may's safe `Cqueue::add`, inside an `unsafe` of its own.)
                may::select!(
                    v = ping_rx.recv() => got = Some(v.expect("ping")),
                    _ = idle_rx.recv() => unreachable!("the idle channel")
                );
                pong_tx
                    .send(got.expect("the ping branch won"))
                    .expect("pong");
            }
        });
        for i in 0..n {
            ping_tx.send(i).expect("ping");
            pong_rx.recv().expect("pong");
        }
        let elapsed = start.elapsed();
        b.join().expect("coroutine b");
        elapsed
    });
    a.join().expect("coroutine a")
}

/// The ends of a std channel, either flavour.
trait StdSender: Send + 'static {
    fn put(&self, v: u64);
}

impl StdSender for std_mpsc::Sender<u64> {
    fn put(&self, v: u64) {
        self.send(v).expect("send");
    }
}

impl StdSender for std_mpsc::SyncSender<u64> {
    fn put(&self, v: u64) {
        self.send(v).expect("send");
    }
}

fn std_threads<S: StdSender>(n: u64, make: fn() -> (S, std_mpsc::Receiver<u64>)) -> Duration {
    let (ping_tx, ping_rx) = make();
    let (pong_tx, pong_rx) = make();
    let a = std::thread::spawn(move || {
        sys::pin_to_cpu(0);
        let start = Instant::now();
        let b = std::thread::spawn(move || {
            for _ in 0..n {
                let v = ping_rx.recv().expect("ping");
                pong_tx.put(v);
            }
        });
        for i in 0..n {
            ping_tx.put(i);
            pong_rx.recv().expect("pong");
        }
        let elapsed = start.elapsed();
        b.join().expect("thread b");
        elapsed
    });
    a.join().expect("thread a")
}
