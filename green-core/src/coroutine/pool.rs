//! A per-thread pool of finished coroutines, so that a spawn reuses a mapped
//! stack instead of paying for `mmap` + `mprotect` + page faults.
//!
//! Only the default stack size is pooled; other sizes are rare enough that
//! keeping them would mostly hold memory.

use std::cell::RefCell;

use super::{stack, Coroutine};

/// How many finished stacks a thread keeps at most.
const MAX_POOLED: usize = 1024;

thread_local! {
    static POOL: RefCell<Vec<Coroutine>> = const { RefCell::new(Vec::new()) };
}

/// A finished coroutine with a stack of exactly `stack_bytes`, if one is free.
pub(super) fn take(stack_bytes: usize) -> Option<Coroutine> {
    if stack_bytes != stack::default_size() {
        return None;
    }
    POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        // Stacks pooled under an earlier default size are released, never
        // handed out: a greenlet must not get a smaller stack than it asked for.
        while let Some(co) = p.pop() {
            if co.stack_bytes == stack_bytes {
                return Some(co);
            }
        }
        None
    })
    .ok()
    .flatten()
}

/// Keeps a finished coroutine for reuse, or drops (unmaps) it.
pub(super) fn put(co: Coroutine) {
    if co.stack_bytes != stack::default_size() {
        return;
    }
    // At thread exit the pool may already be gone: then just unmap.
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < MAX_POOLED {
            p.push(co);
        }
    });
}
