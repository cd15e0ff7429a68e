//! A per-thread pool of finished coroutines, so that a spawn reuses a mapped
//! stack instead of paying for `mmap` + `mprotect` (and the stack that goes
//! for `munmap`).
//!
//! Only the default stack size is pooled; other sizes are rare enough that
//! keeping them would mostly hold memory.
//!
//! # Two tiers
//!
//! - **Hot**: the first [`MAX_POOLED`] finished coroutines are kept whole,
//!   generator and touched pages included. Reusing one re-initialises its
//!   generator: no system call, no page fault.
//! - **Parked**: beyond those, a finished coroutine's generator is dropped
//!   and its stack stays mapped as a [`SpareStack`] whose pages are handed
//!   back to the kernel ([`discard`]). A parked stack holds no memory, only
//!   address space (256 KiB and a guard page by default), two kernel
//!   mappings (stack and guard page) and its share of a page-table page.
//!   Reusing one builds a new generator on it: no `mmap`, no `mprotect`;
//!   the pages it touches fault in as on a fresh mapping. Without this tier
//!   every greenlet beyond the hot ones cost an `munmap` when it finished and
//!   an `mmap` + `mprotect` for the next spawn, which with a million stacks
//!   mapped was most of the time of the timers benchmark (`munmap` of one
//!   mapping among two million is slow).
//!
//! # What the discard covers, and why it is sound
//!
//! generator keeps its own record (`GeneratorImpl`: registers, body slots,
//! the handle that owns the mapping) in a block at the top of the
//! coroutine's stack, the body's closure below it, and the frames below that.
//! The discard covers the whole usable stack, from just above the guard page
//! to the top of the mapping, so that record cannot survive it: that is why a
//! parked stack is a [`SpareStack`] and not a coroutine. generator's
//! `into_spare_stack` drops the generator first and hands the stack back only
//! when nothing is left allocated on it and ours is its only handle;
//! `Gn::new_scoped_local_on` then writes a new record as it does on a fresh
//! mapping (see vendor/generator/PATCHES.md). After `MADV_DONTNEED` a parked
//! stack is, page for page, what `mmap` gives: zero-fill on demand. No one
//! relied on its old contents anyway (hot reuse hands out dirty stacks), and
//! nothing points into it: a finished coroutine has no frames, and one whose
//! frames never unwound is leaked, never recycled (see
//! [`Coroutine::force_unwind`]). The guard page lies below the range and is
//! never touched.
//!
//! `MADV_DONTNEED`, not `MADV_FREE`. `MADV_FREE` is cheaper when stacks
//! are reused (the pages stay mapped until the kernel wants them back: 3.4–4.2
//! against 5.9–6.7 µs a greenlet in the churn measurement below), but freed
//! pages stay counted in the process's RSS and its cgroup until memory runs
//! short, so a thread whose greenlets came and went would look exactly like
//! the unbounded pool that was turned down for keeping its memory. With no
//! reuse (timers) the two cost the same.
//!
//! # The bound
//!
//! Parked stacks are reused newest first, so the oldest ones are those that
//! the demand of the recent past never reached. A stack parked for
//! [`PARKED_FOR`] (10 s) without being reused is unmapped, so the tier shrinks
//! to what the peak number of greenlets of the last 10 s needs beyond those
//! alive and hot now (a stack is mapped only when the pool is empty, so the
//! thread's stacks never outnumber its peak). While expired stacks sit at
//! the front the tier holds more than the demand, and a finishing greenlet's
//! stack is unmapped at once instead of parked: a drain longer than 10 s
//! pays one `munmap` a stack, as without the tier, not a `madvise` and an
//! `munmap`. Expiry runs when a stack is parked or reused,
//! [`EXPIRE_PER_CALL`] stacks at most each time, so that no spawn stalls on a
//! burst of `munmap`s; a thread that spawns nothing keeps its parked stacks
//! until it spawns again or exits (they hold no memory; the main thread
//! leaves them to the kernel's teardown at `exit`, see `Drop for Pool`).
//!
//! Why 10 s: a parked stack costs no RSS, only its two mappings and about
//! half a KiB of page tables (kernel memory), while expiring one costs the
//! `munmap` the tier was there to save, and the next spawn the `mmap`. Ten
//! seconds is long against a burst of connections or a batch of timers (the
//! million timers below drain in about 8 s) and short against anything one
//! would call keeping memory.
//!
//! Over all that, the threads of the process park at most a quarter of
//! `vm.max_map_count` stacks between them, half the mappings the process
//! may have ([`parked_cap`], counted in [`PARKED`]), so that hubs that once
//! ran a huge crowd cannot pin the mappings the rest of the process needs
//! (an `mmap`, a thread's stack, `posix_spawn`'s child stack): 16,382
//! stacks (4 GiB of address space) with the default limit of 65,530.
//! And when [`run`](crate::run) returns, its thread's parked stacks are
//! unmapped ([`release_parked`]): without a hub nothing on the thread spawns
//! greenlets, and a limit raised for a crowd may be lowered again (a test
//! that did so then could not start a child process: the kernel refused
//! every new mapping while the parked ones outnumbered the limit).
//!
//! # Measured
//!
//! 2 vCPU (see the README), release build, two runs each:
//!
//! - `green-bench --timers green-1 1000000` (a million greenlets sleeping
//!   0–1 s; every spawn comes before the first finish, so no stack can be
//!   reused and `mmap`/`mprotect` stay at a million): 25.1–28.0 s → 17.9–19.6
//!   s; `munmap` 1,000,009 → 1,034, `madvise` 0 → 998,976; peak RSS
//!   unchanged (4.47 GB).
//! - Churn, 20 rounds of 20,000 greenlets alive at once (a server with more
//!   connections than hot stacks, clients coming and going): 14.6–18.1 µs →
//!   6.3–7.0 µs a greenlet after the first round; `mmap` 380,563 → 20,019.
//! - `green-bench --only spawn,memory`: unchanged (the hot tier is as before).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use generator::{Gn, Scope, SpareStack};

use super::{stack, Coroutine, Gen};

/// How many finished coroutines a thread keeps hot at most.
const MAX_POOLED: usize = 1024;

/// How long a parked stack may go unused before it is unmapped.
const PARKED_FOR: Duration = Duration::from_secs(10);

/// How many expired parked stacks one park or reuse unmaps at most.
const EXPIRE_PER_CALL: usize = 4;

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool::new()) };
}

/// Parked stacks in the whole process, every thread's pool together.
static PARKED: AtomicUsize = AtomicUsize::new(0);

/// Unmaps this thread's parked stacks (called when `run` returns).
pub(crate) fn release_parked() {
    let _ = POOL.try_with(|p| {
        let parked = std::mem::take(&mut p.borrow_mut().parked);
        PARKED.fetch_sub(parked.len(), Ordering::Relaxed);
        drop(parked);
    });
}

/// A finished coroutine with a stack of exactly `stack_bytes`, if one is free.
pub(super) fn take(stack_bytes: usize) -> Option<Coroutine> {
    if stack_bytes != stack::default_size() {
        return None;
    }
    POOL.try_with(|p| p.borrow_mut().take(stack_bytes))
        .ok()
        .flatten()
}

/// Keeps a finished coroutine for reuse, or drops (unmaps) it.
pub(super) fn put(co: Coroutine) {
    if co.stack_bytes != stack::default_size() {
        return;
    }
    // At thread exit the pool may already be gone: then just unmap.
    let _ = POOL.try_with(|p| p.borrow_mut().put(co));
}

/// A parked stack and since when it is unused.
struct Parked {
    stack: SpareStack,
    since: Instant,
}

struct Pool {
    /// Finished coroutines, ready to re-initialise.
    hot: Vec<Coroutine>,
    /// Discarded stacks, oldest first.
    parked: VecDeque<Parked>,
}

impl Pool {
    const fn new() -> Pool {
        Pool {
            hot: Vec::new(),
            parked: VecDeque::new(),
        }
    }

    fn take(&mut self, stack_bytes: usize) -> Option<Coroutine> {
        // Stacks pooled under an earlier default size are released, never
        // handed out: a greenlet must not get a smaller stack than it asked for.
        while let Some(co) = self.hot.pop() {
            if co.stack_bytes == stack_bytes {
                return Some(co);
            }
        }
        if self.parked.is_empty() {
            return None;
        }
        let mut found = None;
        while let Some(parked) = self.parked.pop_back() {
            PARKED.fetch_sub(1, Ordering::Relaxed);
            if parked.stack.size_bytes() == stack_bytes {
                found = Some(parked.stack);
                break;
            }
        }
        self.expire(Instant::now());
        found.map(|stack| revive(stack, stack_bytes))
    }

    fn put(&mut self, co: Coroutine) {
        debug_assert!(co.is_done());
        if self.hot.len() < MAX_POOLED {
            self.hot.push(co);
        } else {
            self.put_parked(co, PARKED.load(Ordering::Relaxed) >= parked_cap());
        }
    }

    /// Parks a finished coroutine's stack, or unmaps it when the tier is
    /// `full` or holds expired stacks.
    fn put_parked(&mut self, co: Coroutine, full: bool) {
        let now = Instant::now();
        // Expired stacks at the front: the tier already holds more than the
        // demand of the last `PARKED_FOR` reached, so this stack would only
        // be discarded now and unmapped later. Unmap it at once.
        if self.expire(now) || full {
            return;
        }
        if let Some(stack) = park(co) {
            PARKED.fetch_add(1, Ordering::Relaxed);
            self.parked.push_back(Parked { stack, since: now });
        }
    }

    /// Unmaps up to [`EXPIRE_PER_CALL`] stacks parked for [`PARKED_FOR`];
    /// whether any had expired.
    fn expire(&mut self, now: Instant) -> bool {
        let mut expired = 0;
        while expired < EXPIRE_PER_CALL {
            match self.parked.front() {
                Some(p) if now.saturating_duration_since(p.since) >= PARKED_FOR => {
                    self.parked.pop_front();
                    PARKED.fetch_sub(1, Ordering::Relaxed);
                    expired += 1;
                }
                _ => break,
            }
        }
        // The queue's own memory (24 bytes a stack) goes back too.
        if self.parked.capacity() > 64 && self.parked.len() < self.parked.capacity() / 4 {
            self.parked.shrink_to(self.parked.capacity() / 2);
        }
        expired > 0
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The main thread's thread-locals are destroyed only by `exit`, just
        // before the kernel tears the whole address space down in one pass,
        // which costs far less than an `munmap` a stack (a million parked
        // stacks: about 2 s instead of 6.6 s). Other threads unmap theirs:
        // the process goes on.
        PARKED.fetch_sub(self.parked.len(), Ordering::Relaxed);
        if is_main_thread() {
            for parked in self.parked.drain(..) {
                std::mem::forget(parked.stack);
            }
        }
    }
}

fn is_main_thread() -> bool {
    // SAFETY: getpid and gettid have no preconditions; they only read the
    // caller's ids.
    unsafe { libc::getpid() == libc::gettid() }
}

/// The most stacks the process parks: a quarter of `vm.max_map_count`, i.e.
/// half the mappings the kernel allows the process (two a stack).
/// Read once, when the first stack is parked.
fn parked_cap() -> usize {
    static CAP: OnceLock<usize> = OnceLock::new();
    *CAP.get_or_init(|| cap_for(stack::max_map_count().unwrap_or(65_530)))
}

fn cap_for(max_map_count: usize) -> usize {
    (max_map_count / 4).max(1)
}

/// Drops a finished coroutine's generator and discards its stack's pages;
/// `None` (the stack unmapped) when generator cannot give the stack back or
/// the kernel refuses the discard.
fn park(co: Coroutine) -> Option<SpareStack> {
    let stack = into_generator(co).into_spare_stack()?;
    discard(&stack).then_some(stack)
}

/// Hands every usable page of a spare stack back to the kernel; the mapping
/// stays. False if the kernel refused.
fn discard(stack: &SpareStack) -> bool {
    // SAFETY: `base .. base + size_bytes` is the usable part of a mapping
    // that `stack` alone owns (a `SpareStack` is the only handle to it and
    // has nothing allocated on it; the generator that ran there is dropped):
    // page aligned, whole pages, the guard page below it left alone. Nothing
    // points into it (a finished coroutine has no frames) and nothing reads
    // it before writing it again (see the module docs). On private anonymous
    // memory MADV_DONTNEED only replaces the contents with zero-fill-on-demand
    // pages; no Rust object is invalidated.
    let rc = unsafe { libc::madvise(stack.base().cast(), stack.size_bytes(), libc::MADV_DONTNEED) };
    rc == 0
}

/// A coroutine on a parked stack, with a no-op body until `install`.
fn revive(stack: SpareStack, stack_bytes: usize) -> Coroutine {
    let gen: Gen = Gn::<()>::new_scoped_local_on(stack, |_: Scope<'_, '_, (), ()>| {});
    Coroutine { gen, stack_bytes }
}

/// Takes the generator out of a finished coroutine.
fn into_generator(co: Coroutine) -> Gen {
    let co = ManuallyDrop::new(co);
    // Names every field, so that a new one cannot be forgotten here.
    let Coroutine {
        gen,
        stack_bytes: _,
    } = &*co;
    // SAFETY: `co` is never used or dropped again (`ManuallyDrop`), so the
    // generator is moved out exactly once. The other field is a number, which
    // owns nothing, and `Coroutine`'s `Drop` only checks
    // that it is done, which `put`'s caller made sure of.
    unsafe { ptr::read(gen) }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::hint::black_box;
    use std::rc::Rc;

    use super::super::Resumed;
    use super::*;

    const KIB: usize = 1024;

    /// A coroutine that ran `body` to the end.
    fn finished(body: impl FnOnce() + 'static) -> Coroutine {
        let mut co = Coroutine::new(stack::default_size(), body).unwrap();
        assert_eq!(co.resume_alone(), Resumed::Done);
        co
    }

    /// Fills `kib` KiB of the stack with `byte`, one frame; returns the
    /// buffer's address.
    #[inline(never)]
    fn scribble(kib: usize, byte: u8) -> usize {
        let mut buf = [0u8; 160 * KIB];
        let buf = &mut buf[..kib * KIB];
        buf.fill(byte);
        black_box(&mut *buf);
        assert!(black_box(&*buf).iter().all(|&b| b == byte));
        buf.as_ptr() as usize
    }

    /// How many pages of `addr .. addr + len` are resident (`mincore`).
    fn resident_pages(addr: usize, len: usize) -> usize {
        let page = stack::page_size();
        let start = addr & !(page - 1);
        let len = addr + len - start;
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: mincore only reads the page tables of a range we mapped and
        // still hold; `vec` has a byte for every page of it.
        let rc = unsafe { libc::mincore(start as *mut _, len, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        vec.iter().filter(|&&b| b & 1 != 0).count()
    }

    fn range(stack: &SpareStack) -> std::ops::Range<usize> {
        stack.base() as usize..stack.base() as usize + stack.size_bytes()
    }

    #[test]
    fn a_parked_stack_holds_no_pages_and_is_reused_clean() {
        let mut pool = Pool::new();
        let page = stack::page_size();

        let addr = Rc::new(Cell::new(0));
        let a = addr.clone();
        let co = finished(move || a.set(scribble(128, 0xA5)));
        let (addr, len) = (addr.get(), 128 * KIB);
        assert!(
            resident_pages(addr, len) >= len / page,
            "the body touched them"
        );

        pool.put_parked(co, false);
        assert_eq!(pool.parked.len(), 1, "parked, not unmapped");
        let stack = &pool.parked[0].stack;
        assert!(range(stack).contains(&addr));
        assert_eq!(stack.size_bytes(), stack::default_size());
        assert_eq!(
            resident_pages(stack.base() as usize, stack.size_bytes()),
            0,
            "every page of the stack went back, the generator's own included"
        );
        let words = stack.size_bytes() / std::mem::size_of::<usize>();
        let base = stack.base().cast::<usize>();
        for i in (0..words).step_by(64) {
            // SAFETY: the parked stack is mapped readable and we hold it; no
            // one else uses it.
            let word = unsafe { base.add(i).read_volatile() };
            assert_eq!(word, 0, "stale contents at word {i}");
        }
        let before = range(stack);

        let mut co = pool.take(stack::default_size()).expect("the parked stack");
        assert!(pool.parked.is_empty());
        let seen = Rc::new(Cell::new((0, false)));
        let s = seen.clone();
        // SAFETY: the body is 'static and borrows nothing.
        unsafe {
            co.install(move || {
                let at = scribble(150, 0x5A);
                let local = 0u64;
                s.set((black_box(&local) as *const u64 as usize, at != 0));
            })
        };
        assert_eq!(co.resume_alone(), Resumed::Done);
        let (local, ran) = seen.get();
        assert!(ran);
        assert!(
            before.contains(&local),
            "the new body ran on the recycled stack"
        );
        // and again: the same stack is parked again
        pool.put_parked(co, false);
        assert_eq!(range(&pool.parked[0].stack), before);
    }

    #[test]
    fn the_parked_tier_is_bounded_and_expires_oldest_first() {
        let mut pool = Pool::new();
        pool.hot.push(finished(|| {}));
        for _ in 0..5 {
            pool.put_parked(finished(|| {}), pool.parked.len() >= 3);
        }
        assert_eq!((pool.hot.len(), pool.parked.len()), (1, 3));

        let newest = range(&pool.parked[2].stack);
        let since = pool.parked[2].since;
        assert!(!pool.expire(since));
        assert_eq!(pool.parked.len(), 3, "nothing is old yet");

        // Reuse takes the hot one, then the newest parked one.
        let hot = pool.take(stack::default_size()).unwrap();
        assert_eq!(pool.parked.len(), 3);
        let mut co = pool.take(stack::default_size()).unwrap();
        assert_eq!(pool.parked.len(), 2);
        // SAFETY: the body is 'static and borrows nothing.
        unsafe {
            co.install(move || {
                let local = 0u8;
                assert!(newest.contains(&(black_box(&local) as *const u8 as usize)));
            })
        };
        assert_eq!(co.resume_alone(), Resumed::Done);
        drop((hot, co));

        assert!(pool.expire(since + PARKED_FOR));
        assert!(pool.parked.is_empty(), "both expired");

        let mut pool = Pool::new();
        for _ in 0..EXPIRE_PER_CALL + 2 {
            pool.put_parked(finished(|| {}), false);
        }
        let last = pool.parked.back().unwrap().since;
        pool.expire(last + PARKED_FOR);
        assert_eq!(pool.parked.len(), 2, "a few at a time");
        pool.expire(last + PARKED_FOR);
        assert!(pool.parked.is_empty());
    }

    #[test]
    fn a_stack_is_not_parked_while_parked_ones_expire() {
        let mut pool = Pool::new();
        for _ in 0..3 {
            pool.put_parked(finished(|| {}), false);
        }
        // The oldest one has sat unused for PARKED_FOR.
        let Some(long_ago) = Instant::now().checked_sub(PARKED_FOR) else {
            return; // the clock starts too recently to go back that far
        };
        pool.parked[0].since = long_ago;
        pool.put_parked(finished(|| {}), false);
        assert_eq!(
            pool.parked.len(),
            2,
            "the expired one is unmapped, the new one not parked"
        );
        pool.put_parked(finished(|| {}), false);
        assert_eq!(pool.parked.len(), 3, "parked again once none expire");
    }

    #[test]
    fn the_cap_is_half_the_mappings() {
        assert_eq!(cap_for(65_530), 16_382);
        assert_eq!(cap_for(0), 1);
        assert!(parked_cap() >= 1);
    }
}
