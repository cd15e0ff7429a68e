//! Switching greenlets.
//!
//! The hub's loop resumes the first greenlet of a batch ([`Hub::switch_to`]).
//! From then on the greenlets switch among themselves: one that suspends
//! does the hub's bookkeeping for itself and hands the thread straight to
//! the next ready greenlet of the batch ([`Hub::suspend_running`]), one
//! register switch instead of two (out to the hub's stack and in again).
//! When the batch is over, it also does what the loop does between two
//! batches, as long as that is only starting the next one (no timer
//! pending, no IO poll due, nothing to block on, no wake-up from another
//! thread to take in):
//! see [`Hub::start_next_batch_here`]. Otherwise it suspends to the loop.
//! The order in which greenlets run is the loop's, exactly (see [`ready`]).
//!
//! The bookkeeping, wherever it runs: the greenlet that suspends is counted
//! if it unwinds and requeued if it yielded, the next one is marked running
//! ([`Hub::resuming`]) and named `incoming`, and it makes itself `current`
//! as soon as it continues ([`Hub::arrive`]). Until then `current` still
//! names the one that suspended, whose stack the bookkeeping runs on: a
//! stack overflow anywhere on the way is reported against the right
//! greenlet. A greenlet that finishes does none of it: its body returns to
//! the loop, which finishes it (its stack cannot be released from on it).
//!
//! Everything on this path is inlined into the greenlet's own loop (the
//! outermost frame of its coroutine plus what it calls to suspend): a
//! greenlet continues right after its switch, with no `ret` to mispredict
//! (the switch jumps, so the return stack buffer never matches). An
//! out-of-line hand-off cost a third of a switch.
//!
//! On a hand-off the greenlet also starts loading what the greenlets
//! after the next one read first when they resume: the record of one, the
//! generator context of the next, the frames on the stack of the one
//! after (see `Hub::prefetch_upcoming`). With many greenlets these are out
//! of cache by the time they run, and those misses were most of green's
//! own time in a server with 1,000 connections. The loop does the same
//! before each resume of its own (`run_until_main_finished`): greenlets
//! that finish come back to it, and it resumes the next one itself (a
//! million sleepers: the process's user time 4.9 s against 5.4 s, lower in
//! six interleaved pairs of six).
//!
//! [`ready`]: super::ready

use std::rc::Rc;

use super::Hub;
use crate::coroutine::{self, Coroutine, Resumed};
use crate::greenlet::{Core, State};
use crate::monitor::Watch;

impl Hub {
    /// Runs `g` and, through hand-offs, the rest of its batch and maybe
    /// more, until a greenlet suspends to the loop or finishes.
    #[inline]
    pub(super) fn switch_to(&self, g: Rc<Core>) {
        debug_assert!(self.current.get().is_null());
        let co = self.resuming_coroutine(&g);
        self.set_incoming(g);
        // SAFETY: we are on the hub's own stack (the loop). `co` is `g`'s
        // coroutine (see `resuming_coroutine`), neither running nor done (`g`
        // was ready), and nothing else accesses it until the switch; after
        // it, the chain of hand-offs may come back to `g` (it requeues
        // itself when it yields, and a batch can start in place), which is
        // why `resume` takes a raw pointer.
        unsafe { Coroutine::resume(co) };
        self.came_back();
    }

    /// A resume came back to the loop: `current` names the greenlet that
    /// came back. It suspended (and did its own bookkeeping), or it
    /// finished, or its stack overflowed, which aborts the process with a
    /// report (or a panic escaped its body, a bug, which is raised here).
    #[inline]
    fn came_back(&self) {
        if !self.incoming.get().is_null() {
            // It overflowed before it could announce itself.
            self.arrive();
        }
        let p = self.current_ref();
        // SAFETY: the greenlet that came back is suspended or done, and only
        // its resumer (us) touches its coroutine now.
        let resumed = unsafe { (*coroutine_ptr(p)).came_back() };
        let g = self.leave();
        match resumed {
            // Only `suspend_running` suspends, and it did the bookkeeping.
            Resumed::Suspended => {}
            Resumed::Done => {
                let co = g.co.borrow_mut().take();
                self.finish(&g, co);
                self.recycle_core(g);
            }
            Resumed::Overflowed => self.overflowed(&g),
        }
    }

    /// Suspends the running greenlet, which set its state first: `Ready`
    /// (it yields: it goes to the back of the queue), and then `yielded` is
    /// true, or `Parked`. The next
    /// ready greenlet runs in its place straight away when there is one
    /// without a trip through the loop; otherwise the loop goes on. `me`
    /// is the running greenlet's record (`current`).
    #[inline(always)]
    pub(super) fn suspend_running(&self, me: &Core, yielded: bool) {
        debug_assert!(std::ptr::eq(me, self.current.get()));
        debug_assert_eq!(yielded, me.state.get() == State::Ready);
        // The answer is its own: it runs (see `unwinding`).
        if self.unwinding(me) {
            self.suspended_unwinding
                .set(self.suspended_unwinding.get() + 1);
        }
        // It goes to the back of the queue if it yielded, in the same
        // borrow of the queue as taking the next one.
        // Its `Rc` goes there as it is (see `held`).
        let queued = yielded.then(|| self.lend_current());
        let next = match self.next_ready_after(queued) {
            Some(next) => Some(next),
            None if self.start_next_batch_here() => self.next_ready(),
            None => None,
        };
        match next {
            None => {
                if let Some(watch) = &self.watch {
                    self.trace_for_monitor(watch);
                }
                coroutine::suspend();
            }
            Some(next) if std::ptr::eq(Rc::as_ptr(&next), me) => {
                // It yielded, and is the only one ready: it goes on, and
                // holds its `Rc` again.
                self.mark_running(me);
                self.hold(next);
                return;
            }
            Some(next) => {
                self.prefetch_upcoming(me);
                let co = self.resuming_coroutine(&next);
                self.set_incoming(next);
                // SAFETY: the running greenlet was resumed by `switch_to` or
                // by a hand-off; `co` is the coroutine of the greenlet named
                // `incoming`, neither running nor done (it was ready) nor
                // the running one (checked above), and nothing else accesses
                // it until the switch.
                unsafe { coroutine::suspend_to(co) };
            }
        }
        self.arrive();
    }

    /// The next greenlet of the batch that is still ready (a stale entry,
    /// one killed before it started, is dropped without a borrow of the
    /// queue held: its record may go with it).
    #[inline(always)]
    pub(super) fn next_ready(&self) -> Option<Rc<Core>> {
        self.next_ready_after(None)
    }

    /// [`next_ready`](Self::next_ready), after pushing `queued` (if any)
    /// onto the queue for the next batch.
    #[inline(always)]
    fn next_ready_after(&self, queued: Option<Rc<Core>>) -> Option<Rc<Core>> {
        let mut g = self.ready.borrow_mut().push_pop(queued);
        loop {
            let next = g?;
            if next.state.get() == State::Ready {
                return Some(next);
            }
            drop(next);
            g = self.ready.borrow_mut().pop();
        }
    }

    /// Starts loading what the greenlets after the next one read first
    /// when they resume, while the next one runs; called right after the
    /// next greenlet was taken from the queue (by a hand-off, whose
    /// greenlet is `me`, or by the loop, with `me` null). Three stages,
    /// each a hand-off ahead of its use:
    ///
    /// - the third greenlet after the next: the lines of its record that
    ///   the next stage reads (its coroutine pointer, its state);
    /// - the greenlet after the one after next: its generator context,
    ///   whose address that stage reads from the record fetched by the
    ///   previous hand-off;
    /// - the greenlet after next, whose context the previous hand-off
    ///   fetched: the frames on its stack that it returns through, from
    ///   its saved stack pointer up (at most 2 KiB) — unless that is `me`
    ///   (two greenlets yielding in turn): its stack is in cache, and its
    ///   saved stack pointer is that of its last suspend while it runs.
    ///
    /// With many greenlets their records, contexts and stacks are out of
    /// cache by the time they run. The context alone (generator patch 7)
    /// took `swap_registers` from 2% of a 1,000-connection server's
    /// samples to 0.3%; without it the in-process echo at 1,000
    /// connections ran 10% slower (0 of 10 pairs ahead). The stack's
    /// frames (patch 8) then gave it 3.6–7.6% more round trips (ahead in
    /// 7–9 of 12 interleaved rounds, four sets), at 0.2–0.4 ns more per
    /// yield between two greenlets. The record (2026-12-04): with a million
    /// sleepers, 12% of the samples were the loop waiting on the record of
    /// the greenlet two ahead, read for its context's address; fetching it
    /// a stage earlier took the million sleepers from 5.07–5.39 s to
    /// 4.90–5.06 s, and was level or a little ahead in the in-process echo
    /// (1.012× at 1,000 connections, 8 of 10 rounds; 1.029× at 4,000, 3
    /// of 6) and for a yield between two greenlets (8.8–9.1 ns against
    /// 9.3–9.6). Earlier tries in the echo alone had found it within the
    /// noise (1.01×, 0.998×).
    #[inline(always)]
    pub(super) fn prefetch_upcoming(&self, me: *const Core) {
        // SAFETY: the `borrow_mut` in `next_ready_after` succeeded just
        // before, on every path here (both callers call it right after
        // taking the next greenlet), so no other borrow of the queue
        // existed anywhere on this thread (the loop, a suspended greenlet,
        // a destructor); that one has ended, nothing in between ran user
        // code, and this reference ends with this function, before anything
        // else touches the hub.
        let ready = unsafe { &*self.ready.as_ptr() };
        if let Some(g) = ready.upcoming(2) {
            prefetch_record(g);
        }
        if let Some(co) = ready.upcoming(1).and_then(|g| queued_coroutine(g)) {
            coroutine::prefetch(co);
        }
        let Some(after_next) = ready.upcoming(0) else {
            return;
        };
        if std::ptr::eq(Rc::as_ptr(after_next), me) {
            return;
        }
        if let Some(co) = queued_coroutine(after_next) {
            coroutine::prefetch_stack(co);
        }
    }

    /// Marks ready `g` as running, about to be resumed (or going on).
    #[inline(always)]
    fn mark_running(&self, g: &Core) {
        if let Some(watch) = &self.watch {
            // A hand-off: on the stack of the greenlet that suspends.
            self.trace_for_monitor(watch);
            // For the blocking detector's report; a name once, as it
            // starts.
            let name = if g.started.get() { None } else { g.name() };
            watch.resumed(g.id().as_u64(), g.slot(), name);
        }
        g.state.set(State::Running);
        g.started.set(true);
        self.resuming(g);
    }

    /// Takes the stack of the greenlet that suspends (`current`, whose
    /// stack this runs on; none when the loop resumes a greenlet) for the
    /// blocking detector, if it reported that greenlet blocking the hub
    /// (see [`crate::monitor`]). One relaxed load otherwise.
    #[inline(always)]
    fn trace_for_monitor(&self, watch: &Watch) {
        let me = self.current.get();
        if me.is_null() {
            return;
        }
        // SAFETY: by `current`'s invariant the `Core` stays alive while its
        // greenlet runs, and it runs: this is its stack. The borrow ends
        // with this call.
        let me = unsafe { &*me };
        let seq = me.id().as_u64();
        if watch.wants_trace_of(seq) {
            watch.take_trace(seq);
        }
    }

    /// [`mark_running`](Self::mark_running), and `g`'s coroutine.
    #[inline(always)]
    fn resuming_coroutine(&self, g: &Core) -> *mut Coroutine {
        self.mark_running(g);
        coroutine_ptr(g)
    }
}

/// A pointer to the coroutine of `g`, which must have one (it is ready,
/// running or suspended, not finished). No borrow of `g.co` is held: it is
/// used across switches, while other greenlets run.
///
/// # Panics
///
/// Panics when `g` has no coroutine.
#[inline(always)]
fn coroutine_ptr(g: &Core) -> *mut Coroutine {
    // SAFETY: nothing holds a borrow of `g.co` across a switch, and the hub
    // takes the coroutine out only once it is done (`came_back`, `shutdown`)
    // or before it ever ran (`discard`), never while a greenlet may still
    // switch to it; the reference made here ends at once.
    match unsafe { &mut *g.co.as_ptr() } {
        Some(co) => co,
        None => no_coroutine(),
    }
}

/// The coroutine of queued `g`, if it has one (a stale entry may not), to
/// look at in passing: no borrow of `g.co` is held.
#[inline(always)]
fn queued_coroutine(g: &Core) -> Option<&Coroutine> {
    // SAFETY: as in `coroutine_ptr`: nothing holds a borrow of `g.co`
    // across a switch, and the hub takes the coroutine out only from the
    // loop or from `discard`, never while a caller of this (on the path of
    // a hand-off or a resume, running no user code) holds the reference.
    unsafe { &*g.co.as_ptr() }.as_ref()
}

#[cold]
fn no_coroutine() -> ! {
    panic!("green: a ready greenlet has no coroutine (this is a bug in green)")
}

/// Starts loading the lines of `g`'s record that the next hand-offs read:
/// its coroutine pointer (the next one, for its context's address) and its
/// state (the one that takes it from the queue).
#[inline(always)]
fn prefetch_record(g: &Core) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch never faults and reads nothing the program
        // sees; both addresses are fields of a live record.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(g.co.as_ptr().cast());
            _mm_prefetch::<_MM_HINT_T0>(g.state.as_ptr().cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = g;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::hub::spare_cores as spare;

    /// A yield lends the greenlet's `Rc` to the run queue (see `held`):
    /// on every way a yield can go, no count is lost or left behind, so a
    /// joined greenlet's record is unshared and kept for the next spawn.
    #[test]
    fn yields_keep_the_reference_counts_whole() {
        crate::run(|| {
            let before = spare();
            // Hand-offs among three, and back to the main greenlet.
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    crate::spawn(|| {
                        for _ in 0..100 {
                            crate::yield_now();
                        }
                    })
                })
                .collect();
            for _ in 0..50 {
                crate::yield_now();
            }
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(spare(), before + 3, "hand-offs");
            // Alone (the main greenlet waits on it): it goes on in place.
            let alone = crate::spawn(|| {
                for _ in 0..100 {
                    crate::yield_now();
                }
            });
            alone.join().unwrap();
            assert_eq!(spare(), before + 3, "alone");
            // With a sleeper's timer pending, each batch ends in the loop,
            // a yield too.
            let sleeper = crate::spawn(|| crate::sleep(Duration::from_millis(5)));
            let yielder = crate::spawn(|| {
                for _ in 0..100 {
                    crate::yield_now();
                }
            });
            yielder.join().unwrap();
            sleeper.join().unwrap();
            assert_eq!(spare(), before + 3, "to the loop");
            // Killed while its `Rc` is in the queue.
            let yielder = crate::spawn(|| loop {
                crate::yield_now();
            });
            crate::yield_now();
            yielder.kill();
            assert!(yielder.join().unwrap_err().is_killed());
            assert_eq!(spare(), before + 3, "killed after a yield");
        });
    }
}
