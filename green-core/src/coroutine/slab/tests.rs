//! The slabs' tests: guards, discards, unmapping, overflow.

use super::*;

/// The slabs unmapped so far (their base), by every test thread: an
/// address range freed by one test may be mapped again by another at
/// once, so `/proc/self/maps` cannot tell.
pub(super) static UNMAPPED: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

fn was_unmapped(slab_start: usize) -> bool {
    UNMAPPED.lock().unwrap().contains(&slab_start)
}

/// Whether reading the byte at `addr` faults, found without a signal:
/// `process_vm_readv` on ourselves fails with `EFAULT` where a read would
/// fault.
fn faults(addr: usize) -> bool {
    let mut byte = 0u8;
    let local = libc::iovec {
        iov_base: ptr::addr_of_mut!(byte).cast(),
        iov_len: 1,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: 1,
    };
    // SAFETY: the kernel writes one byte into `byte` and reads our own
    // memory through the page tables; a bad address is an error, not a
    // fault.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if n == 1 {
        return false;
    }
    let err = std::io::Error::last_os_error();
    assert_eq!(
        err.raw_os_error(),
        Some(libc::EFAULT),
        "process_vm_readv: {err}"
    );
    true
}

/// How many pages of `addr .. addr + len` are resident (`mincore`).
fn resident_pages(addr: usize, len: usize) -> usize {
    let page = stack::page_size();
    let mut vec = vec![0u8; len.div_ceil(page)];
    // SAFETY: mincore only reads the page tables of a range we mapped
    // and still hold; `vec` has a byte for every page of it.
    let rc = unsafe { libc::mincore(addr as *mut _, len, vec.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    vec.iter().filter(|&&b| b & 1 != 0).count()
}

/// How many lines of `/proc/self/maps` overlap `start .. end`, as two reads
/// in a row agree: other test threads map and unmap while one reads, and a
/// read of the file is not atomic (a line near a change may come twice or
/// not at all). One run of the whole suite on 2026-12-05 (Linux 6.18) saw a
/// count other than 1 for a slab that was still mapped.
fn mappings_in(start: usize, end: usize) -> usize {
    let mut last = mappings_in_once(start, end);
    for _ in 0..100 {
        let now = mappings_in_once(start, end);
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("/proc/self/maps kept changing around {start:#x}..{end:#x}");
}

/// The lines of `/proc/self/maps` within 4 MiB of `addr`, for a failure's
/// message.
fn maps_around(addr: usize) -> String {
    let near = 4 << 20;
    maps_overlapping(addr.saturating_sub(near), addr.saturating_add(near)).join("\n")
}

fn mappings_in_once(start: usize, end: usize) -> usize {
    maps_overlapping(start, end).len()
}

/// The lines of one read of `/proc/self/maps` that overlap `start .. end`.
fn maps_overlapping(start: usize, end: usize) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|line| {
            let range = line.split_whitespace().next().unwrap();
            let (a, b) = range.split_once('-').unwrap();
            let a = usize::from_str_radix(a, 16).unwrap();
            let b = usize::from_str_radix(b, 16).unwrap();
            a < end && start < b
        })
        .map(String::from)
        .collect()
}

/// Runs `f` on a thread of its own, so with slabs of its own, the guard
/// kind forced if given.
fn on_fresh_thread(guard: Option<Guard>, f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        SLABS.with(|s| s.borrow_mut().guard = guard);
        f();
    })
    .join()
    .unwrap();
}

fn guard_kind() -> Option<Guard> {
    SLABS.with(|s| s.borrow().guard)
}

/// Discards the released stacks now, as a full batch would.
fn flush() {
    SLABS.with(|s| s.borrow_mut().discard_pending());
}

fn pending() -> usize {
    SLABS.with(|s| s.borrow().pending.len())
}

/// Whether the running kernel is `major.minor` or later (`uname`).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(['.', '-']).map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(a)), Some(Ok(b))) => (a, b) >= (major, minor),
        _ => panic!("cannot read the kernel release {release:?}"),
    }
}

/// The slab a stack came from: its mapping's range.
fn slab_range(stack: &SpareStack) -> (usize, usize) {
    SLABS.with(|s| {
        let slabs = s.borrow();
        let base = stack.base() as usize;
        let all = slabs.open.iter();
        // SAFETY: the test thread's own slabs, mapped.
        let found = all.map(|p| unsafe { p.as_ref() }).find_map(|slab| {
            let start = slab.base.as_ptr() as usize;
            (start..start + slab.map_bytes())
                .contains(&base)
                .then_some((start, start + slab.map_bytes()))
        });
        found.expect("the stack's slab is open")
    })
}

fn guards_below_every_stack(guard: Option<Guard>) {
    on_fresh_thread(guard, move || {
        let bytes = stack::default_size();
        let stacks: Vec<SpareStack> = (0..SLOTS + 1).map(|_| take(bytes).unwrap()).collect();
        let kind = guard_kind().expect("a guard was installed");
        if guard.is_some() {
            assert_eq!(Some(kind), guard);
        } else if kind == Guard::Protect {
            eprintln!("the kernel has no MADV_GUARD_INSTALL: mprotect guards");
        }
        for s in &stacks {
            let base = s.base() as usize;
            assert_eq!(
                s.size_bytes(),
                bytes + stack::page_size(),
                "a page for the colour"
            );
            assert!(faults(base - 1), "no guard page below {base:#x}");
            assert!(!faults(base) && !faults(base + bytes - 1));
        }
        // Two slabs: the first full, the second with one stack.
        let (start, end) = slab_range(&stacks[SLOTS]);
        let maps = mappings_in(start, end);
        match kind {
            Guard::Marker => assert_eq!(maps, 1, "a slab is one mapping"),
            // the guard page, then the stack and the untouched rest
            Guard::Protect => assert_eq!(maps, 2),
        }
    });
}

#[test]
fn every_stack_has_a_guard_page_below_it() {
    guards_below_every_stack(None);
}

#[test]
fn every_stack_has_a_guard_page_below_it_without_guard_markers() {
    guards_below_every_stack(Some(Guard::Protect));
}

/// The guarded and handed-out slots of the slab `stack` came from.
fn guarded_and_fresh(stack: &SpareStack) -> (usize, usize, Vec<usize>) {
    let (start, _) = slab_range(stack);
    SLABS.with(|s| {
        let slabs = s.borrow();
        // SAFETY: the test thread's own slabs, mapped.
        let slab = slabs
            .open
            .iter()
            .map(|p| unsafe { p.as_ref() })
            .find(|slab| slab.base.as_ptr() as usize == start)
            .expect("the slab is open");
        let pages = (0..slab.slots).map(|i| slab.slot(i) as usize).collect();
        (slab.guarded, slab.fresh, pages)
    })
}

/// Takes stacks of `bytes` one by one from a new slab, all but its
/// last (a full slab leaves `open`), and returns (guarded, fresh) after
/// each, the slab's slot count, and whether guards went in vectored.
fn guard_counts(
    vectored: Option<bool>,
    bytes: usize,
) -> (Vec<(usize, usize)>, usize, Option<bool>) {
    let result = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), 0, None)));
    let out = result.clone();
    on_fresh_thread(None, move || {
        SLABS.with(|s| s.borrow_mut().vectored = vectored);
        let mut stacks = vec![take(bytes).unwrap()];
        let slots = guarded_and_fresh(&stacks[0]).2.len();
        let mut counts = Vec::new();
        loop {
            let (guarded, fresh, pages) = guarded_and_fresh(&stacks[0]);
            assert!(guarded <= slots, "guards past the slab's end");
            // Every guard installed faults, handed out or not yet.
            for &page in &pages[..guarded] {
                assert!(faults(page), "slot at {page:#x} has no guard");
            }
            if guarded < slots {
                assert!(!faults(pages[guarded]), "a guard past `guarded`");
            }
            counts.push((guarded, fresh));
            if stacks.len() == slots - 1 {
                break;
            }
            stacks.push(take(bytes).unwrap());
        }
        let flag = SLABS.with(|s| s.borrow().vectored);
        *out.lock().unwrap() = (counts, slots, flag);
    });
    let result = result.lock().unwrap().clone();
    result
}

fn guards_go_in_doubling_batches(bytes: usize) {
    if !kernel_at_least(6, 15) {
        eprintln!("skipped: process_madvise(PIDFD_SELF) needs Linux 6.15");
        return;
    }
    let (counts, slots, vectored) = guard_counts(None, bytes);
    if vectored == Some(false) {
        eprintln!("skipped: the kernel refused the vectored call (a sandbox?)");
        return;
    }
    for (k, &(guarded, fresh)) in counts.iter().enumerate() {
        let taken = k + 1;
        assert_eq!(fresh, taken);
        // 1, 2, 4, 4, 8, 8, 8, 8, 16 …, and then the slab's end.
        assert_eq!(
            guarded,
            taken.next_power_of_two().min(slots),
            "after {taken}"
        );
    }
    assert_eq!(counts.last().unwrap().0, slots);
}

#[test]
fn guard_markers_go_in_ahead_of_use_in_doubling_batches() {
    guards_go_in_doubling_batches(stack::default_size());
}

#[test]
fn guard_batches_stop_at_the_end_of_a_slab_of_fewer_slots() {
    // Twice the default: fewer than 64 slots (63 for 256 KiB), so the
    // last batch is cut short.
    let bytes = stack::default_size() * 2;
    assert!(SLAB_BYTES / slot_bytes_for(bytes).unwrap() < SLOTS);
    guards_go_in_doubling_batches(bytes);
}

#[test]
fn guards_go_in_one_by_one_without_vectored_calls() {
    let (counts, _, _) = guard_counts(Some(false), stack::default_size());
    for (k, (guarded, fresh)) in counts.into_iter().enumerate() {
        assert_eq!((guarded, fresh), (k + 1, k + 1));
    }
}

#[test]
fn the_top_pages_of_a_batch_of_guards_are_resident_before_use() {
    if !kernel_at_least(6, 15) {
        eprintln!("skipped: process_madvise(PIDFD_SELF) needs Linux 6.15");
        return;
    }
    on_fresh_thread(None, || {
        let page = stack::page_size();
        let mut stacks = vec![take(stack::default_size()).unwrap()];
        let slot_bytes = {
            let pages = guarded_and_fresh(&stacks[0]).2;
            pages[1] - pages[0]
        };
        while stacks.len() < 20 {
            stacks.push(take(stack::default_size()).unwrap());
        }
        if SLABS.with(|s| s.borrow().vectored) == Some(false) {
            eprintln!("skipped: the kernel refused the vectored call (a sandbox?)");
            return;
        }
        let (guarded, fresh, pages) = guarded_and_fresh(&stacks[0]);
        // 20 taken: guards up to 32, slots 20..32 ready and not handed out.
        assert_eq!((guarded, fresh), (32, 20));
        for (i, &slot) in pages.iter().enumerate().take(guarded).skip(fresh) {
            let top = slot + slot_bytes - page;
            assert_eq!(resident_pages(top, page), 1, "slot {i}'s top page");
            assert_eq!(
                resident_pages(slot + page, slot_bytes - 2 * page),
                0,
                "slot {i}: only its top page"
            );
        }
        let top = pages[guarded] + slot_bytes - page;
        assert_eq!(resident_pages(top, page), 0, "past the guards");
    });
}

/// Fills `s` with a pattern below its top page, which holds generator's
/// record of the stack (generator patch 10): all its pages become resident.
fn fill(s: &SpareStack) {
    let page = stack::page_size();
    // SAFETY: the stack is ours and nothing runs on it; the record is left
    // alone.
    unsafe { ptr::write_bytes(s.base(), 0xA5, s.size_bytes() - page) };
    assert_eq!(
        resident_pages(s.base() as usize, s.size_bytes()),
        s.size_bytes() / page
    );
}

/// Whether `s` reads as zeroes but for generator's record of the stack,
/// written when it was taken (generator patch 10): the line right below
/// the slot's colour gap.
fn reads_as_zeroes(s: &SpareStack) -> bool {
    let size = s.size_bytes();
    let base = s.base().cast::<u64>();
    // SAFETY: inside the stack, which is ours, whole words.
    let dirty =
        |line: usize| (0..8).any(|w| unsafe { base.add(line * 8 + w).read_volatile() } != 0);
    let dirty: Vec<usize> = (0..size / 64).filter(|&line| dirty(line)).collect();
    match dirty[..] {
        [] => true,
        [line] => {
            let gap = size - (line + 1) * 64;
            gap.is_multiple_of(COLOUR_STEP) && gap < COLOURS * COLOUR_STEP
        }
        _ => false,
    }
}

/// Released stacks keep their pages until a batch is complete, then
/// hold none, read as zeroes, and the slot released last is taken next.
fn released_stacks_are_discarded_in_a_batch(vectored: Option<bool>) {
    on_fresh_thread(None, move || {
        SLABS.with(|s| s.borrow_mut().vectored = vectored);
        let bytes = stack::default_size();
        let mut stacks: Vec<SpareStack> =
            (0..DISCARD_BATCH).map(|_| take(bytes).unwrap()).collect();
        let last = stacks.pop().unwrap();
        // Taking them may have found it out already (guard markers): from
        // here on only the discards can.
        SLABS.with(|s| s.borrow_mut().vectored = vectored);
        fill(&stacks[0]);
        fill(&last);
        let (first, len) = (stacks[0].base() as usize, stacks[0].size_bytes());
        let last_base = last.base() as usize;
        drop(stacks);
        assert_eq!(pending(), DISCARD_BATCH - 1);
        assert_eq!(
            resident_pages(first, len),
            len / stack::page_size(),
            "not yet"
        );
        drop(last);
        assert_eq!(pending(), 0, "one batch");
        assert_eq!(resident_pages(first, len), 0, "every page went back");
        assert_eq!(resident_pages(last_base, len), 0);
        let s = take(bytes).unwrap();
        assert_eq!(s.base() as usize, last_base, "the slot released last");
        assert!(reads_as_zeroes(&s));
        let used = SLABS.with(|s| s.borrow().vectored);
        match vectored {
            Some(forced) => assert_eq!(used, Some(forced)),
            None if kernel_at_least(6, 15) => assert_eq!(used, Some(true)),
            None => eprintln!("a kernel before 6.15: one madvise a stack"),
        }
    });
}

#[test]
fn released_stacks_are_discarded_in_one_call_per_batch() {
    released_stacks_are_discarded_in_a_batch(None);
}

#[test]
fn released_stacks_are_discarded_one_by_one_without_process_madvise() {
    released_stacks_are_discarded_in_a_batch(Some(false));
}

#[test]
fn a_spawn_with_no_free_slot_reuses_a_released_stack_before_mapping() {
    on_fresh_thread(None, || {
        let bytes = stack::default_size();
        let mut stacks: Vec<SpareStack> = (0..SLOTS).map(|_| take(bytes).unwrap()).collect();
        SLABS.with(|s| assert_eq!(s.borrow().mapped(), 0, "the slab is full"));
        let released = stacks.swap_remove(5);
        fill(&released);
        let base = released.base() as usize;
        drop(released);
        assert_eq!(pending(), 1);
        let s = take(bytes).unwrap();
        assert_eq!(s.base() as usize, base, "the released one, discarded");
        assert!(reads_as_zeroes(&s));
        assert_eq!(pending(), 0);
        SLABS.with(|s| assert_eq!(s.borrow().mapped(), 0, "no slab mapped"));
    });
}

#[test]
fn released_stacks_pending_at_thread_exit_are_discarded_and_their_slab_unmapped() {
    let slab = std::thread::spawn(|| {
        let stacks: Vec<SpareStack> = (0..3)
            .map(|_| take(stack::default_size()).unwrap())
            .collect();
        let range = slab_range(&stacks[0]);
        drop(stacks);
        assert_eq!(pending(), 3);
        range.0
    })
    .join()
    .unwrap();
    assert!(was_unmapped(slab), "discarded, given back, and unmapped");
}

#[test]
fn an_empty_slab_is_unmapped_but_one_is_kept() {
    on_fresh_thread(None, || {
        let bytes = stack::default_size();
        let first: Vec<SpareStack> = (0..SLOTS).map(|_| take(bytes).unwrap()).collect();
        let second: Vec<SpareStack> = (0..SLOTS).map(|_| take(bytes).unwrap()).collect();
        SLABS.with(|s| assert_eq!(s.borrow().mapped(), 0, "both are full"));
        let one = first[0].base() as usize;
        let two = second[0].base() as usize;
        drop(first);
        SLABS.with(|s| assert_eq!(s.borrow().mapped(), 1, "the empty one is kept"));
        assert_eq!(
            mappings_in(one, one + 1),
            1,
            "the kept slab is one mapping; /proc/self/maps around it:\n{}",
            maps_around(one)
        );
        drop(second);
        SLABS.with(|s| assert_eq!(s.borrow().mapped(), 1, "the other is unmapped"));
        // slot 0's stack starts a guard page above the slab
        assert!(was_unmapped(two - stack::page_size()));
        let s = take(bytes).unwrap();
        let (start, end) = slab_range(&s);
        assert!((start..end).contains(&one), "from the kept slab");
    });
}

#[test]
fn a_greenlet_runs_on_a_slab_stack_and_gives_it_back() {
    use super::super::{Coroutine, Resumed};
    on_fresh_thread(None, || {
        let mut co = Coroutine::new(stack::default_size(), || {
            let buf = [1u8; 64 * 1024];
            std::hint::black_box(&buf);
        })
        .unwrap();
        assert_eq!(co.resume_alone(), Resumed::Done);
        SLABS.with(|s| {
            let slabs = s.borrow();
            // SAFETY: this thread's slab, mapped.
            let slab = unsafe { slabs.open[0].as_ref() };
            assert_eq!(slab.used, 1, "the coroutine's stack is a slab's");
        });
        drop(co);
        assert_eq!(pending(), 1);
        flush();
        SLABS.with(|s| {
            let slabs = s.borrow();
            // SAFETY: as above.
            assert_eq!(unsafe { slabs.open[0].as_ref() }.used, 0, "given back");
        });
    });
}

#[test]
fn the_kept_slab_emptied_again_stays_kept() {
    // As when a guard cannot be installed on a kept slab that never
    // handed out a stack.
    on_fresh_thread(None, || {
        drop(take(stack::default_size()).unwrap());
        flush();
        SLABS.with(|s| {
            let mut slabs = s.borrow_mut();
            let kept = slabs.kept.expect("kept");
            slabs.emptied(kept);
            // still open (so still mapped), and still the kept one
            assert_eq!((slabs.kept, slabs.mapped()), (Some(kept), 1));
        });
    });
}

#[test]
fn a_slab_of_an_old_default_size_is_not_the_one_kept() {
    on_fresh_thread(None, || {
        let bytes = stack::default_size();
        let old = take(bytes * 2).unwrap();
        let (old_slab, _) = slab_range(&old);
        drop(old);
        flush();
        SLABS.with(|s| assert_eq!(s.borrow().mapped(), 1, "kept, for now"));
        drop(take(bytes).unwrap());
        flush();
        SLABS.with(|s| assert_eq!(s.borrow().mapped(), 1, "one is unmapped"));
        assert!(was_unmapped(old_slab), "the one of the old size");
    });
}

#[test]
fn a_stack_released_after_its_threads_bookkeeping_unmaps_its_slab() {
    thread_local! {
        // Touched before SLABS, so destroyed after it (thread-locals
        // go in the reverse order of their first use).
        static HELD: RefCell<Vec<SpareStack>> = const { RefCell::new(Vec::new()) };
    }
    let range = std::thread::spawn(|| {
        HELD.with(|_| ());
        let stacks: Vec<SpareStack> = (0..3)
            .map(|_| take(stack::default_size()).unwrap())
            .collect();
        let range = slab_range(&stacks[0]);
        HELD.with(|h| h.borrow_mut().extend(stacks));
        range
    })
    .join()
    .unwrap();
    assert!(was_unmapped(range.0), "the slab went with its last stack");
}

/// Recurses until the stack overflows.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut buf = [0u8; 1024];
    std::hint::black_box(&mut buf);
    buf[0] = depth as u8;
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(u64::from(std::hint::black_box(&buf)[0]))
}

fn an_overflow_is_caught(guard: Option<Guard>) {
    use super::super::{Coroutine, Resumed};
    on_fresh_thread(guard, move || {
        let mut co = Coroutine::new(stack::default_size(), || {
            recurse(0);
        })
        .unwrap();
        if let Some(g) = guard {
            assert_eq!(guard_kind(), Some(g));
        }
        assert!(matches!(co.resume_alone(), Resumed::Overflowed));
        // Its frames were abandoned: never run, unwound or reused again.
        std::mem::forget(co);
    });
}

#[test]
fn an_overflow_of_a_slab_stack_is_caught() {
    an_overflow_is_caught(None);
}

#[test]
fn an_overflow_of_a_slab_stack_is_caught_without_guard_markers() {
    an_overflow_is_caught(Some(Guard::Protect));
}

/// A slab's slots leave their tops unused by [`COLOURS`] different gaps,
/// [`COLOUR_STEP`] apart, slot after slot, and each stack still has the
/// bytes asked for below its generator's first frame.
#[test]
fn stack_tops_take_every_colour_and_keep_their_size() {
    on_fresh_thread(None, || {
        let bytes = stack::default_size();
        let (mut below_top, mut alive) = (Vec::new(), Vec::new());
        for _ in 0..SLOTS {
            let spare = take(bytes).unwrap();
            let (base, span) = (spare.base() as usize, spare.size_bytes());
            let mut g = generator::Gn::<()>::new_scoped_local_on(
                spare,
                |mut s: generator::Scope<'_, '_, (), usize>| {
                    let local = 0u8;
                    s.yield_with(std::hint::black_box(&local) as *const u8 as usize);
                    0
                },
            );
            let addr = g.next().unwrap();
            assert!(
                addr - base >= bytes,
                "{} bytes below the first frame",
                addr - base
            );
            below_top.push(base + span - addr);
            alive.push(g); // its slot is not taken again
        }
        // On a fresh thread the first slot taken is the slab's first.
        let colours: Vec<usize> = below_top.iter().map(|d| d - below_top[0]).collect();
        let want: Vec<usize> = (0..SLOTS).map(|i| i % COLOURS * COLOUR_STEP).collect();
        assert_eq!(colours, want);
    });
}
