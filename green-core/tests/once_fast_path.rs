//! The fast path of an initialized `Once`, `OnceLock` or `LazyLock`
//! allocates nothing, inside `run` and outside (this binary counts the
//! allocations of each thread).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use green::sync::{LazyLock, Once, OnceLock};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to `System` unchanged; counting touches a
// const thread-local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations_of(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

static ONCE: Once = Once::new();
static CELL: OnceLock<Vec<u8>> = OnceLock::new();
static LAZY: LazyLock<Vec<u8>> = LazyLock::new(|| vec![1, 2, 3]);

fn hammer() -> usize {
    let mut sum = 0;
    for _ in 0..1000 {
        ONCE.call_once(|| unreachable!());
        ONCE.call_once_force(|_| unreachable!());
        ONCE.wait();
        sum += CELL.get_or_init(|| unreachable!()).len();
        sum += CELL.wait().len();
        sum += CELL.get().map_or(0, Vec::len);
        sum += LAZY.len();
        sum += LazyLock::get(&LAZY).map_or(0, Vec::len);
    }
    sum
}

#[test]
fn an_initialized_cell_allocates_nothing() {
    ONCE.call_once(|| {});
    CELL.get_or_init(|| vec![1, 2, 3]);
    let _ = LAZY.len();
    assert_eq!(allocations_of(|| assert_eq!(hammer(), 15_000)), 0);
    green::run(|| {
        assert_eq!(allocations_of(|| assert_eq!(hammer(), 15_000)), 0);
    });
}
