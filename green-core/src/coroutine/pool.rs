//! A per-thread pool of finished coroutines, so that a spawn reuses a
//! coroutine whole instead of building one on a stack from the thread's
//! slabs ([`slab`]).
//!
//! Only the default stack size is pooled; other sizes are rare enough that
//! keeping them would mostly hold memory, and generator maps them itself.
//!
//! - **Hot**: the first [`MAX_POOLED`] finished coroutines are kept whole,
//!   generator and touched pages included. Reusing one re-initialises its
//!   generator: no system call, no page fault.
//! - Beyond those, a finished coroutine's generator is dropped and its stack
//!   goes back to its slab, its pages discarded (`MADV_DONTNEED`, in
//!   batches of 64 stacks): it holds no memory, and the next spawn that
//!   finds no hot coroutine builds a generator on it
//!   (`Gn::new_scoped_local_on`) with no system call; the pages it touches
//!   fault in as on a fresh mapping. A released stack waiting for its
//!   batch is not handed out: a spawn that finds no free slot has the
//!   batch discarded first.
//!
//! # What the discard covers, and why it is sound
//!
//! generator keeps its own record (`GeneratorImpl`: registers, body slots,
//! the handle to the stack) in a block at the top of the coroutine's stack
//! (on a slab's stack, right below the stack's record, its bounds and bump
//! offset: patch 10), the body's closure below it, and the frames below
//! that. The discard
//! covers the whole usable stack, from just above the guard page to the top
//! of the slot, so that record cannot survive it: the stack is discarded
//! only once generator gives it back (`StackOwner::release`, generator patch
//! 4), which happens when the last handle to it is dropped, after the
//! generator's record is gone. A
//! discarded stack is, page for page, what `mmap` gives: zero-fill on
//! demand. No one relied on its old contents anyway (hot reuse hands out
//! dirty stacks), and nothing points into it: a finished coroutine has no
//! frames, and one whose frames never unwound is leaked, never recycled
//! (see [`Coroutine::force_unwind`]). The guard page lies below the range
//! and is never touched.
//!
//! `MADV_DONTNEED`, not `MADV_FREE`. `MADV_FREE` is cheaper when stacks
//! are reused (the pages stay mapped until the kernel wants them back: 3.4–4.2
//! against 5.9–6.7 µs a greenlet in a churn measurement), but freed pages
//! stay counted in the process's RSS and its cgroup until memory runs
//! short, so a thread whose greenlets came and went would look exactly like
//! an unbounded pool that keeps its memory.
//!
//! # History
//!
//! Before the slabs, a stack beyond the hot ones was kept mapped in a
//! "parked" tier (discarded, reused newest first, unmapped after 10 s
//! unused, at most a quarter of `vm.max_map_count` of them), because
//! `munmap` of one mapping among two million, and the `mmap` + `mprotect`
//! of the next spawn, were most of the time of the timers benchmark (a
//! million greenlets sleeping 0–1 s: 25.1–28.0 s → 17.9–19.6 s then). A
//! free slot of a slab is what a parked stack was, without the mappings,
//! the expiry or the cap.

use std::cell::RefCell;

use generator::{Gn, Scope, SpareStack};

use super::{slab, stack, Coroutine, Gen};

/// How many finished coroutines a thread keeps hot at most.
const MAX_POOLED: usize = 1024;

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool::new()) };
}

/// A coroutine with a stack of exactly `stack_bytes`: a hot one, or a new
/// one on a slab's stack; `None` for other sizes than the default, or when
/// no slab can be mapped (the caller maps a stack itself then).
pub(super) fn take(stack_bytes: usize) -> Option<Coroutine> {
    if stack_bytes != stack::default_size() {
        return None;
    }
    let hot = POOL
        .try_with(|p| p.borrow_mut().take(stack_bytes))
        .ok()
        .flatten();
    hot.or_else(|| Some(revive(slab::take(stack_bytes)?, stack_bytes)))
}

/// Keeps a finished coroutine for reuse, or drops it (its stack goes back
/// to its slab, or is unmapped).
pub(super) fn put(co: Coroutine) {
    if co.stack_bytes != stack::default_size() {
        return;
    }
    // At thread exit the pool may already be gone: then it is just dropped.
    let _ = POOL.try_with(|p| p.borrow_mut().put(co));
}

struct Pool {
    /// Finished coroutines, ready to re-initialise.
    hot: Vec<Coroutine>,
}

impl Pool {
    const fn new() -> Pool {
        Pool { hot: Vec::new() }
    }

    fn take(&mut self, stack_bytes: usize) -> Option<Coroutine> {
        // Coroutines pooled under an earlier default size are dropped, never
        // handed out: a greenlet must not get a smaller stack than it asked
        // for.
        while let Some(co) = self.hot.pop() {
            // The one a spawn right after this one gets: its generator's
            // record and its stack's record are out of cache when many
            // greenlets came and went (spawning and joining batches of
            // 1,000: 3–4 ns a greenlet less, see `prefetch_install`).
            if let Some(next) = self.hot.last() {
                next.gen.prefetch_install();
            }
            if co.stack_bytes == stack_bytes {
                return Some(co);
            }
        }
        None
    }

    /// Keeps `co` hot, or drops it when the pool is full (its stack goes
    /// back to its slab; nothing there touches the pool).
    fn put(&mut self, co: Coroutine) {
        debug_assert!(co.is_done());
        if self.hot.len() < MAX_POOLED {
            self.hot.push(co);
        }
    }
}

/// A coroutine on a spare stack, with a no-op body until `install`.
fn revive(stack: SpareStack, stack_bytes: usize) -> Coroutine {
    let gen: Gen = Gn::<()>::new_scoped_local_on(stack, |_: Scope<'_, '_, (), ()>| {});
    Coroutine { gen, stack_bytes }
}

#[cfg(test)]
mod tests {
    use super::super::Resumed;
    use super::*;

    /// A coroutine that ran to the end.
    fn finished() -> Coroutine {
        let mut co = Coroutine::new(stack::default_size(), || {}).unwrap();
        assert_eq!(co.resume_alone(), Resumed::Done);
        co
    }

    #[test]
    fn the_hot_tier_is_bounded_and_hands_out_only_its_size() {
        let mut pool = Pool::new();
        for _ in 0..MAX_POOLED + 1 {
            pool.put(finished());
        }
        assert_eq!(pool.hot.len(), MAX_POOLED, "full: the last one dropped");
        assert!(pool.take(stack::default_size() * 2).is_none());
        assert!(pool.hot.is_empty(), "other sizes are dropped, not kept");
    }
}
