//! The unsafe fence: the only module that touches the `generator` crate.
//!
//! A [`Coroutine`] is a stackful coroutine whose body runs on its own mmap'd
//! stack with a guard page below it. The hub *resumes* a coroutine; the
//! coroutine *suspends* back to whoever resumed it. There is no symmetric
//! switch: greenlet A hands control to greenlet B by suspending to the hub,
//! which then resumes B.
//!
//! ```text
//!            resume()                         body returns
//!   Fresh ─────────────▶ Running ───────────────────────────▶ Done ──┐
//!     ▲                   │   ▲                                      │
//!     │          suspend()│   │resume()                              │ back to the
//!     │                   ▼   │                                      │ stack pool,
//!     │                Suspended                                     │ re-initialised
//!     └──────────────────────────────────────────────────────────────┘ by `spawn`
//! ```
//!
//! # The traps of `generator` handled here
//!
//! - Stack sizes are *words* in `generator`; everything outside this module
//!   speaks bytes ([`stack`] converts, and keeps the word count even, because
//!   an odd count silently turns on full stack-usage tracking).
//! - `generator::Stack::new` panics when `mmap` fails; [`Coroutine::new`]
//!   catches that panic silently and returns an [`io::Error`] that names the
//!   cause (memory, or `vm.max_map_count`).
//! - A panic escaping a generator body is re-raised in the resumer. Greenlet
//!   bodies catch their own panics (see `builder::ended`), so the only thing
//!   that can come out of [`Coroutine::resume`] is the stack-overflow error
//!   that generator's SIGSEGV handler delivers after it switched off the dead
//!   stack ([`is_overflow`]); the hub catches it around its loop and aborts
//!   the process with a message that names the greenlet.
//! - Dropping a suspended generator while the thread is panicking skips its
//!   unwind. The hub never drops a suspended coroutine: greenlets are killed
//!   (unwound) before their coroutine is released.
//! - A body that suspends again after generator's cancel panic (a
//!   destructor that waits, or a `catch_unwind` around the wait) counts as
//!   done for generator, with frames that never unwound; freeing its stack
//!   would pull it from under anything still borrowing from those frames, so
//!   [`Coroutine::force_unwind`] leaks such a stack (see `EXITED`).
//! - Finished generators can be re-initialised: [`pool`] keeps them, so a
//!   spawn normally costs no `mmap`.
//!
//! Outside this module, pointers into a coroutine stack are only the borrows
//! of scoped greenlets (see `scope`): that is why a stack whose frames never
//! unwound is leaked, never freed.

pub(crate) mod pool;
pub(crate) mod stack;

use std::any::Any;
use std::cell::Cell;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use generator::{Gn, LocalGenerator, Scope};

/// The generator type every greenlet runs in: no input, no yielded value.
type Gen = LocalGenerator<'static, (), ()>;

/// The scope type handed to a generator body, with its lifetimes erased.
type RawScope = Scope<'static, 'static, (), ()>;

thread_local! {
    /// The [`Scope`] of the coroutine running on this thread, or null on a
    /// thread's own stack.
    ///
    /// # Invariant
    /// When non-null it points at the `Scope` owned by the outermost frame of
    /// the coroutine that is executing right now; that frame outlives every
    /// call made from the coroutine, so the pointer is valid for the whole
    /// time this thread runs on that coroutine's stack.
    static CURRENT_SCOPE: Cell<*mut RawScope> = const { Cell::new(ptr::null_mut()) };
}

/// How a call to [`Coroutine::resume`] came back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resumed {
    /// The body called [`suspend`].
    Suspended,
    /// The body returned; the coroutine may go back to the pool.
    Done,
}

/// A stackful coroutine. Not `Send`: it lives and dies on its hub's thread.
pub(crate) struct Coroutine {
    gen: Gen,
    /// Usable stack size in bytes, as asked for (rounded to whole words).
    stack_bytes: usize,
    /// The body's scope while the body is suspended (see [`CURRENT_SCOPE`]).
    scope: *mut RawScope,
}

impl std::fmt::Debug for Coroutine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coroutine")
            .field("stack_bytes", &self.stack_bytes)
            .field("done", &self.gen.is_done())
            .finish()
    }
}

impl Coroutine {
    /// Allocates a new coroutine stack of `stack_bytes` usable bytes, with a
    /// guard page below it, and installs `body`.
    ///
    /// Takes a stack from the pool when one of that size is free.
    #[cfg(test)]
    pub(crate) fn new<F: FnOnce() + 'static>(stack_bytes: usize, body: F) -> io::Result<Self> {
        // SAFETY: a 'static body borrows nothing that could go away.
        unsafe { Self::new_unchecked(stack_bytes, body) }
    }

    /// Like [`new`](Self::new), for a body that borrows from its caller.
    ///
    /// # Safety
    ///
    /// The caller must resume the coroutine until it is done before anything
    /// `body` borrows goes out of scope (as `run` does for the main
    /// greenlet). A coroutine that cannot be finished must be leaked: never
    /// resumed, unwound or dropped again. Dropping it while it is suspended
    /// would unwind its frames (or, while the thread panics, free its stack
    /// under them without running them), and other greenlets may borrow
    /// from those frames (see `scope`).
    pub(crate) unsafe fn new_unchecked<'a, F: FnOnce() + 'a>(
        stack_bytes: usize,
        body: F,
    ) -> io::Result<Self> {
        let stack_bytes = stack::round(stack_bytes);
        let mut co = match pool::take(stack_bytes) {
            Some(co) => co,
            None => Self::allocate(stack_bytes)?,
        };
        // SAFETY: forwarded to our caller.
        unsafe { co.install(body) };
        Ok(co)
    }

    /// Maps a fresh stack. Its body is a no-op until [`install`] replaces it.
    fn allocate(stack_bytes: usize) -> io::Result<Self> {
        let words = stack::bytes_to_words(stack_bytes);
        // generator's `Stack::new` panics when mmap/mprotect fail; the panic
        // hook stays silent for it (see `quiet`), and the error is rebuilt
        // from the payload so that it names its cause.
        let made = quiet(|| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                Gn::<()>::new_scoped_opt_local(words, |_: Scope<'_, '_, (), ()>| {})
            }))
        });
        match made {
            Ok(gen) => Ok(Coroutine {
                gen,
                stack_bytes,
                scope: ptr::null_mut(),
            }),
            Err(payload) => Err(stack::allocation_error(stack_bytes, &*payload)),
        }
    }

    /// Installs `body` on a coroutine that is fresh or done.
    ///
    /// generator stores the closure on the coroutine's own stack, so a spawn
    /// allocates nothing here; only a closure larger than
    /// [`stack::MAX_INLINE_CLOSURE`] is boxed (it would eat the stack, or not
    /// fit at all).
    ///
    /// # Safety
    ///
    /// As [`new_unchecked`](Self::new_unchecked).
    unsafe fn install<'a, F: FnOnce() + 'a>(&mut self, body: F) {
        debug_assert!(self.scope.is_null() || self.gen.is_done());
        self.scope = ptr::null_mut();
        let gen: *mut Gen = &mut self.gen;
        // SAFETY: only the lifetime parameter changes: `LocalGenerator<'a>`
        // and `LocalGenerator<'static>` are one type to the layout. The
        // generator then holds a body that may borrow for `'a` while its
        // type says `'static`; our caller guarantees the body finishes (or
        // is leaked, never run or dropped again) before any such borrow ends,
        // which is what the `'static` stood for. The reference is unique: it
        // is made from `&mut self` and used only below.
        let gen = unsafe { &mut *gen.cast::<LocalGenerator<'a, (), ()>>() };
        if std::mem::size_of::<F>() > stack::MAX_INLINE_CLOSURE {
            let body: Box<dyn FnOnce() + 'a> = Box::new(body);
            gen.scoped_init(move |scope| enter(scope, body));
        } else {
            gen.scoped_init(move |scope| enter(scope, body));
        }
    }

    /// Runs the coroutine until it suspends or finishes.
    ///
    /// Must not be called from inside this same coroutine (the hub resumes
    /// greenlets only from its own stack).
    ///
    /// It unwinds when the body's frames are gone without having been
    /// unwound: generator's overflow handler delivers [`is_overflow`]'s
    /// payload when a body runs into its guard page, and a panic that
    /// escapes a body comes out here too (green's bodies catch their own,
    /// see `builder::ended`, so that would be a bug). The hub catches it
    /// once, around its whole loop rather than around every switch (a
    /// `catch_unwind` per switch costs a call frame on the hottest path),
    /// and aborts the process (overflow) or leaks everything (see `run`).
    /// The caller's scope is restored either way.
    #[inline]
    pub(crate) fn resume(&mut self) -> Resumed {
        /// Puts the resumer's scope back, also when the resume unwinds.
        struct Restore(*mut RawScope);
        impl Drop for Restore {
            #[inline]
            fn drop(&mut self) {
                CURRENT_SCOPE.set(self.0);
            }
        }
        let restore = Restore(CURRENT_SCOPE.replace(self.scope));
        self.gen.resume();
        self.scope = CURRENT_SCOPE.get();
        drop(restore);
        if self.gen.is_done() {
            self.scope = ptr::null_mut();
            Resumed::Done
        } else {
            Resumed::Suspended
        }
    }

    /// Whether the body has returned (or was never started and got dropped).
    pub(crate) fn is_done(&self) -> bool {
        self.gen.is_done()
    }

    /// Drops the body of a coroutine that never started, without running it.
    ///
    /// The body's captures are dropped on the caller's stack.
    pub(crate) fn discard_unstarted(&mut self) {
        debug_assert!(self.scope.is_null());
        self.gen.cancel();
    }

    /// Last resort for a greenlet that survived being killed: unwinds it with
    /// generator's cancel panic, then releases its stack without reusing it.
    ///
    /// If its destructors suspend again while unwinding (or its body catches
    /// the cancel panic and suspends), generator counts it as done although
    /// the rest of its frames never ran: scoped greenlets may still borrow
    /// from those frames, so the stack is leaked (still mapped, its frames
    /// intact, never run again) rather than freed.
    pub(crate) fn force_unwind(mut self) {
        let started = !self.scope.is_null();
        let outer = CURRENT_SCOPE.replace(self.scope);
        EXITED.set(false);
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.gen.cancel()));
        // Not started: there were no frames, only the closure, now dropped.
        let unwound = !started || EXITED.get();
        CURRENT_SCOPE.set(outer);
        self.scope = ptr::null_mut();
        if let Err(payload) = result {
            if is_overflow(&*payload) {
                eprintln!("green: a greenlet overflowed its stack while being unwound; aborting");
                std::process::abort();
            }
        }
        if !unwound || !self.gen.is_done() {
            std::mem::forget(self);
        }
    }

    /// Usable stack size in bytes.
    pub(crate) fn stack_bytes(&self) -> usize {
        self.stack_bytes
    }

    /// Returns a finished coroutine's stack to this thread's pool.
    pub(crate) fn recycle(self) {
        if self.gen.is_done() {
            pool::put(self);
        }
    }
}

impl Drop for Coroutine {
    fn drop(&mut self) {
        // A coroutine still suspended here would be unwound by generator's
        // `Drop` (or, while this thread panics, have its stack freed under
        // frames that never unwound). The hub kills every greenlet before it
        // lets go of its coroutine, and leaks them all if its loop unwinds.
        debug_assert!(
            self.gen.is_done() || std::thread::panicking(),
            "a suspended greenlet was dropped without being killed"
        );
    }
}

thread_local! {
    /// Set when the outermost frame of a coroutine ends, by returning or by
    /// unwinding: [`Coroutine::force_unwind`] tells from it whether a cancel
    /// really unwound the body, or the body suspended again on the way out
    /// (which generator also counts as done).
    static EXITED: Cell<bool> = const { Cell::new(false) };
}

/// The outermost frame of every coroutine: publishes the scope, runs `body`.
fn enter<F: FnOnce()>(mut scope: Scope<'_, '_, (), ()>, body: F) {
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            EXITED.set(true);
        }
    }
    let raw: *mut Scope<'_, '_, (), ()> = &mut scope;
    CURRENT_SCOPE.set(raw.cast::<RawScope>());
    let _exit = Exit;
    body();
    // `scope` is dropped only here, after the body has returned for good.
}

/// Suspends the running coroutine and returns to whoever resumed it.
///
/// # Panics
///
/// Panics when called on a thread's own stack (not inside a coroutine).
#[inline]
pub(crate) fn suspend() {
    let scope = CURRENT_SCOPE.get();
    assert!(
        !scope.is_null(),
        "green: suspend() called outside a greenlet (this is a bug in green)"
    );
    // SAFETY: by CURRENT_SCOPE's invariant the pointer is the live `Scope` of
    // the coroutine executing right now; no other reference to it exists
    // while the body runs (the body only keeps this raw pointer), so creating
    // a unique reference for the duration of the switch is sound.
    unsafe { (*scope).yield_with(()) };
}

/// Whether this thread is executing on a coroutine stack right now.
pub(crate) fn in_coroutine() -> bool {
    !CURRENT_SCOPE.get().is_null()
}

/// Whether a panic payload is generator's own cancel/done control flow.
pub(crate) fn is_control_payload(payload: &(dyn Any + Send)) -> bool {
    matches!(
        payload.downcast_ref::<generator::Error>(),
        Some(generator::Error::Cancel | generator::Error::Done)
    )
}

/// Whether a payload that escaped [`Coroutine::resume`] is generator's
/// report of a stack overflow.
pub(crate) fn is_overflow(payload: &(dyn Any + Send)) -> bool {
    matches!(
        payload.downcast_ref::<generator::Error>(),
        Some(generator::Error::StackErr)
    )
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the panic hook silenced for this thread (see [`is_quiet`]).
fn quiet<R>(f: impl FnOnce() -> R) -> R {
    let before = QUIET.replace(true);
    let r = f();
    QUIET.set(before);
    r
}

/// Whether the panic hook must stay silent: a panic raised by generator
/// while allocating a stack is turned into an `io::Error`, not reported.
pub(crate) fn is_quiet() -> bool {
    QUIET.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_escaping_a_body_leaves_the_resumers_scope_in_place() {
        let mut co = Coroutine::new(64 * 1024, || panic!("escapes the body")).unwrap();
        assert!(!in_coroutine());
        let escaped = quiet(|| panic::catch_unwind(AssertUnwindSafe(|| co.resume())));
        assert!(escaped.is_err());
        assert!(
            !in_coroutine(),
            "the scope of a dead coroutine was left behind"
        );
        assert!(co.is_done());
    }
}
