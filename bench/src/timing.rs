//! Repeated timing: one warm-up run, then the best and the median of
//! several; for figures compared as ratios, the contenders' runs take turns
//! ([`interleaved`]).
//!
//! Every benchmark body times itself (`Instant` around the measured loop
//! only), so building a runtime or a hub is left out of the figure. The
//! tables show the best run: on a machine shared with other work (builds,
//! tests), interference only ever adds time, so the minimum is the most
//! repeatable figure; the median is shown next to it.

use std::time::Duration;

/// Nanoseconds per operation over several runs.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// The fastest run.
    pub best: f64,
    /// The median run.
    pub median: f64,
}

/// Runs `run` once to warm up (fill stack pools, fault pages in, start
/// worker threads), then `reps` times, and returns the cost of one operation
/// in nanoseconds. `run` performs `ops` operations and returns how long they
/// took.
pub fn per_op_ns(reps: usize, ops: u64, mut run: impl FnMut() -> Duration) -> Sample {
    interleaved(reps, &mut [(ops, &mut run)])[0]
}

/// [`per_op_ns`] for several contenders whose figures are compared with
/// each other: after one warm-up run each, they run in turns, round after
/// round, so a slow spell of the machine (this VM's figures move by 40%
/// between minutes) falls on all of them instead of on whichever happened
/// to be running. Each entry is the number of operations a run performs
/// and the run; the samples come back in the same order.
pub fn interleaved(
    reps: usize,
    contenders: &mut [(u64, &mut dyn FnMut() -> Duration)],
) -> Vec<Sample> {
    for (_, run) in contenders.iter_mut() {
        let _warm_up = run();
    }
    let mut samples = vec![Vec::with_capacity(reps); contenders.len()];
    for _ in 0..reps.max(1) {
        for ((ops, run), times) in contenders.iter_mut().zip(&mut samples) {
            times.push(run().as_nanos() as f64 / *ops as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut times| {
            times.sort_by(f64::total_cmp);
            Sample {
                best: times[0],
                median: times[times.len() / 2],
            }
        })
        .collect()
}
