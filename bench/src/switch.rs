//! Measurement 1: the cost of one yield between two tasks.
//!
//! Two tasks each yield `n` times in a loop, so `2n` yields hand control
//! from one to the other (through the scheduler: green's hub, may's worker
//! loop, tokio's run queue). The raw `generator` row is the floor under all
//! stackful designs: one `resume` into a generator and its `yield_with`
//! back, the same two stack switches a green yield makes (greenlet → hub →
//! greenlet), with no scheduler at all.

use std::hint::black_box;
use std::time::{Duration, Instant};

use generator::Gn;

use crate::peers;
use crate::table::{Aim, Kind, Row, Scale, Table, Unit};
use crate::timing::interleaved;
use crate::Plan;

/// Runs every implementation and returns the table.
pub fn run(plan: &Plan) -> Table {
    let n = plan.switch_iters;
    // The contenders take turns (see `interleaved`): the ratio to the raw
    // generator is the aim, and a slow spell must not fall on one side.
    let [green_ns, generator_ns, may_ns, tokio_ns, tokio_bare_ns] = interleaved(
        plan.reps,
        &mut [
            (2 * n, &mut || green(n)),
            (n, &mut || generator(n)),
            (2 * n, &mut || may(n)),
            (2 * n, &mut || tokio(n)),
            (2 * n, &mut || tokio_bare(n)),
        ],
    )
    .try_into()
    .expect("one sample per contender");
    let rows = vec![
        Row::timed("green `yield_now`", Kind::Green, green_ns)
            .note("two greenlets, each `green::yield_now()` in a loop"),
        Row::timed("generator resume + yield", Kind::Generator, generator_ns)
            .reference(7.5)
            .note("`LocalGenerator::resume` ↔ `Scope::yield_with`, no scheduler"),
        Row::timed("may `yield_now`", Kind::Peer, may_ns)
            .reference(53.0)
            .note("two coroutines, 1 worker thread"),
        Row::timed("tokio `yield_now`", Kind::Peer, tokio_ns)
            .reference(72.0)
            .note("two tasks, current-thread runtime, timer enabled"),
        Row::timed("tokio `yield_now`, no timer", Kind::Peer, tokio_bare_ns)
            .note("same, runtime built without `enable_time`"),
    ];
    // The raw generator is the purest CPU figure: no scheduler, no syscall.
    let scale = rows
        .iter()
        .find(|r| r.kind == Kind::Generator)
        .and_then(Scale::from_row);
    Table {
        scale,
        title: "1. One yield between two tasks".into(),
        figure: "ns per switch",
        unit: Unit::Nanos,
        rows,
        aim: Some(Aim {
            limit: 15.0,
            inclusive: false,
        }),
        footnotes: vec![format!(
            "{n} yields per task (2 tasks), best of {} runs after a warm-up; the \
             contenders' runs take turns.",
            plan.reps
        )],
    }
}

fn green(n: u64) -> Duration {
    green::run(move || {
        let start = Instant::now();
        let a = green::spawn(move || (0..n).for_each(|_| green::yield_now()));
        let b = green::spawn(move || (0..n).for_each(|_| green::yield_now()));
        a.join().expect("greenlet a");
        b.join().expect("greenlet b");
        start.elapsed()
    })
}

fn generator(n: u64) -> Duration {
    let mut gen = Gn::<()>::new_scoped_local(move |mut scope| {
        for _ in 0..n {
            scope.yield_with(());
        }
    });
    let start = Instant::now();
    for _ in 0..n {
        black_box(gen.resume());
    }
    let elapsed = start.elapsed();
    gen.resume(); // let the body return, so the drop does not unwind it
    assert!(gen.is_done());
    elapsed
}

fn may(n: u64) -> Duration {
    peers::may_setup();
    let start = Instant::now();
    let a = peers::may_go(move || (0..n).for_each(|_| may::coroutine::yield_now()));
    let b = peers::may_go(move || (0..n).for_each(|_| may::coroutine::yield_now()));
    a.join().expect("coroutine a");
    b.join().expect("coroutine b");
    start.elapsed()
}

fn tokio(n: u64) -> Duration {
    tokio_on(peers::tokio_runtime(), n)
}

fn tokio_bare(n: u64) -> Duration {
    tokio_on(peers::tokio_runtime_bare(), n)
}

fn tokio_on(rt: tokio::runtime::Runtime, n: u64) -> Duration {
    rt.block_on(async move {
        let start = Instant::now();
        let task = move || async move {
            for _ in 0..n {
                tokio::task::yield_now().await;
            }
        };
        let a = tokio::spawn(task());
        let b = tokio::spawn(task());
        a.await.expect("task a");
        b.await.expect("task b");
        start.elapsed()
    })
}
