//! A value lent to a job on green's blocking pool, which hands it back when
//! it ends, even if the greenlet that lent it was unwound (killed, or a
//! timeout fired) while it waited: the owner's next use waits for it
//! instead of finding it gone.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

use green::event::Event;

/// Where a job hands a lent value back. The owner keeps it in an `Arc`
/// next to the `Option` the value was taken from.
pub(crate) struct Lent<T> {
    slot: Mutex<Option<T>>,
    back: Event,
}

/// The value as the job holds it: handed back when dropped, whether the
/// job ran to its end, panicked, or was dropped without running (a pool
/// that could not take it).
pub(crate) struct Loan<T> {
    value: Option<T>,
    lent: Arc<Lent<T>>,
}

impl<T> Lent<T> {
    /// Lends `value`: the owner keeps the `Lent`, the job takes the `Loan`.
    pub(crate) fn lend(value: T) -> (Arc<Lent<T>>, Loan<T>) {
        let lent = Arc::new(Lent {
            slot: Mutex::new(None),
            back: Event::new(),
        });
        let loan = Loan {
            value: Some(value),
            lent: lent.clone(),
        };
        (lent, loan)
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

impl<T> Deref for Loan<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
            .as_ref()
            .expect("a loan holds its value until dropped")
    }
}

impl<T> DerefMut for Loan<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_mut()
            .expect("a loan holds its value until dropped")
    }
}

impl<T> Drop for Loan<T> {
    /// Hands the value back, on the job's thread (or wherever the job was
    /// dropped).
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            *self
                .lent
                .slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(value);
        }
        self.lent.back.set();
    }
}
