//! Stack memory for default-size greenlets: slabs of stacks, one kernel
//! mapping each.
//!
//! Every stack needs a guard page right below it, which faults on access:
//! that is how an overflow is caught (generator's signal handler). generator
//! maps each stack on its own and makes its lowest page `PROT_NONE` with
//! `mprotect`, which splits the mapping: every stack costs an `mmap` and an
//! `mprotect` when it is made, an `munmap` when it goes, and two of the
//! process's `vm.max_map_count` mappings (65,530 by default: about 32,000
//! greenlets).
//!
//! Here one `mmap` maps a slab of up to [`SLOTS`] stacks, each with its guard
//! page, and each guard page is installed with `MADV_GUARD_INSTALL` (Linux
//! 6.13): a marker in the page table rather than a protection, so the slab
//! stays one mapping however many greenlets it holds, and a million of them
//! need no change to `vm.max_map_count`. The markers go in ahead of use, in
//! doubling batches (1, 1, 2, 4, … slots), each of two and more one
//! `process_madvise` (Linux 6.15; before, one `madvise` a slot): a full
//! slab of 64 takes seven calls, a slab with one greenlet one. A marker
//! ahead of use can need a page-table page that a stack would have needed
//! only later: up to about 20 KiB a partly used slab, outside RSS, none for
//! a full one. On a kernel without markers (`EINVAL`) the thread falls back
//! to `mprotect`, one slot at a time, as generator does (the slab then
//! splits into two mappings a stack, but the `mmap` per stack is still
//! saved).
//!
//! A batch of markers of two and more also faults in the top page of each
//! of its slots, in one `process_madvise(MADV_POPULATE_WRITE)`: the page a
//! spawn writes generator's record to, which would otherwise fault at
//! every spawn on a fresh slot (see [`populate_tops`]). A million sleeping
//! greenlets took 4.39–4.50 s instead of 4.61–4.75 s (their page faults
//! went from 26% of the samples to 20%, in the system call). Those pages
//! are resident ahead of use, and counted in RSS: up to 31 (124 KiB) for
//! the slab being filled, and as many in the slab a thread keeps once its
//! greenlets are gone (its slots were never handed out, so nothing
//! discards them); none in a full slab. On the AMD machine of the earlier
//! measurements, faulting in 20,000 top pages ahead of use this way took
//! as long as touching them (1.7–2.1 µs a stack against 1.7–2.2 µs); the
//! 2 vCPU Intel guest's page faults cost more than its system calls.
//!
//! A slot is handed to generator as a [`SpareStack`] that it gives back
//! through [`release`] when the last generator on it is gone (generator
//! patch 4). While it is out, generator keeps its record of the stack
//! (bounds, bump offset, owner) in the slot's top line below the colour
//! gap (patch 10), not in a `malloc`'d block of 80 bytes a greenlet.
//! Given back, its pages are
//! discarded (`MADV_DONTNEED`: its memory goes back,
//! and it reads as zeroes again, as a fresh mapping does), its guard stays
//! (markers survive a discard), and the slot is free for the next spawn: no
//! system call. The discards wait until [`DISCARD_BATCH`] released stacks
//! are pending, or a spawn finds no free slot, and then go in one
//! `process_madvise` (Linux 6.15 for `PIDFD_SELF`; one `madvise` each on an
//! older kernel). A slab whose slots are all free is unmapped, but each
//! thread keeps one such slab, so that a thread that runs one greenlet at a
//! time does not map and unmap a slab for each.
//!
//! Measured (2 vCPU KVM guest, kernel 6.18, a million stacks, per stack):
//! `mmap` 3.0 µs + `mprotect` 2.4 µs against 1.0 µs for the guard marker
//! (0.5–0.6 µs in batches);
//! the first touch faults in 4.3 µs against 2.7 µs (a mapping among two
//! million is slower to look up); the discard 2.6 µs against 1.8 µs, and
//! 2.4 µs one by one against 1.0 µs in batches of 64 (0.9 µs in batches of
//! 256, 1.3 µs in batches of 8).
//!
//! Slabs belong to the thread that maps them (greenlets never move), and
//! so does their bookkeeping, a thread-local that nothing else touches. At
//! thread exit the empty slabs are unmapped and the others are left to their
//! stacks still in use (the hot coroutines of the pool, whose thread-local
//! may be destroyed after this one): the last one released unmaps its slab.
//! The main thread leaves everything to `exit`, which tears the address
//! space down at once.
//!
//! # Colours
//!
//! A greenlet's hot memory is the top of its stack: generator's record,
//! then the frames it suspended in, about a kilobyte. Were every stack's
//! top at the same offset in its page, those lines of a thousand
//! greenlets would all fall in a quarter of the sets of a physically
//! indexed cache (the sets a page offset can reach), and evict each other
//! long before the cache is full. So each slot's stack leaves its top
//! `(i % COLOURS) * COLOUR_STEP` bytes unused (16 colours, 128 bytes
//! apart: generator patch 9, `SpareStack::from_raw_with_gap`), and has a
//! page more than asked for to make up for it, so that a stack still has
//! at least the size asked for.
//!
//! The price is memory for some greenlets: one that is suspended between
//! about 2,050 and 4,096 bytes below its slot's top (or as far past a page
//! boundary deeper down) touches one page more with the larger colours; a
//! greenlet suspended within 2 KiB of it (the largest colour, 1,920
//! bytes, and generator's 128 for its record of the stack and a line of
//! alignment, patch 10, leave 2,048 in the page), as the benchmark's
//! servers and idle greenlets are, never does. Measured before patch 10
//! (128 bytes less at the top) with 64 greenlets waiting on a channel with
//! a local buffer of 1, 1.5 and 2 KiB (by review, `mincore`): colours
//! 13–15, 9–15 and 5–15 touched a second page.
//!
//! Measured (`--only spawn`, processes in turns): spawning and joining
//! batches of 1,000 greenlets took 149–169 ns each with 16 colours,
//! 182–204 ns with 8 (at most 896 bytes) and 196–232 ns without; the
//! in-process echo at 1,000 connections and a million sleepers were level,
//! and so was the resident memory of 100,000 idle greenlets.
//!
//! One guard page between neighbouring stacks, as generator, glibc's
//! threads and Rust's own threads have: a frame larger than a page without
//! stack probes (C code with a large `alloca`) could jump over it into the
//! neighbour's top page. Rust code probes every page of a large frame.
//! (That top page holds the neighbour's generator records, the stack's
//! own among them, patch 10: such a write would corrupt what generator
//! releases the stack by.)

use std::cell::RefCell;
use std::ptr::{self, NonNull};

use generator::{SpareStack, StackOwner};

use super::stack;

/// The most stacks a slab holds.
const SLOTS: usize = 64;

/// A slab maps at most about this many bytes (fewer slots for big stacks),
/// so that a thread with one greenlet of a large default size does not map
/// the address space of 64.
const SLAB_BYTES: usize = 32 << 20;

/// Stack tops take this many colours (see the module docs): slot `i`
/// leaves the top `(i % COLOURS) * COLOUR_STEP` bytes of its stack unused,
/// 0 to 1,920.
const COLOURS: usize = 16;

/// Two cache lines: generator aligns its record (its `Context`) to 128
/// bytes, so with one-line steps the record would move at every other
/// step only.
const COLOUR_STEP: usize = 128;

// The largest gap and generator's record of the stack (one line, patch 10)
// stay within the extra page a slot has, on the smallest pages there are.
const _: () = assert!(COLOURS * COLOUR_STEP + 64 <= 4096);

/// `MADV_GUARD_INSTALL` from the kernel's `asm-generic/mman-common.h`
/// (Linux 6.13; the `libc` crate does not have it yet).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Released stacks whose pages wait to be discarded together: at most
/// this many (their memory stays resident until then: a few pages each).
const DISCARD_BATCH: usize = 64;

/// An `iovec` to fill in.
const EMPTY_IOVEC: libc::iovec = libc::iovec {
    iov_base: ptr::null_mut(),
    iov_len: 0,
};

/// `PIDFD_SELF` from the kernel's `linux/pidfd.h` (Linux 6.15): the calling
/// thread, to `process_madvise`, without a pidfd of our own.
const PIDFD_SELF: libc::c_int = -10000;

thread_local! {
    static SLABS: RefCell<Slabs> = const { RefCell::new(Slabs::new()) };
}

/// A stack of `stack_bytes` usable bytes with a guard page below it, from
/// this thread's slabs; `None` when no slab can be mapped, the guard cannot
/// be installed or the size is beyond what a stack may be (the caller maps
/// the stack itself then, and reports the error that gives).
pub(super) fn take(stack_bytes: usize) -> Option<SpareStack> {
    // Beyond generator's own limit: generator refuses it with its error.
    if stack_bytes > SpareStack::max_size() {
        return None;
    }
    SLABS
        .try_with(|s| s.borrow_mut().take(stack_bytes))
        .ok()
        .flatten()
}

/// How a slab installs its guard pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    /// `MADV_GUARD_INSTALL`: no split.
    Marker,
    /// `mprotect(PROT_NONE)`: the kernel lacks markers.
    Protect,
}

struct Slabs {
    /// Slabs with a free slot; spawns take from the last matching one.
    open: Vec<NonNull<Slab>>,
    /// The one slab with every slot free that is kept mapped.
    kept: Option<NonNull<Slab>>,
    /// Found out at the first guard installed.
    guard: Option<Guard>,
    /// Released stacks not yet discarded (slab and slot), at most
    /// [`DISCARD_BATCH`]: their slabs still count them as used.
    pending: Vec<(NonNull<Slab>, u16)>,
    /// Whether one `process_madvise` on ourselves can advise many ranges
    /// (discards and guard markers alike): found out at the first such call
    /// (`None` until then).
    vectored: Option<bool>,
}

/// One mapping of `slots` stacks. Slot `i` starts at `base + i * slot_bytes`
/// with its guard page; its stack is the [`span`](Slab::span) above that:
/// `stack_bytes` and a page for its colour.
struct Slab {
    base: NonNull<u8>,
    slots: usize,
    stack_bytes: usize,
    /// Released slots (their guard is installed), last released last.
    free: Vec<u16>,
    /// Slots from here up were never handed out.
    fresh: usize,
    /// Slots below this have their guard installed (`fresh <= guarded`):
    /// markers go in ahead of use, in batches (see [`Slabs::guard_slots`]).
    guarded: usize,
    /// Slots handed out and not released.
    used: usize,
    /// Where it is in `Slabs::open`, if there.
    open_at: Option<usize>,
}

/// The bytes of a slot's stack, for stacks of `stack_bytes`: what was
/// asked for, and a page whose top part is left unused as the stack's
/// colour; `None` if that overflows.
fn span_for(stack_bytes: usize) -> Option<usize> {
    stack_bytes.checked_add(stack::page_size())
}

/// The bytes of a slot: its guard page, then its stack's
/// [`span`](span_for).
fn slot_bytes_for(stack_bytes: usize) -> Option<usize> {
    span_for(stack_bytes)?.checked_add(stack::page_size())
}

impl Slab {
    /// [`span_for`] this slab's stacks (`map_slab` checked that it fits).
    fn span(&self) -> usize {
        span_for(self.stack_bytes).expect("checked by map_slab")
    }

    /// [`slot_bytes_for`] this slab's stacks (`map_slab` checked that it
    /// fits).
    fn slot_bytes(&self) -> usize {
        slot_bytes_for(self.stack_bytes).expect("checked by map_slab")
    }

    fn map_bytes(&self) -> usize {
        self.slots * self.slot_bytes()
    }

    /// The guard page of slot `i`; its stack starts a page higher.
    fn slot(&self, i: usize) -> *mut u8 {
        self.base.as_ptr().wrapping_add(i * self.slot_bytes())
    }

    /// The stack of slot `i`.
    fn stack(&self, i: usize) -> *mut u8 {
        self.slot(i).wrapping_add(stack::page_size())
    }
}

impl Slabs {
    const fn new() -> Slabs {
        Slabs {
            open: Vec::new(),
            kept: None,
            guard: None,
            pending: Vec::new(),
            vectored: None,
        }
    }

    /// The last open slab of stacks of `stack_bytes`.
    fn find_open(&self, stack_bytes: usize) -> Option<NonNull<Slab>> {
        let at = self
            .open
            .iter()
            // SAFETY: the slabs in `open` are mapped and owned by this thread.
            .rposition(|s| unsafe { s.as_ref() }.stack_bytes == stack_bytes)?;
        Some(self.open[at])
    }

    fn take(&mut self, stack_bytes: usize) -> Option<SpareStack> {
        let mut found = self.find_open(stack_bytes);
        if found.is_none() && !self.pending.is_empty() {
            // Free the released stacks before mapping more.
            self.discard_pending();
            found = self.find_open(stack_bytes);
        }
        let mut slab_ptr = match found {
            Some(slab) => slab,
            None => {
                let slab = map_slab(stack_bytes)?;
                self.add_open(slab);
                slab
            }
        };
        // SAFETY: a slab of this thread, mapped; no other reference to it
        // is alive (this one ends before `remove_open` or `emptied` make
        // their own).
        let slab = unsafe { slab_ptr.as_mut() };
        let i = match slab.free.pop() {
            Some(i) => usize::from(i),
            None => {
                let i = slab.fresh;
                if i == slab.guarded && !self.guard_slots(slab) {
                    if slab.used == 0 {
                        self.emptied(slab_ptr); // a new slab: not kept
                    }
                    return None;
                }
                slab.fresh += 1;
                i
            }
        };
        slab.used += 1;
        let full = slab.free.is_empty() && slab.fresh == slab.slots;
        let (base, span) = (slab.stack(i), slab.span());
        if self.kept == Some(slab_ptr) {
            self.kept = None;
        }
        if full {
            self.remove_open(slab_ptr);
        }
        let owner = StackOwner {
            release,
            data: slab_ptr.as_ptr().cast(),
        };
        let colour = i % COLOURS * COLOUR_STEP;
        // SAFETY: the stack of slot `i`: whole pages inside the slab's
        // private mapping, readable and writable, with the guard installed
        // right below; handed out to no one else until `release` gives it
        // back. The colour is whole lines, less than the extra page.
        Some(unsafe { SpareStack::from_raw_with_gap(base, span, colour, owner) })
    }

    /// Installs the guards of the slots from `slab.guarded` on: as many as
    /// are guarded already (1, 1, 2, 4, …, up to the slab's end). Batches of
    /// two and more are one `process_madvise` (Linux 6.15), when the thread
    /// has markers and the kernel takes them that way; otherwise, and for
    /// the first two slots, it is the one slot's `madvise` (or `mprotect`).
    /// A slab that serves one greenlet gets one guard; a full slab of 64,
    /// seven calls instead of 64 (0.5–0.6 µs a slot against 0.9–1.0 µs,
    /// measured here). Whether any was installed.
    fn guard_slots(&mut self, slab: &mut Slab) -> bool {
        let first = slab.guarded;
        debug_assert!(first < slab.slots, "every slot is guarded");
        let n = first.max(1).min(slab.slots - first);
        if n > 1 && self.guard == Some(Guard::Marker) {
            let page = stack::page_size();
            let mut iov = [EMPTY_IOVEC; SLOTS];
            let iov = &mut iov[..n];
            for (k, v) in iov.iter_mut().enumerate() {
                v.iov_base = slab.slot(first + k).cast();
                v.iov_len = page;
            }
            // SAFETY: each range is the guard page of a slot of this
            // thread's slab, inside the mapping (`first + n <= slots`), of a
            // slot never handed out (at or above `fresh`): nothing lives
            // there. A marker discards the page's contents and makes it
            // fault on access, which is all a guard page is for.
            let done = unsafe { self.advise_vectored(iov, MADV_GUARD_INSTALL) };
            // The kernel counts whole iovecs done, in order: whole pages.
            let pages = done.map_or(0, |bytes| bytes / page);
            if pages > 0 {
                let guarded = pages.min(n);
                populate_tops(slab, first, &mut iov[..guarded]);
                slab.guarded += guarded;
                return true;
            }
            // None done: the one slot's, below.
        }
        match self.install_guard(slab.slot(first)) {
            Some(guard) => {
                self.guard = Some(guard);
                slab.guarded += 1;
                true
            }
            None => false,
        }
    }

    /// Installs the guard page at `page`: a marker if the kernel can.
    fn install_guard(&self, page: *mut u8) -> Option<Guard> {
        let size = stack::page_size();
        if self.guard != Some(Guard::Protect) {
            // SAFETY: `page` is a whole page of a slab that this thread
            // mapped, in a slot that holds no stack yet: nothing lives there.
            if unsafe { libc::madvise(page.cast(), size, MADV_GUARD_INSTALL) } == 0 {
                return Some(Guard::Marker);
            }
            // EINVAL: the kernel does not know the advice (before 6.13), or
            // the mapping cannot carry markers (locked memory). Anything
            // else (memory for the page table) is a failure of this spawn.
            let unknown = std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL);
            if !unknown || self.guard == Some(Guard::Marker) {
                return None;
            }
        }
        // SAFETY: as above.
        let rc = unsafe { libc::mprotect(page.cast(), size, libc::PROT_NONE) };
        (rc == 0).then_some(Guard::Protect)
    }

    fn add_open(&mut self, mut slab: NonNull<Slab>) {
        // SAFETY: a slab of this thread; no other reference is alive.
        unsafe { slab.as_mut() }.open_at = Some(self.open.len());
        self.open.push(slab);
    }

    fn remove_open(&mut self, mut slab: NonNull<Slab>) {
        // SAFETY: a slab of this thread; no other reference is alive.
        let Some(at) = unsafe { slab.as_mut() }.open_at.take() else {
            return;
        };
        self.open.swap_remove(at);
        if let Some(moved) = self.open.get_mut(at) {
            // SAFETY: as above, another slab.
            unsafe { moved.as_mut() }.open_at = Some(at);
        }
    }

    /// Slot `i` of `slab` was released: its discard waits for the batch.
    fn released(&mut self, slab_ptr: NonNull<Slab>, i: usize) {
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(DISCARD_BATCH);
        }
        self.pending.push((slab_ptr, i as u16));
        if self.pending.len() >= DISCARD_BATCH {
            self.discard_pending();
        }
    }

    /// Discards the pages of every pending stack, and frees their slots.
    fn discard_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        debug_assert!(self.pending.len() <= DISCARD_BATCH);
        let mut iov = [EMPTY_IOVEC; DISCARD_BATCH];
        for (v, &(slab_ptr, i)) in iov.iter_mut().zip(&self.pending) {
            // SAFETY: a slab of this thread, mapped (it has a slot in use,
            // pending); read only.
            let slab = unsafe { slab_ptr.as_ref() };
            v.iov_base = slab.stack(usize::from(i)).cast();
            v.iov_len = slab.span();
        }
        let iov = &iov[..self.pending.len()];
        let total: usize = iov.iter().map(|v| v.iov_len).sum();
        // SAFETY: as in `discard`, for each range.
        if unsafe { self.advise_vectored(iov, libc::MADV_DONTNEED) } != Some(total) {
            // Refused, or stopped part way: one by one (a second discard of
            // a range is harmless).
            iov.iter()
                .for_each(|v| discard(v.iov_base.cast(), v.iov_len));
        }
        // `give_back` leaves `pending` alone.
        for k in 0..self.pending.len() {
            let (slab_ptr, i) = self.pending[k];
            self.give_back(slab_ptr, usize::from(i));
        }
        self.pending.clear();
    }

    /// `advice` for every range of `iov` with one `process_madvise`, unless
    /// this kernel is known to lack it: the bytes advised (the kernel works
    /// through the ranges in order and may stop early), or `None` when the
    /// caller must go range by range. A kernel without it says so at the
    /// first call, which settles it for the thread; any other error
    /// (memory for the kernel's copy of the vector) is this call's only.
    ///
    /// # Safety
    ///
    /// As [`advise_together`].
    unsafe fn advise_vectored(
        &mut self,
        iov: &[libc::iovec],
        advice: libc::c_int,
    ) -> Option<usize> {
        if self.vectored == Some(false) {
            return None;
        }
        // SAFETY: the caller's.
        match unsafe { advise_together(iov, advice) } {
            Ok(done) => {
                self.vectored = Some(true);
                Some(done)
            }
            Err(errno) => {
                if self.vectored.is_none() && kernel_lacks_it(errno) {
                    self.vectored = Some(false);
                }
                None
            }
        }
    }

    /// Slot `i` of `slab` was released and its pages discarded.
    fn give_back(&mut self, mut slab_ptr: NonNull<Slab>, i: usize) {
        // SAFETY: a slab of this thread, still mapped (it has a slot in use:
        // this one); no other reference is alive.
        let slab = unsafe { slab_ptr.as_mut() };
        debug_assert!(slab.used > 0 && i < slab.fresh);
        slab.free.push(i as u16);
        slab.used -= 1;
        let used = slab.used;
        if slab.open_at.is_none() {
            self.add_open(slab_ptr);
        }
        if used == 0 {
            self.emptied(slab_ptr);
        }
    }

    /// `slab`, open, has no slot in use: it is kept, unless another is kept
    /// already. Of two, the one of the default stack size is kept (a slab
    /// of an older default would never be used again).
    fn emptied(&mut self, slab_ptr: NonNull<Slab>) {
        if self.kept == Some(slab_ptr) {
            return; // a kept slab whose first guard failed again
        }
        let current = |p: NonNull<Slab>| {
            // SAFETY: a slab of this thread, mapped; read only.
            unsafe { p.as_ref() }.stack_bytes == stack::default_size()
        };
        let unmap = match self.kept {
            None => {
                self.kept = Some(slab_ptr);
                return;
            }
            Some(kept) if !current(kept) && current(slab_ptr) => {
                self.kept = Some(slab_ptr);
                kept
            }
            Some(_) => slab_ptr,
        };
        self.remove_open(unmap);
        unmap_slab(unmap);
    }

    /// The mappings this thread holds for stacks with a free slot.
    #[cfg(test)]
    fn mapped(&self) -> usize {
        self.open.len()
    }
}

impl Drop for Slabs {
    /// At thread exit: slabs with no stack in use are unmapped; the others
    /// are left to their stacks in use, the last of which unmaps its slab
    /// (see [`release`]).
    fn drop(&mut self) {
        if is_main_thread() {
            // `exit` is under way: the kernel's teardown of the address
            // space frees everything at once.
            return;
        }
        self.discard_pending();
        for slab_ptr in std::mem::take(&mut self.open) {
            // SAFETY: a slab of this thread, mapped; read only.
            if unsafe { slab_ptr.as_ref() }.used == 0 {
                unmap_slab(slab_ptr);
            }
        }
    }
}

/// Whether this is the process's main thread, whose thread-locals are
/// destroyed only by `exit`, right before the kernel tears the whole
/// address space down at once.
fn is_main_thread() -> bool {
    // SAFETY: getpid and gettid have no preconditions; they only read the
    // caller's ids.
    unsafe { libc::getpid() == libc::gettid() }
}

/// Maps a slab for stacks of `stack_bytes`; `None` if the kernel refuses
/// (or the size overflows).
fn map_slab(stack_bytes: usize) -> Option<NonNull<Slab>> {
    let slot_bytes = slot_bytes_for(stack_bytes)?;
    let slots = (SLAB_BYTES / slot_bytes).clamp(1, SLOTS);
    let len = slots.checked_mul(slot_bytes)?;
    // SAFETY: a new private anonymous mapping; it overlaps nothing.
    // `MAP_STACK` keeps transparent huge pages away (a stack touches one
    // page or a few), `MAP_NORESERVE` the commit charge for pages that are
    // never touched.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return None;
    }
    let slab = Box::new(Slab {
        base: NonNull::new(base.cast())?,
        slots,
        stack_bytes,
        free: Vec::with_capacity(slots),
        fresh: 0,
        guarded: 0,
        used: 0,
        open_at: None,
    });
    Some(NonNull::from(Box::leak(slab)))
}

/// Unmaps a slab with no stack in use and frees its record.
fn unmap_slab(slab_ptr: NonNull<Slab>) {
    // SAFETY: the record was leaked from a `Box` by `map_slab`, and no
    // stack of the slab is in use, so no `StackOwner` will name it again.
    let slab = unsafe { Box::from_raw(slab_ptr.as_ptr()) };
    debug_assert_eq!(slab.used, 0);
    // SAFETY: the slab's whole mapping, with nothing living in it.
    unsafe { libc::munmap(slab.base.as_ptr().cast(), slab.map_bytes()) };
    #[cfg(test)]
    tests::UNMAPPED
        .lock()
        .unwrap()
        .push(slab.base.as_ptr() as usize);
}

/// generator's call when nothing uses the stack `base .. base + size` of the
/// slab `data` any more (generator patch 4).
///
/// # Safety
///
/// As [`StackOwner::release`]: called once per stack that [`Slabs::take`]
/// handed out, when nothing of it is in use.
unsafe fn release(data: *mut (), base: *mut u8, size: usize) {
    let slab_ptr = NonNull::new(data.cast::<Slab>()).expect("a slab record");
    // SAFETY: the slab is mapped (this slot is in it); read only, and the
    // reference ends before anything else refers to the record.
    let slab = unsafe { slab_ptr.as_ref() };
    let i = (base as usize - stack::page_size() - slab.base.as_ptr() as usize) / slab.slot_bytes();
    debug_assert_eq!((slab.stack(i), slab.span()), (base, size));
    let queued = SLABS.try_with(|s| match s.try_borrow_mut() {
        Ok(mut slabs) => slabs.released(slab_ptr, i),
        // Cannot happen: nothing done under that borrow drops a stack. The
        // slot is leaked rather than the bookkeeping corrupted.
        Err(_) => debug_assert!(false, "a stack released inside the slab bookkeeping"),
    });
    if queued.is_err() {
        // The thread's bookkeeping is gone (thread exit): the slab's record
        // lives on for its stacks in use; the last one unmaps the slab.
        discard(base, size);
        orphan_released(slab_ptr);
    }
}

/// Discards the pages of a released stack: its memory goes back, and it
/// reads as zeroes again.
fn discard(base: *mut u8, len: usize) {
    // SAFETY: `base .. base + len` is a released stack that nothing uses
    // any more (see `release`; it is handed out again only once this
    // discard is done: a pending stack is neither free nor given back),
    // whole pages of a private anonymous mapping
    // of ours: the discard only replaces its contents with zero-fill pages,
    // and no Rust object lives there. The guard page below is not touched.
    unsafe { libc::madvise(base.cast(), len, libc::MADV_DONTNEED) };
}

/// Faults in the top page of the slots of `slab` from `first` on, one per
/// entry of `iov` (whose entries it overwrites), never handed out yet, in
/// one `process_madvise(MADV_POPULATE_WRITE)` (Linux 5.14 for the advice):
/// the page that generator writes its record to when a greenlet is
/// spawned on the slot, and that the greenlet's outer frames use. Called
/// with the batch of guards installed ahead of use, so that those pages
/// cost one system call between them rather than a page fault each: 1.06
/// µs a slot against 1.39–1.57 µs (a million slots, 264 KiB apart, on the
/// 2 vCPU KVM guest; a fault is dearer in a virtual machine). Up to 31 of
/// those pages are resident before a greenlet needs them (see the module
/// docs). A failure leaves the pages to fault in on first use.
fn populate_tops(slab: &Slab, first: usize, iov: &mut [libc::iovec]) {
    debug_assert!(first + iov.len() <= slab.slots);
    let page = stack::page_size();
    let top_page = slab.span() - page;
    for (k, v) in iov.iter_mut().enumerate() {
        v.iov_base = slab.stack(first + k).wrapping_add(top_page).cast();
        v.iov_len = page;
    }
    // SAFETY: each range is the top page of a slot of this thread's slab,
    // inside the mapping (`first + iov.len() <= slots`), of a slot never
    // handed out (at or above `fresh`, which the caller has not moved past
    // `first`): nothing lives there. Populating for writing never changes
    // a page's contents; it only faults in the zero-filled page a first
    // write would.
    let _ = unsafe { advise_together(iov, libc::MADV_POPULATE_WRITE) };
}

/// `advice` for every range of `iov` with one `process_madvise` on this
/// process: the bytes advised (the kernel works through the ranges in order
/// and may stop early), or the call's `errno`.
///
/// # Safety
///
/// As for `madvise(advice)` on each range: they are whole pages of private
/// anonymous mappings of ours, and what the advice does to them (discard
/// their contents, make them fault) harms no object that lives there.
unsafe fn advise_together(iov: &[libc::iovec], advice: libc::c_int) -> Result<usize, i32> {
    // SAFETY: the kernel only reads the `iov.len()` iovecs, which describe
    // the ranges; what it does to them the caller vouches for.
    let done = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF,
            iov.as_ptr(),
            iov.len(),
            advice,
            0u32,
        )
    };
    usize::try_from(done).map_err(|_| std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Whether `process_madvise` failed with `errno` because this kernel lacks
/// it: the call (`ENOSYS`, before 5.10), `PIDFD_SELF` (`EBADF`, before 6.15)
/// or the advice for it (`EINVAL`, before 6.13), or a sandbox forbids it
/// (`EPERM`).
fn kernel_lacks_it(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOSYS | libc::EBADF | libc::EINVAL | libc::EPERM
    )
}

/// A stack of `slab` was released after its thread's bookkeeping was
/// dropped ([`Slabs::drop`] left the slab to its stacks in use).
fn orphan_released(mut slab_ptr: NonNull<Slab>) {
    if is_main_thread() {
        return; // `exit` is under way
    }
    // SAFETY: the record is alive (this stack was in use) and only this
    // thread, whose bookkeeping is gone, refers to it.
    let slab = unsafe { slab_ptr.as_mut() };
    slab.used -= 1;
    if slab.used == 0 {
        unmap_slab(slab_ptr);
    }
}

#[cfg(test)]
mod tests;
