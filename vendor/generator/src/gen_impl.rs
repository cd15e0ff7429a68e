//! # generator
//!
//! Rust generator implementation
//!

use crate::detail::gen_init;
use crate::reg_context::RegContext;
use crate::rt::{
    Context, ContextStack, Error, REF_ACTIVE, REF_CANCELLED, REF_IDLE, REF_STATE_MASK,
};
use crate::scope::Scope;
use crate::stack::{overflow, Func, SpareStack, Stack, StackBox};

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic;
use std::thread;

/// The default stack size for generators.
///
/// Expressed in `usize` words (not bytes): on a 64-bit target this is 4096
/// words, i.e. 32 KiB; on a 32-bit target it is 8192 words, also 32 KiB. The
/// public `*_opt` constructors take their `size` argument in the same unit
/// (`usize` words).
// windows has a minimal size as 0x4a8!!!!
pub const DEFAULT_STACK_SIZE: usize = 0x8000 / std::mem::size_of::<usize>();

#[inline]
pub(crate) fn unlikely(b: bool) -> bool {
    if b {
        std::hint::cold_path()
    }
    b
}

/// the generator obj type, the functor passed to it must be Send
pub struct GeneratorObj<'a, A, T, const LOCAL: bool> {
    gen: StackBox<GeneratorImpl<'a, A, T>>,
}

/// the generator type, the functor passed to it must be Send
///
/// `A` is an input to the generator body, so the type is invariant in it:
/// the input lifetime cannot be shortened after the generator is created.
///
/// A `Generator` is `Send` when `A` and `T` are `Send`, but the compiler
/// cannot see which values the body keeps on its stack across a yield. Only
/// move a suspended generator to another thread if those values are `Send`
/// and no aliases of them remain on the originating thread; see the notes on
/// the `Send` impl below.
///
/// ```compile_fail
/// use generator::Generator;
///
/// fn shorten<'b>(
///     g: Generator<'static, &'static str, u32>,
/// ) -> Generator<'static, &'b str, u32> {
///     g
/// }
/// ```
pub type Generator<'a, A, T> = GeneratorObj<'a, A, T, false>;

// The stack handles are thread-affine (a non-atomic count, green patch 10):
// they all live in the generator's
// own stack allocation, so moving the generator moves the access to them too
// and the non-atomic counts are never touched from several threads at once.
//
// `A: Send`, `T: Send` and `F: Send` (enforced by the constructors) are not
// sufficient on their own: the functor's `Send` bound only covers its
// captures, while a suspended generator's stack holds the body's live locals,
// which the type system cannot see. Moving a suspended generator to another
// thread is only safe when every value alive on its stack across a yield is
// `Send` and no alias of such a value is left on the originating thread - the
// same rule a future must obey to be `Send`.
unsafe impl<A: Send, T: Send> Send for Generator<'static, A, T> {}

impl<'a, A, T> Generator<'a, A, T> {
    /// init a heap based generator with scoped closure
    pub fn scoped_init<F>(&mut self, f: F)
    where
        for<'scope> F: FnOnce(Scope<'scope, 'a, A, T>) -> T + Send + 'a,
        T: Send + 'a,
        A: Send + 'a,
    {
        self.gen.scoped_init(f);
    }

    /// init a heap based generator
    // it can be used to re-init a 'done' generator before it is dropped
    pub fn init_code<F: FnOnce() -> T + Send + 'a>(&mut self, f: F)
    where
        T: Send + 'a,
    {
        self.gen.init_code(f);
    }
}

/// the local generator type, can't Send
///
/// Unlike [`Generator`], it accepts non-`Send` closures, but the result
/// cannot be moved to another thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
///
/// let g = generator::Gn::<()>::new_scoped_local(|_s| 1u32);
/// assert_send(g); // `LocalGenerator` is not `Send`
/// ```
pub type LocalGenerator<'a, A, T> = GeneratorObj<'a, A, T, true>;

impl<'a, A, T> LocalGenerator<'a, A, T> {
    /// init a heap based generator with scoped closure
    pub fn scoped_init<F>(&mut self, f: F)
    where
        for<'scope> F: FnOnce(Scope<'scope, 'a, A, T>) -> T + 'a,
        T: 'a,
        A: 'a,
    {
        self.gen.scoped_init(f);
    }
}

impl<'a, A, T, const LOCAL: bool> GeneratorObj<'a, A, T, LOCAL> {
    /// Constructs a `Generator` from a raw pointer.
    ///
    /// # Safety
    ///
    /// `raw` must be a non-null pointer returned by
    /// [`into_raw`](Self::into_raw), and it must be reconstructed only once:
    ///
    /// - reconstructing a pointer twice (or while another handle still owns
    ///   it) causes a double free;
    /// - the pointer must be reconstructed with the same `A`, `T` and
    ///   `LOCAL` parameters it was created with. In particular, a pointer
    ///   obtained from a [`LocalGenerator`] must never be reconstructed as a
    ///   [`Generator`]: the local generator's functor was not required to be
    ///   `Send`, and that requirement cannot be recovered after the closure
    ///   was type-erased;
    /// - the reconstructed `'a` must be the lifetime the generator was
    ///   created with. The erased functor may borrow data for `'a`, and this
    ///   lifetime is what makes the borrow checker keep that data alive until
    ///   the generator (and its destructor) is gone; choosing a different
    ///   lifetime can let the destructor run after the borrowed data has been
    ///   freed.
    #[inline]
    pub unsafe fn from_raw(raw: *mut usize) -> Self {
        GeneratorObj {
            gen: StackBox::from_raw(raw as *mut GeneratorImpl<'a, A, T>),
        }
    }

    /// Consumes the `Generator`, returning a wrapped raw pointer.
    ///
    /// The pointer owns the generator and its stack. It must be reclaimed
    /// exactly once with [`from_raw`](Self::from_raw) on the matching
    /// generator type, or leaked deliberately.
    #[inline]
    pub fn into_raw(self) -> *mut usize {
        let ret = self.gen.as_ptr() as *mut usize;
        std::mem::forget(self);
        ret
    }

    /// prefetch the generator into cache
    #[inline]
    pub fn prefetch(&self) {
        self.gen.prefetch();
    }

    /// prepare the para that passed into generator before send
    #[inline]
    pub fn set_para(&mut self, para: A) {
        self.gen.set_para(para);
    }

    /// set the generator local data
    #[inline]
    pub fn set_local_data(&mut self, data: *mut u8) {
        self.gen.set_local_data(data);
    }

    /// get the generator local data
    #[inline]
    pub fn get_local_data(&self) -> *mut u8 {
        self.gen.get_local_data()
    }

    /// get the generator panic data
    ///
    /// This only returns something for a coroutine-style generator (one whose
    /// local data is set): a normal generator re-raises its panic from
    /// `resume` instead, and the error is consumed there.
    #[inline]
    pub fn get_panic_data(&mut self) -> Option<Box<dyn Any + Send>> {
        self.gen.get_panic_data()
    }

    /// green patch 5: whether the generator's stack overflowed (it hit the
    /// guard page and the overflow handler switched away from it). Allocates
    /// nothing, unlike [`get_panic_data`](Self::get_panic_data), which makes
    /// the `Error::StackErr` box: the overflow may have struck inside the
    /// allocator, whose lock then stays held, so a resumer that wants to
    /// report it and abort should ask this first and allocate nothing.
    #[inline]
    pub fn overflowed(&self) -> bool {
        self.gen.context.overflowed
    }

    /// Hands this thread over from the generator running now to `next`
    /// (green patch 3).
    ///
    /// The running generator (the top of this thread's context stack) is
    /// suspended as its `yield_with` would suspend it, and `next` is resumed
    /// as [`resume`](Self::resume) would resume it, in one register switch
    /// instead of two: `next` takes the suspended generator's place, so its
    /// next yield (or its return) goes back to whoever resumed that one.
    /// The suspended generator continues, when it is resumed again, as
    /// after a `yield_with` (a cancel then unwinds it from here); nothing is
    /// written into its return slot.
    ///
    /// After the switch the resumer can no longer tell from its own
    /// generator which one came back: it must keep track of that itself,
    /// and ask that one [`is_done`](Self::is_done) and
    /// [`get_panic_data`](Self::get_panic_data) (a panic or a stack
    /// overflow of `next` is left there, not re-raised by `resume`).
    ///
    /// `next` is a raw pointer because no reference to it may live across
    /// the switch: it runs, and is resumed and asked by others, while this
    /// call is suspended.
    ///
    /// # Safety
    ///
    /// - It is called from the body of the generator on top of this thread's
    ///   context stack (which may be nested in another generator: `next`
    ///   then takes its place there), and not from a `coroutine` body.
    /// - `next` points at a live generator of this thread that is not done,
    ///   not running, and not the running generator, and nothing else
    ///   accesses it during the call (until the switch).
    ///
    /// # Panics
    ///
    /// Panics when `next` is done, or when no generator runs.
    #[inline(always)]
    pub unsafe fn resume_instead_of_current(next: *mut Self) {
        // SAFETY: `next` is live and not accessed by anyone else until the
        // switch (our caller's contract); the reference ends here.
        let imp: *mut GeneratorImpl<'a, A, T> = unsafe { (*next).gen.as_ptr() };
        // SAFETY: forwarded to our caller.
        unsafe { GeneratorImpl::resume_instead_of_current(imp) }
    }

    /// [`resume`](Self::resume) through a raw pointer, for a resumer that
    /// lets generators hand the thread on with
    /// [`resume_instead_of_current`](Self::resume_instead_of_current)
    /// (green patch 3).
    ///
    /// No reference to `this` lives across the switch, since the generator
    /// may be handed the thread again by another one before this call
    /// returns. Nothing is checked when it returns: the resumer asks the
    /// generator that came back (this one, or the last one it was handed
    /// to) [`is_done`](Self::is_done) and
    /// [`get_panic_data`](Self::get_panic_data), which holds a panic or a
    /// stack overflow instead of it being re-raised here. Nothing is read
    /// from its return slot.
    ///
    /// # Safety
    ///
    /// - It is called from a thread's own stack (not from a generator).
    /// - `this` points at a live generator of this thread that is not done
    ///   and not running, and nothing else accesses it until the switch.
    ///
    /// # Panics
    ///
    /// Panics when the generator is done.
    #[inline]
    pub unsafe fn resume_raw(this: *mut Self) {
        // SAFETY: `this` is live and not accessed by anyone else until the
        // switch (our caller's contract); the reference ends here.
        let imp: *mut GeneratorImpl<'a, A, T> = unsafe { (*this).gen.as_ptr() };
        // SAFETY: forwarded to our caller.
        unsafe { GeneratorImpl::resume_raw(imp) }
    }

    /// resume the generator without touch the para
    /// you should call `set_para` before this method
    #[inline]
    pub fn resume(&mut self) -> Option<T> {
        self.gen.resume()
    }

    /// resume the generator, passing `para` as the value the next
    /// `get_yield` call returns; returns `None` once the generator is done
    #[inline]
    pub fn raw_send(&mut self, para: Option<A>) -> Option<T> {
        self.gen.raw_send(para)
    }

    /// resume the generator with `para` and return the next yielded value
    ///
    /// # Panics
    ///
    /// Panics if the generator finishes instead of yielding a value.
    pub fn send(&mut self, para: A) -> T {
        self.gen.send(para)
    }

    /// Cancel the generator.
    ///
    /// A suspended generator is resumed with a `Cancel` panic at its yield
    /// point, which unwinds its body and finishes it. A generator that has
    /// not started is finished without running its body: its closure is
    /// dropped. Cancelling a generator that is already done does nothing.
    pub fn cancel(&mut self) {
        self.gen.cancel()
    }

    /// is finished
    #[inline]
    pub fn is_done(&self) -> bool {
        self.gen.is_done()
    }

    /// Asks the CPU to bring the generator's context (its run state and
    /// saved registers, what a resume reads first) into cache, without
    /// waiting for it (green patch 7): a resumer that knows which generator
    /// comes next hides that cache miss behind the work in between. A hint
    /// only: it reads nothing, and does nothing on other architectures.
    /// ([`prefetch`](Self::prefetch) reads the saved stack pointer to
    /// prefetch the stack, which waits for the context if it is not in
    /// cache.)
    #[inline(always)]
    pub fn prefetch_context(&self) {
        #[cfg(all(target_arch = "x86_64", unix))]
        {
            let ctx: *const Context = self.gen.as_ptr().cast_const().cast();
            // `context` is the first field of the `repr(C)` record, 128-byte
            // aligned; what a resume reads (registers, parent, `_ref`) lies
            // in its first two cache lines (checked below).
            let line: *const i8 = ctx.cast();
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: a prefetch never faults and reads nothing the program
            // sees; both addresses lie inside the live generator's record.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(line);
                _mm_prefetch::<_MM_HINT_T0>(line.wrapping_add(64));
            }
        }
    }

    /// Asks the CPU to bring what installing a new body on this finished
    /// generator (`scoped_init`, `init_code`) reads and writes into cache,
    /// without waiting for it (green patch 10): its record, and the two
    /// lines above it, where the stack's own record sits on a stack in the
    /// caller's memory (the stack's first block goes right below that
    /// record, aligned to 128 bytes). An owner that keeps finished
    /// generators for reuse calls it for the next one it will hand out. A
    /// hint only: it reads nothing (the stack's record is not looked up
    /// through the generator's, whose line may not be in cache yet), and
    /// does nothing on other architectures.
    #[inline(always)]
    pub fn prefetch_install(&self) {
        #[cfg(all(target_arch = "x86_64", unix))]
        {
            let record: *const i8 = self.gen.as_ptr().cast_const().cast();
            let lines = std::mem::size_of::<GeneratorImpl<'a, A, T>>().div_ceil(64) + 2;
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            for i in 0..lines {
                // SAFETY: a prefetch never faults and reads nothing the
                // program sees, whatever the address.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(record.wrapping_add(64 * i)) };
            }
        }
    }

    /// How many bytes of the suspended generator's stack are in use: from
    /// its saved stack pointer up to its own record, which sits at the top
    /// of its stack, above the frames (green patch 8). Zero while it runs
    /// (it then reads as done) or once it is done, and on other
    /// architectures than x86-64 Unix.
    #[inline]
    pub fn live_stack_bytes(&self) -> usize {
        if self.is_done() {
            return 0;
        }
        self.saved_frames().1
    }

    /// The saved stack pointer and the distance from it up to the
    /// generator's record, whatever the generator's state (zero when the
    /// pointer is not below the record); reads only the context.
    #[inline(always)]
    fn saved_frames(&self) -> (usize, usize) {
        #[cfg(all(target_arch = "x86_64", unix))]
        {
            let record = self.gen.as_ptr() as usize;
            let sp = self.gen.context.regs.saved_sp();
            // the saved frames lie below the record, on the same stack
            (sp, record.saturating_sub(sp))
        }
        #[cfg(not(all(target_arch = "x86_64", unix)))]
        (0, 0)
    }

    /// Asks the CPU to bring the cache lines of the suspended generator's
    /// stack that are in use (see [`live_stack_bytes`](Self::live_stack_bytes)),
    /// at most `max_lines` of them from the saved stack pointer up, into
    /// cache without waiting for them (green patch 8): what its resume
    /// reads after the switch, as it returns through the frames it
    /// suspended in. Reads the saved stack pointer from the context, so a
    /// resumer that knows the order hides that read's miss by calling
    /// [`prefetch_context`](Self::prefetch_context) a while before. A hint
    /// only: does nothing on other architectures.
    #[inline(always)]
    pub fn prefetch_stack(&self, max_lines: usize) {
        #[cfg(all(target_arch = "x86_64", unix))]
        {
            // Not `live_stack_bytes`: its check for a finished generator
            // reads a third cache line. A finished one's saved frames are
            // still within its stack (after an overflow, the saved stack
            // pointer is on the signal stack instead), and prefetching them
            // is harmless.
            let (sp, span) = self.saved_frames();
            let (start, lines) = stack_lines(sp, span, max_lines);
            let sp = start as *const i8;
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            for i in 0..lines {
                // SAFETY: a prefetch never faults and reads nothing the
                // program sees, whatever the address (normally the stack's
                // used part).
                unsafe { _mm_prefetch::<_MM_HINT_T0>(sp.wrapping_add(64 * i)) };
            }
        }
        #[cfg(not(all(target_arch = "x86_64", unix)))]
        let _ = max_lines;
    }

    /// Get the stack total size and used size, in `usize` words.
    ///
    /// `used` is exact only when the generator was created with an odd stack
    /// size, which enables full usage tracking. Otherwise (green patch, see
    /// PATCHES.md) no sentinel is written and `used` is 0.
    pub fn stack_usage(&self) -> (usize, usize) {
        self.gen.stack_usage()
    }

    /// green patch: drops a finished generator and hands back its stack, to
    /// build another generator on with
    /// [`Gn::new_scoped_local_on`](Gn::new_scoped_local_on).
    ///
    /// Returns `None` (the generator dropped as usual, its stack unmapped)
    /// when the generator is not done, when an overflow abandoned its stack,
    /// or when the stack cannot be reused (see [`SpareStack`]).
    pub fn into_spare_stack(self) -> Option<SpareStack> {
        // A block still reserved above the generator's own (a body that
        // suspended again while being cancelled: done, its frames never
        // unwound) would be released by the drop below, so the offset alone
        // cannot tell afterwards.
        if !self.is_done() || self.gen.context.overflowed || !self.gen.is_last_block() {
            return None;
        }
        let stack = self.gen.stack.clone();
        // Drops the generator block and releases its reservation: the stack
        // offset goes back to what it was before the block, 0 for a
        // generator made by `Gn`.
        drop(self);
        SpareStack::new(stack)
    }
}

impl<T, const LOCAL: bool> Iterator for GeneratorObj<'_, (), T, LOCAL> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.resume()
    }
}

impl<A, T, const LOCAL: bool> fmt::Debug for GeneratorObj<'_, A, T, LOCAL> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "Generator<{}, Output={}, Local={}> {{ ... }}",
            std::any::type_name::<A>(),
            std::any::type_name::<T>(),
            LOCAL
        )
    }
}

/// Generator helper
pub struct Gn<A = ()> {
    dummy: PhantomData<A>,
}

impl<A> Gn<A> {
    /// create a scoped generator with default stack size
    ///
    /// The closure must be `Send`, so it cannot capture non-`Send` values;
    /// use [`new_scoped_local`](Self::new_scoped_local) for those.
    ///
    /// ```compile_fail
    /// use generator::Gn;
    /// use std::rc::Rc;
    ///
    /// let rc = Rc::new(0);
    /// let _g = Gn::<()>::new_scoped(move |_s| drop(rc)); // `Rc` is not `Send`
    /// ```
    pub fn new_scoped<'a, T, F>(f: F) -> Generator<'a, A, T>
    where
        for<'scope> F: FnOnce(Scope<'scope, 'a, A, T>) -> T + Send + 'a,
        T: Send + 'a,
        A: Send + 'a,
    {
        Self::new_scoped_opt(DEFAULT_STACK_SIZE, f)
    }

    /// create a scoped local generator with default stack size
    pub fn new_scoped_local<'a, T, F>(f: F) -> LocalGenerator<'a, A, T>
    where
        F: FnOnce(Scope<A, T>) -> T + 'a,
        T: 'a,
        A: 'a,
    {
        Self::new_scoped_opt_local(DEFAULT_STACK_SIZE, f)
    }

    /// create a scoped generator with specified stack size
    ///
    /// `size` is the stack size in `usize` words (not bytes), matching
    /// [`DEFAULT_STACK_SIZE`].
    pub fn new_scoped_opt<'a, T, F>(size: usize, f: F) -> Generator<'a, A, T>
    where
        for<'scope> F: FnOnce(Scope<'scope, 'a, A, T>) -> T + Send + 'a,
        T: Send + 'a,
        A: Send + 'a,
    {
        let mut gen = GeneratorImpl::<A, T>::new(Stack::new(size));
        gen.scoped_init(f);
        Generator { gen }
    }

    /// create a scoped local generator with specified stack size
    ///
    /// `size` is the stack size in `usize` words (not bytes), matching
    /// [`DEFAULT_STACK_SIZE`].
    pub fn new_scoped_opt_local<'a, T, F>(size: usize, f: F) -> LocalGenerator<'a, A, T>
    where
        F: FnOnce(Scope<A, T>) -> T + 'a,
        T: 'a,
        A: 'a,
    {
        let mut gen = GeneratorImpl::<A, T>::new(Stack::new(size));
        gen.scoped_init(f);
        LocalGenerator { gen }
    }
}

impl<A> Gn<A> {
    /// green patch: like [`new_scoped_opt_local`](Self::new_scoped_opt_local),
    /// on the stack of a finished generator (see
    /// [`GeneratorObj::into_spare_stack`]) instead of a new mapping: no
    /// `mmap`, no `mprotect`.
    pub fn new_scoped_local_on<'a, T, F>(stack: SpareStack, f: F) -> LocalGenerator<'a, A, T>
    where
        F: FnOnce(Scope<A, T>) -> T + 'a,
        T: 'a,
        A: 'a,
    {
        let mut gen = GeneratorImpl::<A, T>::new(stack.into_stack());
        gen.scoped_init(f);
        LocalGenerator { gen }
    }
}

impl<A: Any> Gn<A> {
    /// create a new generator with default stack size
    #[allow(clippy::new_ret_no_self)]
    #[deprecated(since = "0.6.18", note = "please use `scope` version instead")]
    pub fn new<'a, T: Any, F>(f: F) -> Generator<'a, A, T>
    where
        F: FnOnce() -> T + Send + 'a,
    {
        Self::new_opt(DEFAULT_STACK_SIZE, f)
    }

    /// create a new generator with specified stack size
    ///
    /// `size` is the stack size in `usize` words (not bytes), matching
    /// [`DEFAULT_STACK_SIZE`].
    // the `may` library use this API so we can't deprecated it yet.
    pub fn new_opt<'a, T: Any, F>(size: usize, f: F) -> Generator<'a, A, T>
    where
        F: FnOnce() -> T + Send + 'a,
    {
        let mut gen = GeneratorImpl::<A, T>::new(Stack::new(size));
        gen.init_context();
        gen.init_code(f);
        Generator { gen }
    }
}

// What `prefetch_context` fetches: the fields a resume reads first lie in
// the first two cache lines of the context.
#[cfg(all(target_arch = "x86_64", unix))]
const _: () = assert!(
    std::mem::offset_of!(Context, _ref) < 128 && std::mem::offset_of!(Context, parent) < 128
);

/// The cache lines that hold the `span` bytes from `sp` up: the address of
/// the first and how many, at most `max_lines` (green patch 8).
#[cfg_attr(not(all(target_arch = "x86_64", unix)), allow(dead_code))]
#[inline(always)]
fn stack_lines(sp: usize, span: usize, max_lines: usize) -> (usize, usize) {
    let lines = if span == 0 {
        0
    } else {
        (span + sp % 64).div_ceil(64)
    };
    (sp & !63, lines.min(max_lines))
}

/// `GeneratorImpl`
#[repr(C)]
struct GeneratorImpl<'a, A, T> {
    // run time context
    context: Context,
    // stack
    stack: Stack,
    // save the input
    para: Option<A>,
    // save the output
    ret: Option<T>,
    // boxed functor
    f: Option<Func>,
    // phantom lifetime
    phantom: PhantomData<&'a T>,
    // `A` is an input to the erased closure (`Scope::get_yield` consumes it),
    // so it must be invariant: `para: Option<A>` alone only makes the struct
    // covariant, which would let safe code shorten a `'static` input lifetime
    // and hand a short-lived value to a body compiled for `'static`.
    // `fn(A) -> A` gives that invariance without affecting auto traits or
    // drop order. `T` is output only and may stay covariant.
    input: PhantomData<fn(A) -> A>,
}

impl<A: Any, T: Any> GeneratorImpl<'_, A, T> {
    /// point the deprecated `Context` input/output fields at this generator's
    /// slots, so `yield_`/`get_yield` can reach them without a `Scope`
    fn init_context(&mut self) {
        unsafe {
            std::ptr::write(
                self.context.para.as_mut_ptr(),
                &mut self.para as &mut dyn Any,
            );
            std::ptr::write(self.context.ret.as_mut_ptr(), &mut self.ret as &mut dyn Any);
        }
    }
}

impl<'a, A, T> GeneratorImpl<'a, A, T> {
    /// create a new generator backed by `stack`
    fn new(mut stack: Stack) -> StackBox<Self> {
        // the box keeps the stack alive; the mapping is released with the
        // last `Stack` handle
        let stack_box = stack.alloc_uninit_box::<GeneratorImpl<'a, A, T>>();
        stack_box.init(GeneratorImpl {
            para: None,
            stack,
            ret: None,
            f: None,
            context: Context::new(),
            phantom: PhantomData,
            input: PhantomData,
        })
    }

    /// prefetch the generator into cache
    #[inline]
    pub fn prefetch(&self) {
        self.context.regs.prefetch();
    }

    /// Reset the run state before installing a new body.
    ///
    /// The input and output slots are cleared here, before `scoped_init`
    /// creates a `Scope` that borrows them: writing through `&mut self` after
    /// that point would invalidate the scope's references. Returns the raw
    /// pointer the body's return value is written to.
    fn prepare_init(&mut self) -> *mut Option<T> {
        // Install the overflow handler before the generator stack is used for
        // the first time. The bootstrap frame runs before `gen_init_impl` gets
        // a chance to install it, so a stack too small for that frame must
        // fault into the handler instead of crashing the process.
        overflow::init_once();

        // make sure the last one is finished
        if self.f.is_none() && self.context._ref == REF_IDLE {
            self.cancel();
        }

        // From here on the generator has no live run. Mark it done before the
        // fallible steps below: dropping a previous functor runs user code,
        // and allocating the new one can panic when it does not fit into the
        // stack. A caught panic must not leave the generator resumable with
        // stale registers.
        self.context.parent = &mut self.context;
        self.context._ref = REF_ACTIVE;

        let _ = self.f.take();

        // The new run must not observe input, output or panic state left over
        // from the previous one: `para` may hold a value the old body never
        // consumed, and a coroutine's `err` is only taken by `get_panic_data`.
        self.para = None;
        self.ret = None;
        self.context.err = None;
        // green patch 5: nor an overflow not yet handed out (clearing `err`
        // did that when the handler put the error there)
        self.context.overflow_delivered = self.context.overflowed;

        &mut self.ret as *mut _
    }

    /// Install `f` as the generator body and point the registers at it.
    ///
    /// `ret` is the slot returned by [`prepare_init`](Self::prepare_init); it
    /// is captured before any `Scope` borrows that slot.
    fn install_code<F: FnOnce() -> T + 'a>(&mut self, ret: *mut Option<T>, f: F)
    where
        T: 'a,
    {
        // alloc the function on stack
        let func = StackBox::new_fn_once(&self.stack, move || {
            let r = f();
            unsafe { *ret = Some(r) };
        });

        // the function is installed, the generator is ready to start again
        self.f = Some(func);
        self.context._ref = REF_IDLE;

        let guard = (self.stack.begin() as usize, self.stack.end() as usize);
        self.context.stack_guard = guard;
        self.context.regs.init_with(
            gen_init,
            0,
            &mut self.f as *mut _ as *mut usize,
            &self.stack,
        );
    }

    /// init a heap based generator with scoped closure
    fn scoped_init<F>(&mut self, f: F)
    where
        for<'scope> F: FnOnce(Scope<'scope, 'a, A, T>) -> T + 'a,
        T: 'a,
        A: 'a,
    {
        use std::mem::transmute;

        // Clear the slots, and take the return-value pointer, before the new
        // `Scope` borrows them: clearing after `Scope::new` would write into
        // places the scope already mutably borrows, and a pointer taken after
        // it would be invalidated when the body first uses the scope.
        let ret = self.prepare_init();

        // SAFETY: the scope borrows this generator's own para/ret slots,
        // which stay at a fixed address for as long as the generator exists.
        // The transmute only replaces the borrow's lifetime with the
        // generator's `'a`; the `for<'scope>` bound on `F` keeps the scope
        // from escaping the generator body, and `install_code` stores the
        // closure on the generator's own stack.
        let scope: Scope<A, T> = unsafe { transmute(Scope::new(&mut self.para, &mut self.ret)) };
        self.install_code(ret, move || f(scope));
    }

    /// init a heap based generator
    // it can be used to re-init a 'done' generator before it is dropped
    fn init_code<F: FnOnce() -> T + 'a>(&mut self, f: F)
    where
        T: 'a,
    {
        let ret = self.prepare_init();
        self.install_code(ret, f);
    }

    /// resume the generator
    #[inline]
    fn resume_gen(&mut self) {
        let env = ContextStack::current();
        // get the current regs
        let cur = &mut env.top().regs;

        // switch to new context, always use the top context's reg
        // for normal generator self.context.parent == self.context
        // for coroutine self.context.parent == top generator context
        debug_assert!(!self.context.parent.is_null());
        let top = unsafe { &mut *self.context.parent };

        // save current generator context on stack
        env.push_context(&mut self.context);

        // swap to the generator
        RegContext::swap(cur, &top.regs);

        // comes back, check the panic status
        // this would propagate the panic until root context
        // if it's a coroutine just stop propagate
        if !self.context.local_data.is_null() {
            return;
        }

        if let Some(err) = self.take_err() {
            // pass the error to the parent until root
            panic::resume_unwind(err);
        }
    }

    /// The panic or stack overflow to hand out, once (green patch 5: the
    /// overflow handler only sets `overflowed`, the error is made here).
    fn take_err(&mut self) -> Option<Box<dyn Any + Send>> {
        if let Some(err) = self.context.err.take() {
            return Some(err);
        }
        if self.context.overflowed && !self.context.overflow_delivered {
            self.context.overflow_delivered = true;
            return Some(Box::new(crate::Error::StackErr));
        }
        None
    }

    #[inline]
    fn is_started(&self) -> bool {
        // when the f is consumed we think it's running
        self.f.is_none()
    }

    /// What `resume` does to a generator before the switch (green patch
    /// 3): counts the resume and returns its context and the registers to
    /// load (a suspended generator's parent is itself, see `pop_context`).
    ///
    /// # Safety
    ///
    /// `this` points at a live generator that is not running, and nothing
    /// else accesses it until the switch; the borrows made here end at once.
    ///
    /// # Panics
    ///
    /// Panics when the generator is done (or running).
    #[inline(always)]
    unsafe fn to_resume(this: *mut Self) -> (*mut Context, *const RegContext) {
        // SAFETY: our caller's contract.
        unsafe {
            let ctx: *mut Context = &mut (*this).context;
            // `is_done` without `is_started` (green patch 6): one load
            // fewer on every switch, and it refuses the running generator
            // too (only a suspended or fresh one is idle).
            assert!(
                (*ctx)._ref & REF_STATE_MASK == REF_IDLE,
                "a done or running generator cannot be resumed"
            );
            (*ctx)._ref += 1;
            (ctx, &(*(*ctx).parent).regs)
        }
    }

    /// See [`GeneratorObj::resume_instead_of_current`].
    ///
    /// # Safety
    ///
    /// As [`GeneratorObj::resume_instead_of_current`].
    #[inline(always)]
    unsafe fn resume_instead_of_current(next: *mut Self) {
        let env = ContextStack::current_inline();
        let top = env.top();
        assert!(
            top.is_generator(),
            "resume_instead_of_current called outside a generator"
        );
        let top: *mut Context = top;
        // The outermost generator yields, as in `suspend_current` (green
        // patch 12). SAFETY: `top` is the top context, running: alive while
        // its body runs, as is the outermost context it is or is nested in
        // (every access below goes through these raw pointers).
        let cur = unsafe { env.outermost(top) };
        // SAFETY: forwarded to our caller.
        let (ctx, regs) = unsafe { Self::to_resume(next) };
        debug_assert!(!std::ptr::eq(cur, ctx));
        // SAFETY: `cur` and `top` are alive, as above; `regs` lies in
        // `next`'s context, alive for as long as the generator, which is not
        // running (our caller's contract), so not `top`.
        unsafe {
            // the running one yields (see `raw_yield`)
            (*cur)._ref -= 1;
            env.replace_top(cur, ctx);
            RegContext::swap(&mut (*top).regs, &*regs);
            // resumed again: a cancel wants the body to unwind from here
            if unlikely((*cur)._ref != REF_ACTIVE) {
                panic::panic_any(Error::Cancel);
            }
        }
    }

    /// See [`GeneratorObj::resume_raw`].
    ///
    /// # Safety
    ///
    /// As [`GeneratorObj::resume_raw`].
    #[inline]
    unsafe fn resume_raw(this: *mut Self) {
        let env = ContextStack::current();
        let root = env.top();
        assert!(
            !root.is_generator(),
            "resume_raw called from inside a generator"
        );
        // SAFETY: forwarded to our caller.
        let (ctx, regs) = unsafe { Self::to_resume(this) };
        env.push_context(ctx);
        // SAFETY: `regs` lies in the generator's context, alive for as long
        // as the generator; `root` is this thread's root context.
        RegContext::swap(&mut root.regs, unsafe { &*regs });
    }

    /// prepare the para that passed into generator before send
    #[inline]
    fn set_para(&mut self, para: A) {
        self.para = Some(para);
    }

    /// set the generator local data
    #[inline]
    fn set_local_data(&mut self, data: *mut u8) {
        self.context.local_data = data;
    }

    /// get the generator local data
    #[inline]
    fn get_local_data(&self) -> *mut u8 {
        self.context.local_data
    }

    /// get the generator panic data
    #[inline]
    fn get_panic_data(&mut self) -> Option<Box<dyn Any + Send>> {
        self.take_err()
    }

    /// resume the generator without touch the para
    /// you should call `set_para` before this method
    #[inline]
    fn resume(&mut self) -> Option<T> {
        if unlikely(self.is_done()) {
            return None;
        }

        // every time we call the function, increase the ref count
        // yield will decrease it and return will not
        self.context._ref += 1;
        self.resume_gen();

        self.ret.take()
    }

    /// resume the generator, passing `para` to the next `get_yield`
    #[inline]
    fn raw_send(&mut self, para: Option<A>) -> Option<T> {
        if unlikely(self.is_done()) {
            return None;
        }

        // this is the passed in value of the send primitive
        // the yield part would read out this value in the next round
        self.para = para;

        // every time we call the function, increase the ref count
        // yield will decrease it and return will not
        self.context._ref += 1;
        self.resume_gen();

        self.ret.take()
    }

    /// resume with `para` and return the next yielded value
    fn send(&mut self, para: A) -> T {
        let ret = self.raw_send(Some(para));
        ret.expect("generator finished instead of yielding")
    }

    /// cancel the generator without any check
    #[inline]
    fn raw_cancel(&mut self) {
        // tell the func to panic
        // so that we can stop the inner func
        self.context._ref = REF_CANCELLED;
        // NOTE: the `Cancel` control-flow panic raised inside the generator is
        // caught and silenced by `gen_init_impl`'s `catch_unwind_filter`, so we
        // must NOT touch the global panic hook here. Doing `panic::set_hook`
        // would race with other threads (the hook is process-global) and could
        // swallow unrelated panics or leave the hook in a broken state.
        // let old = panic::take_hook();
        // panic::set_hook(Box::new(|_| {}));
        self.resume_gen();
        // panic::set_hook(old);
    }

    /// Cancel the generator.
    ///
    /// A suspended run is resumed with a `Cancel` panic that unwinds its
    /// stack; a run that never started is dropped without being executed.
    fn cancel(&mut self) {
        if self.is_done() {
            return;
        }

        // consume the fun if it's not started
        if !self.is_started() {
            // Done before the closure is dropped (green patch 6): its
            // destructors may switch, and a resume meanwhile would start a
            // body that is gone.
            self.context._ref = REF_ACTIVE;
            drop(self.f.take());
        } else {
            self.raw_cancel();
        }
    }

    /// is finished
    #[inline]
    fn is_done(&self) -> bool {
        self.is_started() && (self.context._ref & REF_STATE_MASK) != REF_IDLE
    }

    /// get stack total size and used size in word
    fn stack_usage(&self) -> (usize, usize) {
        (self.stack.size(), self.stack.get_used_size())
    }
}

impl<A, T> Drop for GeneratorImpl<'_, A, T> {
    fn drop(&mut self) {
        if self.context.overflowed {
            // The overflow handler yields out of the generator without
            // unwinding its frames, so the functor block allocated by
            // `init_code` is still reserved. Tell the stack bookkeeping not to
            // enforce the LIFO check for this box.
            self.stack.abandon();
        }

        // when the thread is already panic, do nothing
        if thread::panicking() {
            return;
        }

        if !self.is_started() {
            // not started yet, just drop the gen
            return;
        }

        if !self.is_done() {
            trace!("generator is not done while drop");
            self.raw_cancel()
        }

        assert!(self.is_done());

        let (total_stack, used_stack) = self.stack_usage();
        if used_stack < total_stack {
            // here we should record the stack in the class
            // next time will just use
            // set_stack_size::<F>(used_stack);
        } else if !self.context.overflowed {
            // Only surface the overflow here when the guard-page handler did
            // not already flag it (and `take_err` hand it out): a caller that
            // caught that error must be able to drop the generator normally.
            // This check is the fallback for a stack that was filled to the
            // bottom without faulting. The flag also stays set because the
            // sentinel this check relies on is destroyed by an overflow.
            error!("stack overflow detected!");
            panic::panic_any(Error::StackErr);
        }
    }
}

// Windows cannot reliably surface the guard-page fault as
// `EXCEPTION_STACK_OVERFLOW` from a probe frame (the kernel may consume the
// guard page and retry the access instead), so the overflow tests are only
// run where a real stack exhaustion can be triggered in-process.
#[cfg(test)]
#[cfg(all(not(target_os = "fuchsia"), not(windows)))]
mod test {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    #[test]
    fn test_overflow_marks_the_context() {
        // not a tail call, so release builds cannot turn it into a loop
        #[inline(never)]
        fn exhaust(n: usize) -> usize {
            let buf = [0u8; 512];
            std::hint::black_box(&buf);
            if n == usize::MAX {
                return 0;
            }
            let r = exhaust(n + 1);
            std::hint::black_box(r.wrapping_add(buf[0] as usize))
        }

        let mut g = Gn::<()>::new_opt(16, || exhaust(0));

        let result = catch_unwind(AssertUnwindSafe(|| g.next()));
        assert!(result.is_err());
        assert!(matches!(
            result.map_err(|err| *err.downcast::<Error>().unwrap()),
            Err(Error::StackErr)
        ));

        // the handler must remember that it reported the overflow, so that
        // dropping the generator does not panic a second time
        assert!(g.gen.context.overflowed);
        // green patch 5: the flag is what the handler left (it allocates
        // nothing), and the error was handed out once, by `resume`
        assert!(g.overflowed());
        assert!(g.get_panic_data().is_none(), "delivered once");
    }

    #[test]
    fn a_spare_stack_carries_a_new_generator() {
        // green patch: a finished generator's stack, reused
        let mut g = Gn::<()>::new_scoped_opt_local(0x2000, |_s| {
            let buf = [7u8; 16 * 1024];
            std::hint::black_box(&buf);
            1u32
        });
        assert_eq!(g.next(), Some(1));
        assert!(g.is_done());
        let top = g.stack_usage().0 * std::mem::size_of::<usize>();
        let spare = g
            .into_spare_stack()
            .expect("a done generator gives its stack back");
        assert_eq!(spare.size_bytes(), top);
        let base = spare.base() as usize;

        let mut g = Gn::<()>::new_scoped_local_on(spare, |mut s: Scope<'_, '_, (), usize>| {
            let local = 0u8;
            s.yield_with(std::hint::black_box(&local) as *const u8 as usize);
            2
        });
        let addr = g.next().expect("the body runs on the spare stack");
        assert!((base..base + top).contains(&addr));
        assert_eq!(g.next(), Some(2));
    }

    /// `size` bytes of a private mapping above a guard page, unmapped when
    /// dropped: a stack in the caller's memory, for `SpareStack::from_raw`
    /// (declared before what runs on it, so that it is dropped after).
    struct CallersStack {
        mem: *mut u8,
        size: usize,
    }

    impl CallersStack {
        fn new(size: usize) -> CallersStack {
            let page = crate::stack::sys::page_size();
            // SAFETY: a fresh private mapping, unmapped by `drop`; its lowest
            // page is made the guard.
            let mem = unsafe {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    size + page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANON,
                    -1,
                    0,
                );
                assert_ne!(p, libc::MAP_FAILED);
                assert_eq!(libc::mprotect(p, page, libc::PROT_NONE), 0);
                p.cast::<u8>()
            };
            CallersStack { mem, size }
        }

        /// The stack's lowest usable byte, right above the guard page.
        fn base(&self) -> *mut u8 {
            self.mem.wrapping_add(crate::stack::sys::page_size())
        }
    }

    impl Drop for CallersStack {
        fn drop(&mut self) {
            let page = crate::stack::sys::page_size();
            // SAFETY: the mapping made by `new`; nothing uses it any more.
            unsafe { libc::munmap(self.mem.cast(), self.size + page) };
        }
    }

    #[test]
    fn a_stack_in_the_callers_memory_goes_back_to_the_caller() {
        // green patch 4: the caller maps (and guards) the memory, generator
        // runs on it and calls the owner's release once, with the range.
        use crate::StackOwner;
        use std::cell::RefCell;
        thread_local! {
            static RELEASED: RefCell<Vec<(usize, usize, usize)>> = const { RefCell::new(Vec::new()) };
        }
        unsafe fn release(data: *mut (), base: *mut u8, size: usize) {
            RELEASED.with(|r| r.borrow_mut().push((data as usize, base as usize, size)));
        }
        let page = crate::stack::sys::page_size();
        let size = 16 * page;
        let mem = CallersStack::new(size);
        let base = mem.base();
        let owner = StackOwner {
            release,
            data: std::ptr::without_provenance_mut(42),
        };
        for round in 0..2 {
            // SAFETY: the range is ours, unused, guarded below.
            let spare = unsafe { SpareStack::from_raw(base, size, owner) };
            assert_eq!((spare.base(), spare.size_bytes()), (base, size));
            let mut g = Gn::<()>::new_scoped_local_on(spare, |mut s: Scope<'_, '_, (), usize>| {
                let local = 0u8;
                s.yield_with(std::hint::black_box(&local) as *const u8 as usize);
                3
            });
            let addr = g.next().expect("the body runs on the caller's memory");
            assert!((base as usize..base as usize + size).contains(&addr));
            assert_eq!(g.next(), Some(3));
            RELEASED.with(|r| assert!(r.borrow().len() == round, "released early"));
            drop(g);
            RELEASED.with(|r| {
                assert_eq!(r.borrow().len(), round + 1, "released once");
                assert_eq!(r.borrow()[round], (42, base as usize, size));
            });
        }
        // a spare stack given back without a generator is released too
        drop(unsafe { SpareStack::from_raw(base, size, owner) });
        RELEASED.with(|r| assert_eq!(r.borrow().len(), 3));
    }

    #[test]
    fn a_gap_at_the_top_of_a_callers_stack_stays_unused() {
        // green patch 9: the record and the frames go below the gap, which
        // stays as it was through two generators; the release and the spare
        // stack still name the whole range.
        use crate::StackOwner;
        use std::cell::RefCell;
        thread_local! {
            static RELEASED: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
        }
        unsafe fn release(_: *mut (), base: *mut u8, size: usize) {
            RELEASED.with(|r| r.borrow_mut().push((base as usize, size)));
        }
        let page = crate::stack::sys::page_size();
        let (size, gap) = (16 * page, 1984);
        let mem = CallersStack::new(size);
        let base = mem.base();
        let top = base as usize + size;
        // SAFETY: the gap is ours; nothing runs there yet.
        let gap_bytes = unsafe { std::slice::from_raw_parts_mut(base.add(size - gap), gap) };
        gap_bytes.fill(0xab);
        let owner = StackOwner {
            release,
            data: std::ptr::null_mut(),
        };
        // SAFETY: the range is ours, unused, guarded below.
        let mut spare = unsafe { SpareStack::from_raw_with_gap(base, size, gap, owner) };
        for _ in 0..2 {
            assert_eq!((spare.base(), spare.size_bytes()), (base, size));
            let mut g = Gn::<()>::new_scoped_local_on(spare, |mut s: Scope<'_, '_, (), usize>| {
                let local = 0u8;
                s.yield_with(std::hint::black_box(&local) as *const u8 as usize);
                3
            });
            let addr = g.next().expect("the body runs on the caller's memory");
            assert!((base as usize..top - gap).contains(&addr), "{addr:#x} in the gap");
            // Right below the gap: the record and one frame.
            assert!(top - gap - addr < 2048, "{} bytes below the gap", top - gap - addr);
            assert!(g.live_stack_bytes() > 0);
            assert_eq!(g.next(), Some(3));
            spare = g.into_spare_stack().expect("a finished generator's stack");
        }
        // SAFETY: nothing runs on the stack now.
        let gap_bytes = unsafe { std::slice::from_raw_parts(base.add(size - gap), gap) };
        assert!(gap_bytes.iter().all(|&b| b == 0xab), "the gap was written");
        drop(spare);
        RELEASED.with(|r| assert_eq!(*r.borrow(), [(base as usize, size)]));
    }

    /// Whether `from_raw_with_gap` takes a gap of `gap` bytes at the top of
    /// a 16-page stack (it is checked before anything touches the memory;
    /// the release does nothing).
    fn takes_gap(gap: usize) -> bool {
        use crate::StackOwner;
        unsafe fn release(_: *mut (), _: *mut u8, _: usize) {}
        let owner = StackOwner {
            release,
            data: std::ptr::null_mut(),
        };
        let page = crate::stack::sys::page_size();
        // Memory of its own: the stack's record is written at its top
        // (green patch 10).
        let mem = CallersStack::new(16 * page);
        // SAFETY: the caller's memory, guarded, which nothing runs on; the
        // stack is dropped at once, and dropping it only calls the release
        // above.
        std::panic::catch_unwind(|| unsafe {
            drop(SpareStack::from_raw_with_gap(mem.base(), 16 * page, gap, owner))
        })
        .is_ok()
    }

    #[test]
    fn a_gap_is_whole_lines_with_the_least_stack_below() {
        let page = crate::stack::sys::page_size();
        let most = 16 * page - SpareStack::min_size();
        assert!(takes_gap(64) && takes_gap(1920) && takes_gap(most));
        assert!(!takes_gap(96), "part of a line");
        assert!(!takes_gap(most + 64), "too little below");
    }

    #[test]
    fn a_body_that_never_unwound_gives_no_spare_stack() {
        // A destructor that suspends while the cancel unwinds: generator
        // counts the body as done, with its frames (and its closure block)
        // still on the stack. Run on a thread of its own: the suspended
        // unwind leaves that thread's panic count raised.
        std::thread::spawn(|| {
            struct SuspendOnDrop<'s, 'a>(Scope<'s, 'a, (), ()>);
            impl Drop for SuspendOnDrop<'_, '_> {
                fn drop(&mut self) {
                    self.0.yield_with(());
                }
            }
            let mut g = Gn::<()>::new_scoped_opt_local(0x2000, |s: Scope<'_, '_, (), ()>| {
                let mut d = SuspendOnDrop(s);
                d.0.yield_with(());
            });
            g.next();
            g.cancel();
            assert!(g.is_done());
            let spare = g.into_spare_stack();
            let handed_back = spare.is_some();
            // whatever came back, its frames must stay where they are
            std::mem::forget(spare);
            handed_back
        })
        .join()
        .map(|handed_back| assert!(!handed_back, "a stack with live frames was handed back"))
        .unwrap_or_else(|_| panic!("the scenario thread panicked"));
    }

    #[test]
    fn only_a_finished_generator_gives_its_stack_back() {
        let mut g = Gn::<()>::new_scoped_opt_local(0x2000, |mut s: Scope<'_, '_, (), u32>| {
            s.yield_with(1u32);
            2
        });
        assert_eq!(g.next(), Some(1));
        // suspended: dropped (cancelled) as usual
        assert!(g.into_spare_stack().is_none());
        // odd size: usage tracking keeps a sentinel a discard would destroy
        let mut g = Gn::<()>::new_scoped_opt_local(0x2001, |_s| 1u32);
        assert_eq!(g.next(), Some(1));
        assert!(g.into_spare_stack().is_none());
    }

    #[test]
    fn a_generator_hands_the_thread_to_another() {
        // green patch 3
        use std::cell::RefCell;
        use std::rc::Rc;
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let mut b = Gn::<()>::new_scoped_local(move |mut s: Scope<'_, '_, (), ()>| {
            l.borrow_mut().push("b1");
            s.yield_with(());
            l.borrow_mut().push("b2");
        });
        let bp: *mut LocalGenerator<'_, (), ()> = &mut b;
        let l = log.clone();
        let mut a = Gn::<()>::new_scoped_local(move |mut s: Scope<'_, '_, (), ()>| {
            l.borrow_mut().push("a1");
            // SAFETY: `a` runs on top of the thread's stack, `b` has not
            // started and is not touched until it comes back.
            unsafe { LocalGenerator::resume_instead_of_current(bp) };
            l.borrow_mut().push("a2");
            s.yield_with(());
            l.borrow_mut().push("a3");
        });
        a.resume(); // a1, then b1: b's yield comes back here
        assert_eq!(*log.borrow(), ["a1", "b1"]);
        assert!(!a.is_done() && !b.is_done());
        b.resume(); // b2: b returns to its new resumer
        assert!(b.is_done());
        assert!(!a.is_done());
        a.resume(); // a2, then a's own yield
        assert!(!a.is_done());
        a.resume();
        assert!(a.is_done());
        assert_eq!(*log.borrow(), ["a1", "b1", "b2", "a2", "a3"]);
    }

    #[test]
    fn a_generator_that_handed_the_thread_over_unwinds_when_cancelled() {
        // green patch 3
        use std::cell::Cell;
        use std::rc::Rc;
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = Rc::new(Cell::new(false));
        let mut b = Gn::<()>::new_scoped_local(|mut s: Scope<'_, '_, (), ()>| {
            s.yield_with(());
        });
        let bp: *mut LocalGenerator<'_, (), ()> = &mut b;
        let d = dropped.clone();
        let mut a = Gn::<()>::new_scoped_local(move |_: Scope<'_, '_, (), ()>| {
            let _flag = Flag(d);
            // SAFETY: as in the test above.
            unsafe { LocalGenerator::resume_instead_of_current(bp) };
            unreachable!("cancelled while handed over");
        });
        a.resume();
        assert!(!dropped.get());
        a.cancel();
        assert!(dropped.get());
        assert!(a.is_done());
        b.resume();
        assert!(b.is_done());
    }

    #[test]
    fn a_panic_of_the_generator_handed_to_stays_with_it() {
        // green patch 3
        let mut b = Gn::<()>::new_scoped_local(|_: Scope<'_, '_, (), ()>| -> () {
            std::panic::panic_any(42u32);
        });
        let bp: *mut LocalGenerator<'_, (), ()> = &mut b;
        let mut a = Gn::<()>::new_scoped_local(move |mut s: Scope<'_, '_, (), ()>| {
            // SAFETY: as in the tests above.
            unsafe { LocalGenerator::resume_instead_of_current(bp) };
            s.yield_with(());
        });
        a.resume(); // no panic here: it is b's
        assert!(b.is_done());
        let payload = b.get_panic_data().expect("b's panic is kept in b");
        assert_eq!(payload.downcast_ref::<u32>(), Some(&42));
        a.resume();
        a.resume();
        assert!(a.is_done());
    }

    #[test]
    fn stack_lines_cover_the_span_in_whole_lines() {
        // green patch 8
        use super::stack_lines;
        assert_eq!(stack_lines(0x1000, 0, 32), (0x1000, 0));
        assert_eq!(stack_lines(0x1000, 64, 32), (0x1000, 1));
        assert_eq!(stack_lines(0x1000, 65, 32), (0x1000, 2));
        // unaligned: the line the pointer is in, up to the span's last byte
        assert_eq!(stack_lines(0x1010, 0x30, 32), (0x1000, 1));
        assert_eq!(stack_lines(0x1030, 0x20, 32), (0x1000, 2));
        assert_eq!(stack_lines(0x103f, 1, 32), (0x1000, 1));
        assert_eq!(stack_lines(0x1010, 4096, 32), (0x1000, 32), "capped");
    }

    #[cfg(all(target_arch = "x86_64", unix))]
    #[test]
    fn live_stack_bytes_spans_the_frames_a_generator_suspended_in() {
        // green patch 8
        #[inline(never)]
        fn deep(mut s: Scope<'_, '_, (), u32>) {
            let buf = std::hint::black_box([7u8; 2048]);
            s.yield_with(u32::from(buf[100]));
        }
        let mut shallow = Gn::<()>::new_scoped_local(|mut s: Scope<'_, '_, (), u32>| {
            s.yield_with(1);
            0
        });
        let mut deeper = Gn::<()>::new_scoped_local(|s: Scope<'_, '_, (), u32>| {
            deep(s);
            0
        });
        let fresh = shallow.live_stack_bytes();
        assert!(fresh > 0 && fresh < 512, "not started: {fresh} bytes");
        assert_eq!(shallow.resume(), Some(1));
        assert_eq!(deeper.resume(), Some(7));
        let (a, b) = (shallow.live_stack_bytes(), deeper.live_stack_bytes());
        assert!(a > 0 && a < 2048, "suspended at the top: {a} bytes");
        assert!(b >= a + 2048, "suspended under a 2 KiB frame: {b} bytes against {a}");
        shallow.prefetch_stack(64);
        deeper.prefetch_stack(64);
        assert_eq!(shallow.resume(), Some(0));
        assert_eq!(shallow.live_stack_bytes(), 0, "done: nothing in use");
    }

    #[test]
    fn suspend_current_suspends_without_a_scope() {
        // green patch 6
        use std::cell::RefCell;
        use std::rc::Rc;
        fn deep(log: &RefCell<Vec<&'static str>>) {
            log.borrow_mut().push("in");
            crate::suspend_current();
            log.borrow_mut().push("back");
        }
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let mut g = Gn::<()>::new_scoped_local(move |mut s: Scope<'_, '_, (), u32>| {
            deep(&l);
            s.yield_with(7);
            8
        });
        assert_eq!(g.resume(), None, "nothing is handed over");
        assert!(!g.is_done());
        assert_eq!(*log.borrow(), ["in"]);
        assert_eq!(g.resume(), Some(7));
        assert_eq!(*log.borrow(), ["in", "back"]);
        assert_eq!(g.resume(), Some(8));
        assert!(g.is_done());
        assert!(!crate::is_generator(), "the thread is back on its own stack");
        let outside = std::panic::catch_unwind(crate::suspend_current);
        assert!(outside.is_err(), "refused outside a generator");
    }

    #[test]
    fn a_generator_suspended_without_a_scope_unwinds_when_cancelled() {
        // green patch 6
        use std::cell::Cell;
        use std::rc::Rc;
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = Rc::new(Cell::new(false));
        let d = dropped.clone();
        let mut g = Gn::<()>::new_scoped_local(move |_: Scope<'_, '_, (), ()>| {
            let _flag = Flag(d);
            crate::suspend_current();
            unreachable!("cancelled while suspended");
        });
        g.resume();
        assert!(!dropped.get());
        g.cancel();
        assert!(dropped.get());
        assert!(g.is_done());
    }

    #[test]
    fn a_generator_cancelled_before_it_started_is_done_while_its_body_drops() {
        // green patch 6: a destructor of the unstarted body resumes the
        // generator; it must find it done, not start a body that is gone.
        use std::cell::Cell;
        use std::rc::Rc;
        type Slot = Rc<Cell<*mut LocalGenerator<'static, (), ()>>>;
        struct ResumeOnDrop(Slot, Rc<Cell<Option<bool>>>);
        impl Drop for ResumeOnDrop {
            fn drop(&mut self) {
                // SAFETY: the generator is alive (it is dropping its body)
                // and nothing else touches it during this call.
                let g = unsafe { &mut *self.0.get() };
                self.1.set(Some(g.is_done()));
                assert_eq!(g.resume(), None);
            }
        }
        let slot: Slot = Rc::new(Cell::new(std::ptr::null_mut()));
        let seen = Rc::new(Cell::new(None));
        let guard = ResumeOnDrop(slot.clone(), seen.clone());
        let mut g = Gn::<()>::new_scoped_local(move |_: Scope<'_, '_, (), ()>| {
            let _keep = &guard;
            unreachable!("never started");
        });
        slot.set(&mut g);
        g.cancel();
        assert_eq!(seen.get(), Some(true), "done while its body dropped");
        assert!(g.is_done());
    }

    #[test]
    fn a_switch_inside_a_nested_generator_suspends_the_outermost() {
        // green patch 12 (patches 3 and 6 before it suspended the nested
        // one): `b` runs inside `outer` and hands the thread to `c`, which
        // takes `outer`'s place and suspends to the thread; `outer` then
        // goes on inside `b`, after its hand-off. A `suspend_current`
        // inside `inner` suspends `outer` too.
        use std::cell::RefCell;
        use std::rc::Rc;
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let mut c = Gn::<()>::new_scoped_local(move |_: Scope<'_, '_, (), ()>| {
            l.borrow_mut().push("c1");
            crate::suspend_current();
            l.borrow_mut().push("c2");
        });
        let cp: *mut LocalGenerator<'_, (), ()> = &mut c;
        let l = log.clone();
        let mut b = Gn::<()>::new_scoped_local(move |_: Scope<'_, '_, (), ()>| {
            l.borrow_mut().push("b1");
            // SAFETY: `b` runs on top of the context stack, `c` has not
            // started and is not touched until it comes back.
            unsafe { LocalGenerator::resume_instead_of_current(cp) };
            l.borrow_mut().push("b2");
        });
        let bp: *mut LocalGenerator<'_, (), ()> = &mut b;
        let l = log.clone();
        let mut outer = Gn::<()>::new_scoped_local(move |_: Scope<'_, '_, (), ()>| {
            // SAFETY: `b` is live, not running, and only touched here.
            unsafe { (*bp).resume() };
            l.borrow_mut().push("outer");
            let l2 = l.clone();
            let mut inner = Gn::<()>::new_scoped_local(move |_: Scope<'_, '_, (), ()>| {
                l2.borrow_mut().push("i1");
                crate::suspend_current();
                l2.borrow_mut().push("i2");
            });
            inner.resume();
            assert!(inner.is_done());
            l.borrow_mut().push("outer end");
        });
        outer.resume();
        assert_eq!(*log.borrow(), ["b1", "c1"]);
        assert!(!crate::is_generator());
        // `b` is still running, inside `outer` (not idle: `is_done` says so).
        assert!(!outer.is_done() && !c.is_done());
        outer.resume();
        assert_eq!(*log.borrow(), ["b1", "c1", "b2", "outer", "i1"]);
        assert!(b.is_done() && !outer.is_done());
        outer.resume();
        assert!(outer.is_done());
        c.resume();
        assert!(c.is_done());
        assert_eq!(
            *log.borrow(),
            ["b1", "c1", "b2", "outer", "i1", "i2", "outer end", "c2"]
        );
    }

    #[test]
    fn resume_raw_leaves_the_checks_to_the_resumer() {
        // green patch 3
        let mut b = Gn::<()>::new_scoped_local(|_: Scope<'_, '_, (), ()>| -> () {
            std::panic::panic_any(7u32);
        });
        let bp: *mut LocalGenerator<'_, (), ()> = &mut b;
        let mut a = Gn::<()>::new_scoped_local(move |mut s: Scope<'_, '_, (), ()>| {
            // SAFETY: as in the tests above.
            unsafe { LocalGenerator::resume_instead_of_current(bp) };
            s.yield_with(());
        });
        let ap: *mut LocalGenerator<'_, (), ()> = &mut a;
        // SAFETY: from the test's own stack; `a` is not done and not running.
        unsafe { LocalGenerator::resume_raw(ap) };
        // `b` came back: done, its panic kept for the resumer to take
        assert!(b.is_done());
        let payload = b.get_panic_data().expect("b's panic is kept in b");
        assert_eq!(payload.downcast_ref::<u32>(), Some(&7));
        assert!(!a.is_done());
        // SAFETY: as above.
        unsafe { LocalGenerator::resume_raw(ap) };
        assert!(!a.is_done());
        a.resume();
        assert!(a.is_done());
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: as above; it panics before switching.
            unsafe { LocalGenerator::resume_raw(ap) }
        }));
        assert!(done.is_err(), "a done generator is refused");
    }
}
