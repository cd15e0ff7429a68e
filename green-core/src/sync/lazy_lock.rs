//! [`LazyLock`]: `std::sync::LazyLock`, whose waiters park the greenlet
//! instead of blocking the thread.
//!
//! A [`Once`] tells which half of `data` is alive: the initializing
//! function while it is incomplete, the value once it is complete, neither
//! once it is poisoned (the function was taken out and unwound).

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};

use super::once::{poisoned, Kind, Once, Settled};

/// The function before, the value after; which one, the `Once` says.
union Data<T, F> {
    f: ManuallyDrop<F>,
    value: ManuallyDrop<T>,
}

/// A value which is initialized on the first access, with the API of
/// [`std::sync::LazyLock`].
///
/// This type is a thread-safe [`LazyCell`](std::cell::LazyCell), and can
/// be used in statics. Since initialization may be called from several
/// greenlets and threads, any dereferencing call waits if another
/// initialization routine is currently running: inside
/// [`run`](crate::run()) the greenlet parks and the hub runs the others (the
/// initializing one included), so the initializer may sleep or do green IO;
/// outside, the thread blocks.
///
/// # Poisoning
///
/// If the initialization closure passed to [`LazyLock::new`] panics, the
/// lock will be poisoned, and so it will if the greenlet running it is
/// [killed](crate::JoinHandle::kill) or [timed out](crate::timeout()) (it
/// unwinds as from a panic). Once the lock is poisoned, any greenlet or
/// thread that attempts to access it (via a dereference or via an explicit
/// call to [`force()`]) will panic, as std's: the poisoning is
/// unrecoverable.
///
/// [`force()`]: LazyLock::force
///
/// # Examples
///
/// A static whose initializer reads a file (through `green::unblock`, as
/// `green_std::fs` does): two greenlets reach it at once, and both get the
/// one value.
///
/// ```
/// use green::sync::LazyLock;
///
/// static CONFIG: LazyLock<String> = LazyLock::new(|| {
///     green::unblock(|| std::fs::read_to_string("/proc/self/status"))
///         .map(|s| s.lines().next().unwrap_or_default().to_string())
///         .unwrap_or_default()
/// });
///
/// green::run(|| {
///     let a = green::spawn(|| CONFIG.len());
///     let b = green::spawn(|| CONFIG.len());
///     assert_eq!(a.join().unwrap(), b.join().unwrap());
/// });
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    /// # Invariant
    ///
    /// `data.f` is initialized while this is incomplete, `data.value` once
    /// it is complete; neither while it is poisoned (or running: the
    /// runner took `f`).
    once: Once,
    data: UnsafeCell<Data<T, F>>,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// Creates a new lazy value with the given initializing function.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::LazyLock;
    ///
    /// let hello = "Hello, World!".to_string();
    ///
    /// let lazy = LazyLock::new(|| hello.to_uppercase());
    ///
    /// assert_eq!(&*lazy, "HELLO, WORLD!");
    /// ```
    #[inline]
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            once: Once::new(),
            data: UnsafeCell::new(Data {
                f: ManuallyDrop::new(f),
            }),
        }
    }

    /// Forces the evaluation of this lazy value and returns a mutable
    /// reference to the result.
    ///
    /// # Panics
    ///
    /// If the initialization closure panics (the one that is passed to the
    /// [`new()`] method), the panic is propagated to the caller, and the
    /// lock becomes poisoned. This will cause all future accesses of the
    /// lock (via [`force()`] or a dereference) to panic.
    ///
    /// [`new()`]: LazyLock::new
    /// [`force()`]: LazyLock::force
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::LazyLock;
    ///
    /// let mut lazy = LazyLock::new(|| 92);
    ///
    /// let p = LazyLock::force_mut(&mut lazy);
    /// assert_eq!(*p, 92);
    /// *p = 44;
    /// assert_eq!(*lazy, 44);
    /// ```
    #[track_caller]
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        match this.once.settled() {
            Settled::Complete => {}
            Settled::Poisoned => poisoned(Kind::LazyLock),
            Settled::Incomplete => {
                let data = this.data.get_mut();
                // SAFETY: incomplete, so `f` is initialized (the
                // invariant); the borrow is exclusive.
                let f = unsafe { ManuallyDrop::take(&mut data.f) };
                // Nothing is alive until `value` is: if `f` unwinds, the
                // lock stays poisoned.
                this.once.settle(Settled::Poisoned);
                data.value = ManuallyDrop::new(f());
                this.once.settle(Settled::Complete);
            }
        }
        // SAFETY: complete, so `value` is initialized (the invariant); the
        // borrow is exclusive.
        unsafe { &mut this.data.get_mut().value }
    }

    /// Forces the evaluation of this lazy value and returns a reference to
    /// result. This is equivalent to the `Deref` impl, but is explicit.
    ///
    /// This method will wait if another initialization routine is
    /// currently running: a greenlet parks (the hub runs the others), a
    /// thread outside [`run`](crate::run()) blocks.
    ///
    /// # Panics
    ///
    /// If the initialization closure panics (the one that is passed to the
    /// [`new()`] method), the panic is propagated to the caller, and the
    /// lock becomes poisoned. This will cause all future accesses of the
    /// lock (via [`force()`] or a dereference) to panic.
    ///
    /// Reached from its own initialization closure, it panics (naming
    /// `LazyLock`) instead of waiting for itself, where std's deadlocks.
    ///
    /// [`new()`]: LazyLock::new
    /// [`force()`]: LazyLock::force
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::LazyLock;
    ///
    /// let lazy = LazyLock::new(|| 92);
    ///
    /// assert_eq!(LazyLock::force(&lazy), &92);
    /// assert_eq!(&*lazy, &92);
    /// ```
    #[inline]
    #[track_caller]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        if !this.once.is_completed() {
            this.initialize();
        }
        // SAFETY: complete, so `value` is initialized (the invariant), and
        // never written again while `&self` is shared.
        unsafe { &(*this.data.get()).value }
    }

    #[cold]
    #[track_caller]
    fn initialize(&self) {
        let data = self.data.get();
        self.once
            .call(false, Kind::LazyLock, "LazyLock::force", &mut |_| {
                // SAFETY: the `Once` runs this closure (not ignoring
                // poisoning) at most once and only while incomplete, so `f`
                // is initialized and nobody else touches `data`; once `f` is
                // taken the `Once` is running, then complete when `value` is
                // written, or poisoned if `f` unwinds (the invariant).
                unsafe {
                    let f = ManuallyDrop::take(&mut (*data).f);
                    (*data).value = ManuallyDrop::new(f());
                }
            });
    }
}

impl<T, F> LazyLock<T, F> {
    /// Returns a mutable reference to the value if initialized. Otherwise
    /// (if uninitialized or poisoned), returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::LazyLock;
    ///
    /// let mut lazy = LazyLock::new(|| 92);
    ///
    /// assert_eq!(LazyLock::get_mut(&mut lazy), None);
    /// let _ = LazyLock::force(&lazy);
    /// *LazyLock::get_mut(&mut lazy).unwrap() = 44;
    /// assert_eq!(*lazy, 44);
    /// ```
    #[inline]
    pub fn get_mut(this: &mut LazyLock<T, F>) -> Option<&mut T> {
        if this.once.settled() == Settled::Complete {
            // SAFETY: complete, so `value` is initialized (the invariant);
            // the borrow is exclusive.
            Some(unsafe { &mut this.data.get_mut().value })
        } else {
            None
        }
    }

    /// Returns a reference to the value if initialized. Otherwise (if
    /// uninitialized or poisoned), returns `None`. It never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::LazyLock;
    ///
    /// let lazy = LazyLock::new(|| 92);
    ///
    /// assert_eq!(LazyLock::get(&lazy), None);
    /// let _ = LazyLock::force(&lazy);
    /// assert_eq!(LazyLock::get(&lazy), Some(&92));
    /// ```
    #[inline]
    pub fn get(this: &LazyLock<T, F>) -> Option<&T> {
        if this.once.is_completed() {
            // SAFETY: complete, so `value` is initialized (the invariant),
            // and never written again while `this` is shared.
            Some(unsafe { &(*this.data.get()).value })
        } else {
            None
        }
    }
}

impl<T, F> Drop for LazyLock<T, F> {
    fn drop(&mut self) {
        let data = self.data.get_mut();
        match self.once.settled() {
            // SAFETY: incomplete, so `f` is initialized (the invariant);
            // dropped once, as the lock goes.
            Settled::Incomplete => unsafe { ManuallyDrop::drop(&mut data.f) },
            // SAFETY: complete, so `value` is initialized (the invariant);
            // dropped once, as the lock goes.
            Settled::Complete => unsafe { ManuallyDrop::drop(&mut data.value) },
            Settled::Poisoned => {}
        }
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    /// Dereferences the value.
    ///
    /// This method will wait if another initialization routine is
    /// currently running (see [`force()`]).
    ///
    /// # Panics
    ///
    /// If the initialization closure panics (the one that is passed to the
    /// [`new()`] method), the panic is propagated to the caller, and the
    /// lock becomes poisoned. This will cause all future accesses of the
    /// lock (via [`force()`] or a dereference) to panic.
    ///
    /// [`new()`]: LazyLock::new
    /// [`force()`]: LazyLock::force
    #[inline]
    #[track_caller]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T, F: FnOnce() -> T> DerefMut for LazyLock<T, F> {
    /// # Panics
    ///
    /// If the initialization closure panics (the one that is passed to the
    /// [`new()`] method), the panic is propagated to the caller, and the
    /// lock becomes poisoned. This will cause all future accesses of the
    /// lock (via [`force()`] or a dereference) to panic.
    ///
    /// [`new()`]: LazyLock::new
    /// [`force()`]: LazyLock::force
    #[inline]
    #[track_caller]
    fn deref_mut(&mut self) -> &mut T {
        LazyLock::force_mut(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    /// Creates a new lazy value using `Default` as the initializing
    /// function.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::LazyLock;
    ///
    /// let lazy: LazyLock<Vec<u8>> = LazyLock::default();
    /// assert!(lazy.is_empty());
    /// ```
    #[inline]
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match LazyLock::get(self) {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

// SAFETY: sharing the lock shares `&T` (so `T: Sync`) and lets any sharer
// run `F` and write the `T` from its own thread, which another may then
// drop (so `F: Send`, `T: Send`); no `&F` is ever made from a shared lock,
// so `F` need not be `Sync`. The `Once` orders the one write before every
// read. `Send` is the auto impl: the lock owns an `F` or a `T`.
unsafe impl<T: Sync + Send, F: Send> Sync for LazyLock<T, F> {}

impl<T: RefUnwindSafe + UnwindSafe, F: UnwindSafe> RefUnwindSafe for LazyLock<T, F> {}
impl<T: UnwindSafe, F: UnwindSafe> UnwindSafe for LazyLock<T, F> {}
