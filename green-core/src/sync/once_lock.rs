//! [`OnceLock`]: `std::sync::OnceLock`, whose waiters park the greenlet
//! instead of blocking the thread.
//!
//! A [`Once`] guards a slot: the `Once` completes exactly when the slot is
//! written, so a complete `Once` (one `Acquire` load) means the value is
//! there and will never change while the cell is shared. A panicking (or
//! killed) initializer poisons the `Once`; the cell ignores poisoning, so
//! the next caller initializes it.
//!
//! The slot is an `Option`, dropped by the compiler's drop glue: with no
//! `Drop` impl of its own, a cell may hold borrows that die just before it
//! (`let cell = OnceLock::new(); let s = String::new(); cell.set(&s)`),
//! as std's may (its `Drop` is `#[may_dangle]`, which stable Rust cannot
//! write).

use std::cell::UnsafeCell;
use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};

use super::once::{Kind, Once, Settled};

/// A synchronization primitive which can nominally be written to only once,
/// with the API of [`std::sync::OnceLock`].
///
/// This type is a thread-safe [`OnceCell`](std::cell::OnceCell), and can be
/// used in statics. Inside [`run`](crate::run()), a greenlet that finds
/// another's initializer running parks, and the hub runs the others (the
/// initializing one included); outside, the thread blocks. Greenlets of any
/// hub and plain threads may share one cell.
///
/// An initializer that panics, or whose greenlet is
/// [killed](crate::JoinHandle::kill) or [timed out](crate::timeout()) while
/// it runs, leaves the cell empty: the next caller initializes it.
///
/// # Examples
///
/// A static initialized by whichever greenlet gets there first, with a
/// sleep in its initializer (std's `OnceLock` would deadlock the hub when
/// the second greenlet arrives):
///
/// ```
/// use green::sync::OnceLock;
/// use std::time::Duration;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
///
/// fn config() -> &'static str {
///     CONFIG.get_or_init(|| {
///         green::sleep(Duration::from_millis(10)); // a slow read
///         "port=80".to_string()
///     })
/// }
///
/// green::run(|| {
///     let a = green::spawn(config);
///     let b = green::spawn(config);
///     assert_eq!(a.join().unwrap(), "port=80");
///     assert_eq!(b.join().unwrap(), "port=80");
/// });
/// ```
pub struct OnceLock<T> {
    /// # Invariant
    ///
    /// Complete if and only if `value` is `Some`, except while the runner
    /// of the `Once` has written it and not yet marked it complete (nobody
    /// reads it then).
    once: Once,
    value: UnsafeCell<Option<T>>,
}

impl<T> OnceLock<T> {
    /// Creates a new uninitialized cell.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// static CELL: OnceLock<u32> = OnceLock::new();
    /// assert!(CELL.get().is_none());
    /// ```
    #[must_use]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            once: Once::new(),
            value: UnsafeCell::new(None),
        }
    }

    /// Gets the reference to the underlying value.
    ///
    /// Returns `None` if the cell is uninitialized, or being initialized.
    /// This method never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// let cell = OnceLock::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set(92).unwrap();
    /// assert_eq!(cell.get(), Some(&92));
    /// ```
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: complete, so initialized (the invariant), and never
            // written again while `&self` is shared.
            Some(unsafe { self.get_unchecked() })
        } else {
            None
        }
    }

    /// Gets the mutable reference to the underlying value.
    ///
    /// Returns `None` if the cell is uninitialized.
    ///
    /// This method never blocks. Since it borrows the `OnceLock` mutably,
    /// it is statically guaranteed that no active borrows to the `OnceLock`
    /// exist, including from other threads.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// let mut cell = OnceLock::from(92);
    /// *cell.get_mut().unwrap() = 93;
    /// assert_eq!(cell.get(), Some(&93));
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut T> {
        // Only a complete cell holds a value (the invariant).
        self.value.get_mut().as_mut()
    }

    /// Blocks the current greenlet (or thread, outside
    /// [`run`](crate::run())) until the cell is initialized.
    ///
    /// # Panics
    ///
    /// Called from the cell's own initializer, it panics instead of waiting
    /// for itself (std's deadlocks).
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    /// use std::rc::Rc;
    ///
    /// green::run(|| {
    ///     let cell = Rc::new(OnceLock::new());
    ///     let c = cell.clone();
    ///     let reader = green::spawn(move || *c.wait());
    ///     cell.set(7).unwrap();
    ///     assert_eq!(reader.join().unwrap(), 7);
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&self) -> &T {
        if !self.once.is_completed() {
            self.once.wait_for(true, Kind::OnceLock, "OnceLock::wait");
        }
        // SAFETY: complete, so initialized (the invariant), and never
        // written again while `&self` is shared.
        unsafe { self.get_unchecked() }
    }

    /// Initializes the contents of the cell to `value`.
    ///
    /// May wait if another greenlet or thread is currently attempting to
    /// initialize the cell. The cell is guaranteed to contain a value when
    /// `set` returns, though not necessarily the one provided.
    ///
    /// Returns `Ok(())` if the cell was uninitialized and `Err(value)` if
    /// the cell was already initialized.
    ///
    /// # Panics
    ///
    /// Called from the cell's own initializer, it panics instead of waiting
    /// for itself (std's deadlocks).
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// static CELL: OnceLock<i32> = OnceLock::new();
    ///
    /// green::run(|| {
    ///     assert!(CELL.get().is_none());
    ///     green::spawn(|| assert_eq!(CELL.set(92), Ok(()))).join().unwrap();
    ///     assert_eq!(CELL.set(62), Err(62));
    ///     assert_eq!(CELL.get(), Some(&92));
    /// });
    /// ```
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        if !self.once.is_completed() {
            self.initialize(&mut || value.take().expect("taken once"), "OnceLock::set");
        }
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// Gets the contents of the cell, initializing it to `f()` if the cell
    /// was uninitialized.
    ///
    /// Many greenlets and threads may call `get_or_init` concurrently with
    /// different initializing functions, but it is guaranteed that only one
    /// function will be executed if the function doesn't panic. The others
    /// wait for it (a greenlet parks, so `f` may switch: sleep, do green
    /// IO).
    ///
    /// # Panics
    ///
    /// If `f` panics, the panic is propagated to the caller, and the cell
    /// remains uninitialized; so it does if the greenlet running `f` is
    /// killed or timed out.
    ///
    /// It is an error to reentrantly initialize the cell from `f`: std's
    /// deadlocks; this one panics, naming `OnceLock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// let cell = OnceLock::new();
    /// let value = cell.get_or_init(|| 92);
    /// assert_eq!(value, &92);
    /// let value = cell.get_or_init(|| unreachable!());
    /// assert_eq!(value, &92);
    /// ```
    #[track_caller]
    pub fn get_or_init<F>(&self, f: F) -> &T
    where
        F: FnOnce() -> T,
    {
        if !self.once.is_completed() {
            let mut f = Some(f);
            self.initialize(
                &mut || f.take().expect("taken once")(),
                "OnceLock::get_or_init",
            );
        }
        // SAFETY: `initialize` returns once the cell is complete, so
        // initialized (the invariant), and never written again while `&self`
        // is shared.
        unsafe { self.get_unchecked() }
    }

    /// Consumes the `OnceLock`, returning the wrapped value. Returns `None`
    /// if the cell was uninitialized.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// let cell: OnceLock<String> = OnceLock::new();
    /// assert_eq!(cell.into_inner(), None);
    ///
    /// let cell = OnceLock::new();
    /// cell.set("hello".to_string()).unwrap();
    /// assert_eq!(cell.into_inner(), Some("hello".to_string()));
    /// ```
    #[inline]
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Takes the value out of this `OnceLock`, moving it back to an
    /// uninitialized state.
    ///
    /// Has no effect and returns `None` if the `OnceLock` was
    /// uninitialized.
    ///
    /// Since this method borrows the `OnceLock` mutably, it is statically
    /// guaranteed that no active borrows to the `OnceLock` exist, including
    /// from other threads.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// let mut cell: OnceLock<String> = OnceLock::new();
    /// assert_eq!(cell.take(), None);
    ///
    /// let mut cell = OnceLock::new();
    /// cell.set("hello".to_string()).unwrap();
    /// assert_eq!(cell.take(), Some("hello".to_string()));
    /// assert_eq!(cell.get(), None);
    /// ```
    #[inline]
    pub fn take(&mut self) -> Option<T> {
        let value = self.value.get_mut().take();
        if value.is_some() {
            self.once.settle(Settled::Incomplete);
        }
        value
    }

    /// Runs `f` into the slot unless the cell is (or becomes) initialized
    /// meanwhile; returns once it is.
    #[cold]
    #[track_caller]
    fn initialize(&self, f: &mut dyn FnMut() -> T, reason: &'static str) {
        let slot = self.value.get();
        self.once.call(true, Kind::OnceLock, reason, &mut |_| {
            let value = f();
            // SAFETY: the `Once` runs this closure for one caller at a time,
            // and only while the cell is not complete, so nobody reads the
            // slot meanwhile (it is `None`: nothing to drop); a closure that
            // unwinds writes nothing, and the `Once` then stays incomplete
            // (the invariant holds).
            unsafe { *slot = Some(value) };
        });
    }

    /// # Safety
    ///
    /// The cell is initialized.
    #[inline]
    unsafe fn get_unchecked(&self) -> &T {
        // SAFETY: initialized, by the caller's promise, so `Some`, and
        // never written again while `&self` is shared.
        unsafe { (*self.value.get()).as_ref().unwrap_unchecked() }
    }
}

impl<T> Default for OnceLock<T> {
    /// Creates a new uninitialized cell.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// assert_eq!(OnceLock::<()>::new(), OnceLock::default());
    /// ```
    #[inline]
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    #[inline]
    fn clone(&self) -> OnceLock<T> {
        match self.get() {
            Some(value) => OnceLock::from(value.clone()),
            None => OnceLock::new(),
        }
    }
}

impl<T> From<T> for OnceLock<T> {
    /// Creates a new cell with its contents set to `value`.
    ///
    /// # Example
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// let a = OnceLock::from(3);
    /// let b = OnceLock::new();
    /// b.set(3).unwrap();
    /// assert_eq!(a, b);
    /// ```
    #[inline]
    fn from(value: T) -> Self {
        OnceLock {
            once: Once::completed(),
            value: UnsafeCell::new(Some(value)),
        }
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    /// Equality for two `OnceLock`s.
    ///
    /// Two `OnceLock`s are equal if they either both contain values and
    /// their values are equal, or if neither contains a value.
    ///
    /// # Examples
    ///
    /// ```
    /// use green::sync::OnceLock;
    ///
    /// let five = OnceLock::new();
    /// five.set(5).unwrap();
    ///
    /// let also_five = OnceLock::new();
    /// also_five.set(5).unwrap();
    ///
    /// assert!(five == also_five);
    ///
    /// assert!(OnceLock::<u32>::new() == OnceLock::<u32>::new());
    /// ```
    #[inline]
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

// SAFETY: sharing the cell shares `&T` (so `T: Sync`) and lets any sharer
// write the `T` in from its own thread, which may then be dropped by
// another (so `T: Send`); the `Once` orders the one write before every
// read.
unsafe impl<T: Sync + Send> Sync for OnceLock<T> {}

impl<T: RefUnwindSafe + UnwindSafe> RefUnwindSafe for OnceLock<T> {}
impl<T: UnwindSafe> UnwindSafe for OnceLock<T> {}
