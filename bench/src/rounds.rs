//! Rounds of measurements in which every contender takes a turn, and the
//! statistics that survive a noisy machine: each contender's median run,
//! and its ratio to green taken round by round.
//!
//! On a shared VM the same server's rate drifts by a third and more from one
//! minute to the next, far more than the gaps between contenders. A best or
//! a median of each contender's runs compares runs taken minutes apart. The
//! ratio of two runs of one round compares runs taken seconds apart, which
//! the drift hits alike; its median over the rounds is the figure the aims
//! are judged on, next to how many rounds green won.

/// Every run of one contender, in round order (an error where a run failed).
#[derive(Clone, Debug)]
pub struct Runs<T> {
    runs: Vec<Result<T, String>>,
}

impl<T> Runs<T> {
    /// The runs, one per round.
    pub fn new(runs: Vec<Result<T, String>>) -> Runs<T> {
        Runs { runs }
    }

    /// The run with the median `rate` among those that succeeded (the
    /// lower of the two middle ones when their number is even); the first
    /// error if none did.
    pub fn median(&self, rate: impl Fn(&T) -> f64) -> Result<&T, String> {
        let mut ok: Vec<&T> = self.runs.iter().filter_map(|r| r.as_ref().ok()).collect();
        if ok.is_empty() {
            return Err(self
                .runs
                .iter()
                .find_map(|r| r.as_ref().err().cloned())
                .unwrap_or_else(|| "not run".to_string()));
        }
        ok.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
        Ok(ok[(ok.len() - 1) / 2])
    }

    /// The median of `figure` over the runs that succeeded (the mean of the
    /// two middle ones when their number is even).
    pub fn median_of(&self, figure: impl Fn(&T) -> f64) -> Option<f64> {
        let mut all: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(figure)
            .collect();
        (!all.is_empty()).then(|| median(&mut all))
    }

    /// The first failed run: its round (from 1) and error.
    pub fn first_failure(&self) -> Option<(usize, &str)> {
        self.runs
            .iter()
            .enumerate()
            .find_map(|(i, r)| r.as_ref().err().map(|e| (i + 1, e.as_str())))
    }

    /// The lowest and the highest `figure` of the runs that succeeded.
    pub fn range(&self, figure: impl Fn(&T) -> f64) -> Option<(f64, f64)> {
        let ok = self.runs.iter().filter_map(|r| r.as_ref().ok()).map(figure);
        ok.fold(None, |acc, x| match acc {
            None => Some((x, x)),
            Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
        })
    }

    /// The highest `rate` of the runs that succeeded.
    pub fn best(&self, rate: impl Fn(&T) -> f64) -> Option<f64> {
        self.range(rate).map(|(_, highest)| highest)
    }
}

/// The ratio of one figure of two contenders, taken round by round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Paired {
    /// The median of the rounds' ratios (the mean of the two middle ones
    /// when their number is even).
    pub ratio: f64,
    /// Rounds in which both runs succeeded.
    pub rounds: usize,
    /// Of those, the rounds whose ratio is above 1.
    pub above: usize,
    /// And those whose ratio is below 1 (ties count in neither).
    pub below: usize,
}

impl Paired {
    /// `figure(a) / figure(b)` in every round where both runs succeeded;
    /// `None` if there is no such round or a `b` figure is not positive.
    pub fn of<T>(a: &Runs<T>, b: &Runs<T>, figure: impl Fn(&T) -> f64) -> Option<Paired> {
        let mut ratios = ratios(a, b, figure)?;
        Some(Paired {
            ratio: median(&mut ratios),
            rounds: ratios.len(),
            above: ratios.iter().filter(|&&r| r > 1.0).count(),
            below: ratios.iter().filter(|&&r| r < 1.0).count(),
        })
    }
}

/// The median of `values` (not empty), which it sorts: the mean of the two
/// middle ones when their number is even.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// "1 round", "5 rounds".
pub fn count(rounds: usize) -> String {
    match rounds {
        1 => "1 round".to_string(),
        n => format!("{n} rounds"),
    }
}

/// `figure(a) / figure(b)` in every round where both runs succeeded, in
/// round order; `None` if there is no such round or a `b` figure is not
/// positive.
pub fn ratios<T>(a: &Runs<T>, b: &Runs<T>, figure: impl Fn(&T) -> f64) -> Option<Vec<f64>> {
    let mut ratios = Vec::new();
    for (a, b) in a.runs.iter().zip(&b.runs) {
        if let (Ok(a), Ok(b)) = (a, b) {
            let base = figure(b);
            if base <= 0.0 {
                return None;
            }
            ratios.push(figure(a) / base);
        }
    }
    (!ratios.is_empty()).then_some(ratios)
}

/// Measures every contender `rounds` times, one round after another, each
/// round giving every contender one turn: in the given order in odd rounds
/// and reversed in even ones, so that no contender always goes first
/// (`measure` gets the round, from 1, and the contender). A contender whose
/// run failed is not measured again; its later rounds repeat the error.
/// Returns every contender's runs, in the order of `contenders`.
pub fn take_turns<C: Copy, T>(
    rounds: usize,
    contenders: &[C],
    mut measure: impl FnMut(usize, C) -> Result<T, String>,
) -> Vec<Runs<T>> {
    let mut runs: Vec<Vec<Result<T, String>>> = contenders.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        let mut order: Vec<usize> = (0..contenders.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for i in order {
            // A contender that failed is not tried again: its failures are
            // structural (a server that cannot take the load), and each can
            // take the load generator's whole patience.
            let result = match runs[i].iter().find_map(|r| r.as_ref().err()) {
                Some(e) => Err(e.clone()),
                None => measure(round, contenders[i]),
            };
            runs[i].push(result);
        }
    }
    runs.into_iter().map(Runs::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contender::Contender;

    #[test]
    fn turns_alternate_and_keep_every_run() {
        let who = [Contender::Green1, Contender::TokioCt, Contender::May1];
        let mut order = Vec::new();
        let runs = take_turns(3, &who, |round, c| {
            order.push((round, c));
            match c {
                Contender::Green1 => Ok([5.0, 9.0, 7.0][round - 1]),
                Contender::TokioCt => Ok([6.0, 8.0, 8.0][round - 1]),
                _ => Err(format!("failed in round {round}")),
            }
        });
        // May failed in round 1 and is not run again.
        let expected: Vec<_> = [(1, 0), (1, 1), (1, 2), (2, 1), (2, 0)]
            .into_iter()
            .chain([(3, 0), (3, 1)])
            .map(|(r, i)| (r, who[i]))
            .collect();
        assert_eq!(order, expected);
        assert_eq!(runs[0].median(|&r| r), Ok(&7.0));
        assert_eq!(runs[0].best(|&r| r), Some(9.0));
        assert_eq!(runs[0].range(|&r| r), Some((5.0, 9.0)));
        assert_eq!(runs[2].range(|&r| r), None);
        assert_eq!(runs[2].median(|&r| r), Err("failed in round 1".into()));
        // Tokio against green, round by round: 6/5, 8/9, 8/7.
        let paired = Paired::of(&runs[1], &runs[0], |&r| r).unwrap();
        assert_eq!(
            (paired.ratio, paired.rounds, paired.above),
            (8.0 / 7.0, 3, 2)
        );
        assert_eq!(Paired::of(&runs[2], &runs[0], |&r| r), None);
    }

    #[test]
    fn pairs_only_rounds_where_both_ran() {
        let a = Runs::new(vec![Ok(2.0), Err("x".into()), Ok(3.0), Ok(1.0)]);
        let b = Runs::new(vec![Ok(1.0), Ok(1.0), Err("y".into()), Ok(2.0)]);
        // Rounds 1 and 4: ratios 2 and 0.5; the median of two is their mean.
        let paired = Paired::of(&a, &b, |&r| r).unwrap();
        assert_eq!((paired.ratio, paired.rounds, paired.above), (1.25, 2, 1));
        let tie = Paired::of(&a, &a, |&r| r).unwrap();
        assert_eq!((tie.above, tie.below), (0, 0));
        // The median of the three runs that succeeded (2, 3 and 1).
        assert_eq!(a.median(|&r| r), Ok(&2.0));
        assert_eq!(b.median_of(|&r| r), Some(1.0));
        assert_eq!(a.median_of(|&r| r * 2.0), Some(4.0));
        let zero = Runs::new(vec![Ok(0.0)]);
        assert_eq!(Paired::of(&a, &zero, |&r| r), None);
    }
}
