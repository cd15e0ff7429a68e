//! Timers: a min-heap keyed `(deadline, sequence)`, with lazy cancellation.
//!
//! - Equal deadlines fire in insertion order (the sequence number breaks
//!   ties), so timers keep the run queue's FIFO determinism.
//! - A timer fires only once `Instant::now() >= deadline`: it never fires
//!   early, whatever the poller's rounding.
//! - Cancelling is O(1): the entry stays in the heap and is recognised as
//!   stale when it surfaces. Stale entries are counted, and the heap is
//!   rebuilt without them once they are the majority, so a server that
//!   sets a long read timeout on every wait does not accumulate garbage.
//!
//! Push and pop are O(log n); a million pending timers cost a few dozen bytes
//! each.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Instant;

/// Below this many stale entries the heap is never compacted.
const COMPACT_MIN: usize = 1024;

pub(crate) struct Timers<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    next_seq: u64,
    stale: usize,
}

struct Entry<T> {
    deadline: Instant,
    seq: u64,
    target: T,
    /// The target's park sequence when the timer was set.
    park_seq: u64,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            next_seq: 0,
            stale: 0,
        }
    }
}

impl<T> Timers<T> {
    /// Adds a timer for `target`, valid while its park sequence is `park_seq`.
    pub(crate) fn insert(&mut self, deadline: Instant, target: T, park_seq: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry {
            deadline,
            seq,
            target,
            park_seq,
        }));
    }

    /// Records that one entry became stale; compacts when most are.
    pub(crate) fn cancelled(&mut self, is_live: impl Fn(&T, u64) -> bool) {
        self.stale += 1;
        if self.stale >= COMPACT_MIN && self.stale * 2 >= self.heap.len() {
            self.heap
                .retain(|Reverse(e)| is_live(&e.target, e.park_seq));
            self.stale = 0;
        }
    }

    /// Number of entries that are not known to be stale.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.heap.len().saturating_sub(self.stale)
    }

    /// The earliest deadline among live entries, dropping stale ones on top.
    pub(crate) fn next_deadline(&mut self, is_live: impl Fn(&T, u64) -> bool) -> Option<Instant> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if is_live(&top.target, top.park_seq) {
                return Some(top.deadline);
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
        None
    }

    /// Pops the earliest entry whose deadline is `<= now`, stale or not.
    /// Returns its target, park sequence and whether it was live.
    pub(crate) fn pop_expired(
        &mut self,
        now: Instant,
        is_live: impl Fn(&T, u64) -> bool,
    ) -> Option<(T, u64)> {
        loop {
            let Reverse(top) = self.heap.peek()?;
            if top.deadline > now {
                return None;
            }
            let Reverse(e) = self.heap.pop()?;
            if is_live(&e.target, e.park_seq) {
                return Some((e.target, e.park_seq));
            }
            self.stale = self.stale.saturating_sub(1);
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_deadline_then_insertion_order_and_never_early() {
        let mut t = Timers::default();
        let base = Instant::now();
        t.insert(base + Duration::from_millis(30), "c", 0);
        t.insert(base + Duration::from_millis(10), "a", 0);
        t.insert(base + Duration::from_millis(10), "b", 0);
        let live = |_: &&str, _| true;
        assert_eq!(t.pop_expired(base, live), None);
        assert_eq!(
            t.next_deadline(live),
            Some(base + Duration::from_millis(10))
        );
        let at = base + Duration::from_millis(10);
        assert_eq!(t.pop_expired(at, live), Some(("a", 0)));
        assert_eq!(t.pop_expired(at, live), Some(("b", 0)));
        assert_eq!(t.pop_expired(at, live), None);
        assert_eq!(
            t.pop_expired(base + Duration::from_secs(1), live),
            Some(("c", 0))
        );
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn stale_entries_are_skipped_and_compacted() {
        let mut t = Timers::default();
        let base = Instant::now();
        // target = its own number; live only when even
        let live = |n: &u32, _: u64| n.is_multiple_of(2);
        for n in 0..10_000u32 {
            t.insert(base + Duration::from_micros(u64::from(n)), n, 0);
        }
        for _ in 0..5_000 {
            t.cancelled(live);
        }
        assert!(t.len() <= 5_000, "compaction kept {} entries", t.len());
        assert_eq!(t.live(), 5_000);
        let mut fired = 0;
        while let Some((n, _)) = t.pop_expired(base + Duration::from_secs(1), live) {
            assert!(n.is_multiple_of(2));
            fired += 1;
        }
        assert_eq!(fired, 5_000);
    }

    #[test]
    fn a_million_timers_are_cheap() {
        let mut t = Timers::default();
        let base = Instant::now();
        let n = 1_000_000u64;
        // scattered deadlines: a permutation of 0..n microseconds
        for i in 0..n {
            let us = (i * 7_919) % n;
            t.insert(base + Duration::from_micros(us), us, 0);
        }
        let live = |_: &u64, _| true;
        let mut last = 0;
        let mut count = 0;
        while let Some((us, _)) = t.pop_expired(base + Duration::from_secs(2), live) {
            assert!(us >= last);
            last = us;
            count += 1;
        }
        assert_eq!(count, n);
    }
}
