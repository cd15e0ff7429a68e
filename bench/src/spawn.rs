//! Measurement 2: spawning a task that returns a value and joining it.
//!
//! Two shapes: *sequential* (spawn one, join it, `n` times) and *batch*
//! (spawn [`BATCH`], then join them all). The raw `generator` baseline is the
//! unpooled one: a fresh generator with a default stack (`mmap`, guard page,
//! first-touch page faults, `munmap`) per task. The re-initialised
//! generator row reuses one finished generator, which is what a stack pool
//! (green's, may's) buys at best.

use std::hint::black_box;
use std::time::{Duration, Instant};

use generator::{Gn, LocalGenerator};

use crate::peers;
use crate::table::{Aim, Kind, Row, Scale, Table, Unit};
use crate::timing::per_op_ns;
use crate::Plan;

/// Tasks per batch in the batch variant.
pub const BATCH: u64 = 1_000;

/// A generator whose body returns a value without ever yielding.
type ValueGen = LocalGenerator<'static, (), u64>;

/// Runs both variants for every implementation: (sequential, batch).
pub fn run(plan: &Plan) -> (Table, Table) {
    let n = plan.spawn_iters;
    let reps = plan.reps;
    let time = |f: fn(u64) -> Duration| per_op_ns(reps, n, || f(n));
    // Rows that cost microseconds per task (an mmap each, or a thread
    // wake-up) run a tenth of the tasks, to keep the whole run near a minute.
    let few = (n / 10).max(BATCH);
    let time_few = |f: fn(u64) -> Duration| per_op_ns(reps, few, || f(few));
    let few_note = format!("; {few} tasks");
    let sequential = vec![
        Row::timed("green spawn + join", Kind::Green, time(green_seq))
            .note("`green::spawn(..).join()`, stacks pooled"),
        Row::timed(
            "generator, unpooled",
            Kind::Generator,
            time_few(generator_seq),
        )
        .reference(5_300.0)
        .note(format!(
            "new `Gn` (default stack), resume to completion, drop{few_note}"
        )),
        Row::timed("generator, re-initialised", Kind::Peer, time(reinit_seq))
            .note("one finished generator: `scoped_init` + resume"),
        Row::timed("tokio spawn + await", Kind::Peer, time(tokio_seq))
            .reference(332.0)
            .note("`tokio::spawn(..).await` in `block_on`"),
        Row::timed(
            "may go! + join, from a coroutine",
            Kind::Peer,
            time(may_seq),
        )
        .note("joiner is a coroutine on the same worker"),
        Row::timed(
            "may go! + join, from the main thread",
            Kind::Peer,
            time_few(may_seq_thread),
        )
        .reference(3_100.0)
        .note(format!(
            "joiner is a thread: cross-thread wake-up{few_note}"
        )),
    ];
    let batch = vec![
        Row::timed("green spawn + join", Kind::Green, time(green_batch)),
        Row::timed(
            "generator, unpooled",
            Kind::Generator,
            time_few(generator_batch),
        )
        .note(format!("{few} tasks")),
        Row::timed("generator, re-initialised", Kind::Peer, time(reinit_batch)),
        Row::timed("tokio spawn + await", Kind::Peer, time(tokio_batch)),
        Row::timed(
            "may go! + join, from a coroutine",
            Kind::Peer,
            time(may_batch),
        ),
        Row::timed(
            "may go! + join, from the main thread",
            Kind::Peer,
            time(may_batch_thread),
        ),
    ];
    // tokio's figure is user-space work only, like green's; the unpooled
    // generator's is mostly mmap and page faults, may's a cross-thread
    // wake-up, which depend on the kernel and the number of cores.
    let scale = sequential
        .iter()
        .find(|r| r.name.starts_with("tokio"))
        .and_then(Scale::from_row);
    let aim = Some(Aim {
        limit: 300.0,
        inclusive: false,
    });
    let footnote = format!("{n} tasks, best of {reps} runs after a warm-up.");
    (
        Table {
            title: "2a. Spawn + join, sequential".into(),
            figure: "ns per spawn+join",
            unit: Unit::Nanos,
            rows: sequential,
            aim,
            scale: scale.clone(),
            footnotes: vec![footnote.clone()],
        },
        Table {
            title: format!("2b. Spawn + join, batches of {BATCH}"),
            figure: "ns per spawn+join",
            unit: Unit::Nanos,
            rows: batch,
            aim,
            scale,
            footnotes: vec![
                format!("Spawn {BATCH} tasks, then join them all; {footnote}"),
                "Reference figures are for the sequential shape only.".into(),
            ],
        },
    )
}

fn green_seq(n: u64) -> Duration {
    green::run(move || {
        let start = Instant::now();
        let mut sum = 0;
        for i in 0..n {
            sum += green::spawn(move || black_box(i)).join().expect("join");
        }
        black_box(sum);
        start.elapsed()
    })
}

fn green_batch(n: u64) -> Duration {
    green::run(move || {
        let start = Instant::now();
        let mut sum = 0;
        let mut handles = Vec::with_capacity(BATCH as usize);
        for first in (0..n).step_by(BATCH as usize) {
            handles
                .extend((first..n.min(first + BATCH)).map(|i| green::spawn(move || black_box(i))));
            for h in handles.drain(..) {
                sum += h.join().expect("join");
            }
        }
        black_box(sum);
        start.elapsed()
    })
}

fn generator_seq(n: u64) -> Duration {
    let start = Instant::now();
    let mut sum = 0;
    for i in 0..n {
        let mut gen: ValueGen = Gn::<()>::new_scoped_local(move |_| black_box(i));
        sum += gen.resume().expect("returned");
    }
    black_box(sum);
    start.elapsed()
}

fn generator_batch(n: u64) -> Duration {
    let start = Instant::now();
    let mut sum = 0;
    let mut gens: Vec<ValueGen> = Vec::with_capacity(BATCH as usize);
    for first in (0..n).step_by(BATCH as usize) {
        gens.extend(
            (first..n.min(first + BATCH))
                .map(|i| Gn::<()>::new_scoped_local(move |_| black_box(i))),
        );
        for mut gen in gens.drain(..) {
            sum += gen.resume().expect("returned");
        }
    }
    black_box(sum);
    start.elapsed()
}

/// A finished generator, ready to be re-initialised.
fn finished() -> ValueGen {
    let mut gen: ValueGen = Gn::<()>::new_scoped_local(|_| 0);
    gen.resume();
    gen
}

fn reinit_seq(n: u64) -> Duration {
    let mut gen = finished();
    let start = Instant::now();
    let mut sum = 0;
    for i in 0..n {
        gen.scoped_init(move |_| black_box(i));
        sum += gen.resume().expect("returned");
    }
    black_box(sum);
    start.elapsed()
}

fn reinit_batch(n: u64) -> Duration {
    let mut gens: Vec<ValueGen> = (0..BATCH).map(|_| finished()).collect();
    let start = Instant::now();
    let mut sum = 0;
    for first in (0..n).step_by(BATCH as usize) {
        let count = (n - first).min(BATCH) as usize;
        for (gen, i) in gens[..count].iter_mut().zip(first..) {
            gen.scoped_init(move |_| black_box(i));
        }
        for gen in &mut gens[..count] {
            sum += gen.resume().expect("returned");
        }
    }
    black_box(sum);
    start.elapsed()
}

fn tokio_seq(n: u64) -> Duration {
    peers::tokio_runtime().block_on(async move {
        let start = Instant::now();
        let mut sum = 0;
        for i in 0..n {
            sum += tokio::spawn(async move { black_box(i) })
                .await
                .expect("join");
        }
        black_box(sum);
        start.elapsed()
    })
}

fn tokio_batch(n: u64) -> Duration {
    peers::tokio_runtime().block_on(async move {
        let start = Instant::now();
        let mut sum = 0;
        let mut handles = Vec::with_capacity(BATCH as usize);
        for first in (0..n).step_by(BATCH as usize) {
            handles.extend(
                (first..n.min(first + BATCH)).map(|i| tokio::spawn(async move { black_box(i) })),
            );
            for h in handles.drain(..) {
                sum += h.await.expect("join");
            }
        }
        black_box(sum);
        start.elapsed()
    })
}

/// Sequential spawn + join, joined from wherever it is called.
fn may_seq_thread(n: u64) -> Duration {
    let start = Instant::now();
    let mut sum = 0;
    for i in 0..n {
        sum += peers::may_go(move || black_box(i)).join().expect("join");
    }
    black_box(sum);
    start.elapsed()
}

/// Batched spawn + join, joined from wherever it is called.
fn may_batch_thread(n: u64) -> Duration {
    let start = Instant::now();
    let mut sum = 0;
    let mut handles = Vec::with_capacity(BATCH as usize);
    for first in (0..n).step_by(BATCH as usize) {
        handles.extend((first..n.min(first + BATCH)).map(|i| peers::may_go(move || black_box(i))));
        for h in handles.drain(..) {
            sum += h.join().expect("join");
        }
    }
    black_box(sum);
    start.elapsed()
}

/// Runs `f` in a `may` coroutine, so that its joins park a coroutine rather
/// than the thread.
fn in_may_coroutine(f: impl FnOnce() -> Duration + Send + 'static) -> Duration {
    peers::may_go(f).join().expect("outer coroutine")
}

fn may_seq(n: u64) -> Duration {
    // The same loop as `may_seq_thread`, run by a coroutine.
    in_may_coroutine(move || may_seq_thread(n))
}

fn may_batch(n: u64) -> Duration {
    // The same loop as `may_batch_thread`, run by a coroutine.
    in_may_coroutine(move || may_batch_thread(n))
}
