//! The unsafe fence: the only module that touches the `generator` crate.
//!
//! A [`Coroutine`] is a stackful coroutine whose body runs on its own stack
//! with a guard page below it (from a slab of stacks, see [`slab`], for
//! the default size; mapped by generator for other sizes). The hub
//! *resumes* a coroutine; the coroutine *suspends* back to whoever resumed
//! it, or hands the thread to
//! another coroutine ([`suspend_to`]), which then takes its place: it
//! suspends back to whoever resumed the first one. So the hub can run many
//! greenlets with one resume: each one switches straight to the next (one
//! register switch, not two through the hub's stack), and the last one
//! comes back.
//!
//! ```text
//!            resume() or suspend_to()         body returns
//!   Fresh ─────────────▶ Running ───────────────────────────▶ Done ──┐
//!     ▲                   │   ▲                                      │
//!     │      suspend() or │   │resume() or                           │ back to the
//!     │      suspend_to() ▼   │suspend_to()                          │ stack pool,
//!     │                Suspended                                     │ re-initialised
//!     └──────────────────────────────────────────────────────────────┘ by `spawn`
//! ```
//!
//! # The traps of `generator` handled here
//!
//! - Stack sizes are *words* in `generator`; everything outside this module
//!   speaks bytes ([`stack`] converts, and keeps the word count even, because
//!   an odd count silently turns on full stack-usage tracking).
//! - `generator::Stack::new` panics when `mmap` fails;
//!   [`Coroutine::allocate`] catches that panic silently and returns an
//!   [`io::Error`] that names the cause (memory, or `vm.max_map_count`).
//! - A panic escaping a generator body is re-raised in the resumer by
//!   generator's `resume`. green resumes with generator's `resume_raw`
//!   instead (patch 3), which leaves it with the generator that came back,
//!   and [`Coroutine::came_back`] raises it. Greenlet bodies catch their
//!   own panics (see `builder::ended`), so the only thing that can come out
//!   is a stack overflow, which generator's SIGSEGV handler flags after it
//!   switched off the dead stack. [`Coroutine::came_back`] asks for the flag
//!   before anything else ([`Resumed::Overflowed`]) and the hub aborts the
//!   process with a message that names the greenlet, allocating nothing on
//!   the way (the overflow may have struck inside the allocator, holding its
//!   lock: generator patch 5). During a forced unwind the overflow still
//!   comes out of generator's `cancel` as a panic ([`is_overflow`]), whose
//!   error generator allocates.
//! - generator hands a body a `Scope` to yield through, which a greenlet
//!   suspending deep in its calls does not have at hand, and a coroutine
//!   reached through [`suspend_to`] returns to a resumer that does not know
//!   it: [`suspend`] uses generator's `suspend_current` (patch 6) instead,
//!   which finds the running generator on generator's own context stack.
//! - Dropping a suspended generator while the thread is panicking skips its
//!   unwind. The hub never drops a suspended coroutine: greenlets are killed
//!   (unwound) before their coroutine is released.
//! - A body that suspends again after generator's cancel panic (a
//!   destructor that waits, or a `catch_unwind` around the wait) counts as
//!   done for generator, with frames that never unwound; freeing its stack
//!   would pull it from under anything still borrowing from those frames, so
//!   [`Coroutine::force_unwind`] leaks such a stack (see `EXITED`).
//! - Finished generators can be re-initialised: [`pool`] keeps them, and a
//!   new one is built on a free slab stack, so a spawn of the default size
//!   costs no system call.
//!
//! Outside this module, pointers into a coroutine stack are only the borrows
//! of scoped greenlets (see `scope`) and the nodes that blocked channel
//! operations link into a channel's queue (see `channel::single`, which
//! also point back to the greenlet's record): that is why a stack whose
//! frames never unwound is leaked, never freed, and its greenlet's record
//! with it.

pub(crate) mod pool;
mod slab;
pub(crate) mod stack;

use std::any::Any;
use std::cell::Cell;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use generator::{Gn, LocalGenerator, Scope};

/// The generator type every greenlet runs in: no input, no yielded value.
type Gen = LocalGenerator<'static, (), ()>;

/// How a call to [`Coroutine::resume`] came back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resumed {
    /// The body called [`suspend`].
    Suspended,
    /// The body returned; the coroutine may go back to the pool.
    Done,
    /// Its stack overflowed: it hit the guard page, and generator's signal
    /// handler switched away from it. The process must abort, allocating
    /// nothing on the way: the overflow may have struck inside the
    /// allocator, whose lock the abandoned frames then hold forever.
    Overflowed,
}

/// A stackful coroutine. Not `Send`: it lives and dies on its hub's thread.
pub(crate) struct Coroutine {
    gen: Gen,
    /// Usable stack size in bytes, as asked for (rounded to whole words).
    stack_bytes: usize,
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

    /// Like `new` (tests only), for a body that borrows from its caller.
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

    /// Maps a fresh stack. Its body is a no-op until
    /// [`install`](Self::install) replaces it.
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
            Ok(gen) => Ok(Coroutine { gen, stack_bytes }),
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

    /// Runs the coroutine until it suspends or finishes, or, when it hands
    /// the thread on ([`suspend_to`]), until the last coroutine of that
    /// chain does: the caller must know which one that is (the hub keeps
    /// track) and ask it [`came_back`](Self::came_back), which raises a
    /// panic that escaped its body and tells of its stack overflow. Nothing
    /// is raised here.
    ///
    /// A raw pointer, because the coroutine may be handed the thread again,
    /// by another one of the chain, before this call returns.
    ///
    /// # Safety
    ///
    /// Called from a thread's own stack, never from a coroutine (the hub
    /// resumes greenlets only from its own stack). `this` points at a live
    /// coroutine that is neither running nor done, and nothing else
    /// accesses it until the switch.
    ///
    /// # Panics
    ///
    /// Panics when the coroutine is done.
    #[inline]
    pub(crate) unsafe fn resume(this: *mut Coroutine) {
        // SAFETY: forwarded to our caller; only a raw pointer to the
        // generator is made.
        unsafe { Gen::resume_raw(ptr::addr_of_mut!((*this).gen)) };
    }

    /// How the coroutine that came back from a [`resume`](Self::resume)
    /// left: `self` is the one resumed, or the last one of the chain it
    /// handed the thread to. A panic that escaped its body is raised here; a
    /// stack overflow is [`Resumed::Overflowed`], for the caller to report
    /// without allocating.
    #[inline]
    pub(crate) fn came_back(&mut self) -> Resumed {
        // Asked first: `get_panic_data` would allocate the overflow's error.
        if self.gen.overflowed() {
            return Resumed::Overflowed;
        }
        if let Some(payload) = self.gen.get_panic_data() {
            panic::resume_unwind(payload);
        }
        if self.gen.is_done() {
            Resumed::Done
        } else {
            Resumed::Suspended
        }
    }

    /// [`resume`](Self::resume) for a coroutine that hands nothing on.
    #[cfg(test)]
    pub(crate) fn resume_alone(&mut self) -> Resumed {
        // SAFETY: tests call it from their thread's stack, on a coroutine
        // they own and that is not done.
        unsafe { Self::resume(self) };
        self.came_back()
    }

    /// Whether the body has returned (or was never started and got dropped).
    pub(crate) fn is_done(&self) -> bool {
        self.gen.is_done()
    }

    /// Drops the body of a coroutine that never started, without running it.
    ///
    /// The body's captures are dropped on the caller's stack.
    pub(crate) fn discard_unstarted(&mut self) {
        self.gen.cancel();
    }

    /// Last resort for a greenlet that survived being killed: unwinds it with
    /// generator's cancel panic, then releases its stack without reusing it.
    /// `started`: whether it was ever resumed (it has frames).
    ///
    /// If its destructors suspend again while unwinding (or its body catches
    /// the cancel panic and suspends), generator counts it as done although
    /// the rest of its frames never ran: scoped greenlets may still borrow
    /// from those frames, so the stack is leaked (still mapped, its frames
    /// intact, never run again) rather than freed. Returns whether it was:
    /// then what those frames point to must stay too (the caller's record
    /// of the greenlet, which a channel's node there points to).
    #[must_use]
    pub(crate) fn force_unwind(mut self, started: bool) -> bool {
        EXITED.set(false);
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.gen.cancel()));
        // Not started: there were no frames, only the closure, now dropped.
        let unwound = !started || EXITED.get();
        if let Err(payload) = result {
            if is_overflow(&*payload) {
                eprintln!("green: a greenlet overflowed its stack while being unwound; aborting");
                std::process::abort();
            }
        }
        if !unwound || !self.gen.is_done() {
            std::mem::forget(self);
            return true;
        }
        false
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

/// The outermost frame of every coroutine: runs `body`, and notes its end
/// (see [`EXITED`]). The scope is not needed: [`suspend`] finds the running
/// generator without it.
fn enter<F: FnOnce()>(_scope: Scope<'_, '_, (), ()>, body: F) {
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            EXITED.set(true);
        }
    }
    let _exit = Exit;
    body();
}

/// Suspends the running coroutine and returns to whoever resumed it.
///
/// # Panics
///
/// Panics when called on a thread's own stack (not inside a coroutine).
#[inline(always)]
pub(crate) fn suspend() {
    generator::suspend_current();
}

/// How many bytes of the running coroutine's stack are left below the
/// caller's frame, or `None` on a thread's own stack. Not inlined, so that
/// its own frame lies below the caller's.
#[inline(never)]
pub(crate) fn stack_left() -> Option<usize> {
    let here = 0u8;
    let sp = std::hint::black_box(ptr::addr_of!(here)) as usize;
    generator::stack_floor().map(|floor| sp.saturating_sub(floor))
}

/// Suspends the running coroutine and resumes `next` in its place: `next`
/// comes back (suspends or returns) to whoever resumed the running one,
/// which continues, when resumed again, as after [`suspend`].
///
/// # Panics
///
/// Panics when called on a thread's own stack (not inside a coroutine).
///
/// # Safety
///
/// `next` points at a live coroutine of this thread's hub that is neither
/// running nor done, other than the running one, and nothing else accesses
/// it during this call (until the switch; afterwards it runs, and its
/// resumer asks it [`Coroutine::came_back`]). The running coroutine was
/// resumed by [`Coroutine::resume`] (from the thread's own stack), directly
/// or through other calls of this function.
#[inline(always)]
pub(crate) unsafe fn suspend_to(next: *mut Coroutine) {
    // SAFETY: the running coroutine is a generator resumed from the
    // thread's own stack (our caller's contract; generator checks that one
    // runs); `next` is as generator requires (our caller's
    // contract), and only a raw pointer to its generator is made.
    unsafe { Gen::resume_instead_of_current(ptr::addr_of_mut!((*next).gen)) };
}

/// Asks the CPU to bring `co`'s context into cache (generator's
/// `prefetch_context`, patch 7): the hub calls it for the greenlet two
/// places after the next one, so that the miss on its context, the first
/// thing its resume reads, overlaps other greenlets' work.
#[inline(always)]
pub(crate) fn prefetch(co: &Coroutine) {
    co.gen.prefetch_context();
}

/// Asks the CPU to bring the part of `co`'s stack that its resume reads
/// into cache, up to [`PREFETCH_STACK_LINES`] cache lines from its saved
/// stack pointer up (generator's `prefetch_stack`, patch 8). It reads the
/// saved stack pointer from `co`'s context: the hub calls it for the
/// greenlet after the next one, whose context it prefetched a hand-off
/// earlier when there was one (not for the first greenlets of a batch the
/// loop starts: that read may then wait for a miss).
#[inline(always)]
pub(crate) fn prefetch_stack(co: &Coroutine) {
    co.gen.prefetch_stack(PREFETCH_STACK_LINES);
}

/// The most lines [`prefetch_stack`] asks for: 2 KiB. A server greenlet
/// waiting in a socket read has about 1 KiB of frames above its saved
/// stack pointer (940–980 bytes in the benchmark's echo and HTTP servers).
const PREFETCH_STACK_LINES: usize = 32;

/// Whether this thread is executing on a coroutine stack right now.
#[cfg(test)]
pub(crate) fn in_coroutine() -> bool {
    generator::is_generator()
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
    fn a_panic_escaping_a_body_leaves_the_resumer_on_its_own_stack() {
        let mut co = Coroutine::new(64 * 1024, || panic!("escapes the body")).unwrap();
        assert!(!in_coroutine());
        let escaped = quiet(|| panic::catch_unwind(AssertUnwindSafe(|| co.resume_alone())));
        assert!(escaped.is_err());
        assert!(
            !in_coroutine(),
            "the context of a dead coroutine was left behind"
        );
        assert!(co.is_done());
    }
}
