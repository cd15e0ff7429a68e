//! Greenlet-local storage: [`local!`](crate::local!) and [`LocalKey`],
//! gevent's `gevent.local`, shaped like std's `thread_local!`.
//!
//! Each greenlet that touches a key gets its own value, created on first
//! use and dropped when the greenlet ends (on its own stack, after its body
//! has returned, panicked or been killed; the main greenlet's after `run`
//! has killed the others). A destructor that panics there is a panic of the
//! greenlet, which `join` (or `run`, for the main greenlet) reports, unless
//! the body had panicked or been killed first. A `thread_local!` is shared
//! by every greenlet of a hub; a `green::local!` is not.

use std::any::Any;
use std::fmt;
use std::rc::Rc;

use crate::hub;

/// Declares greenlet-local statics, like [`std::thread_local!`].
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
///
/// green::local! {
///     static REQUEST_ID: Cell<u32> = Cell::new(0);
/// }
///
/// green::run(|| {
///     let handles: Vec<_> = (1..=3)
///         .map(|id| {
///             green::spawn(move || {
///                 REQUEST_ID.with(|r| r.set(id));
///                 green::yield_now(); // the others set theirs meanwhile
///                 REQUEST_ID.with(|r| r.get())
///             })
///         })
///         .collect();
///     let ids: Vec<u32> = green::joinall(handles).into_iter().map(Result::unwrap).collect();
///     assert_eq!(ids, [1, 2, 3]);
///     REQUEST_ID.with(|r| assert_eq!(r.get(), 0)); // main's own, untouched
/// });
/// ```
#[macro_export]
macro_rules! local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey::new({
            fn __init() -> $t {
                $init
            }
            __init
        });
        $crate::local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}

/// A greenlet-local key, declared with [`local!`](crate::local!).
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey { init }
    }

    /// Runs `f` with the running greenlet's value, creating it first if
    /// needed.
    ///
    /// # Panics
    ///
    /// Panics outside [`run`](crate::run()), and, as std's `thread_local!`
    /// does, in a destructor of the greenlet's local values when this key's
    /// value has been dropped already (a key not used before gets a value,
    /// dropped in turn).
    ///
    /// # Examples
    ///
    /// ```
    /// green::local!(static NAME: String = "anonymous".to_string());
    /// green::run(|| assert_eq!(NAME.with(|n| n.len()), 9));
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let key = std::ptr::from_ref(self) as usize;
        let core = hub::with(|hub| hub.current_core());
        let found = core.extras().and_then(|e| {
            e.locals
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
        });
        let value: Rc<dyn Any> = match found {
            Some(v) => v,
            None if core.extras().is_some_and(|e| e.destroyed.contains(&key)) => panic!(
                "cannot access a greenlet-local value during or after destruction \
                 (green::local!, as std's thread_local!)"
            ),
            None => {
                // No borrow held: `init` may use other keys.
                let v: Rc<dyn Any> = Rc::new((self.init)());
                core.extras_mut().locals.push((key, v.clone()));
                v
            }
        };
        f(value
            .downcast_ref::<T>()
            .expect("a key's value has its type"))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// Drops the running greenlet's local values (its body has ended).
pub(crate) fn clear_current() {
    let core = hub::with(|hub| hub.current_core());
    // Each value is dropped outside the borrow: a destructor may touch
    // another key (which then gets a fresh value, dropped in turn), but not
    // one already dropped, its own included (`with` panics, as std's does):
    // that would make values forever.
    loop {
        let next = core.pop_local();
        match next {
            Some((key, v)) => {
                core.extras_mut().destroyed.push(key);
                drop(v);
            }
            None => break,
        }
    }
}
