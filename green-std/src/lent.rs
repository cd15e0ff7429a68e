//! A value lent to a job on green's blocking pool, which hands it back when
//! it ends, even if the greenlet that lent it was unwound (killed, or a
//! timeout fired) while it waited: the owner's next use waits for it
//! instead of finding it gone.

use std::sync::{Mutex, PoisonError};

use green::event::Event;

/// Where a job hands a lent value back. The owner keeps it in an `Arc`
/// next to the `Option` the value was taken from.
pub(crate) struct Lent<T> {
    slot: Mutex<Option<T>>,
    back: Event,
}

impl<T> Lent<T> {
    pub(crate) fn new() -> Lent<T> {
        Lent {
            slot: Mutex::new(None),
            back: Event::new(),
        }
    }

    /// Hands the value back, on the job's thread.
    pub(crate) fn give_back(&self, value: T) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        self.back.set();
    }

    /// Waits until the job has handed the value back (the greenlet parks
    /// inside `green::run`, the thread blocks outside), then calls `f` with
    /// it, or with `None` if an earlier caller took it, under the slot's
    /// lock: a second caller runs `f` only once the first one's is done.
    pub(crate) fn wait_then<R>(&self, f: impl FnOnce(Option<T>) -> R) -> R {
        self.back.wait();
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        f(slot.take())
    }
}
