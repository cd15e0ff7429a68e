//! [`Waiters`]: the greenlets waiting for one direction of one fd, in the
//! order they began to wait. Almost always there is one (a socket has one
//! reader), so the first lives inline in the fd's entry and only later ones
//! on the heap: a wait then touches no allocation of its own, and an idle
//! connection keeps none (a `Vec` kept its capacity: an 80-byte chunk per
//! connection that ever waited). The entry is no larger than with a `Vec`.

use std::rc::Rc;

use crate::greenlet::Core;

/// A waiting greenlet and the park it waits in.
pub(super) type Waiter = (Rc<Core>, u64);

/// The waiters of one direction of one fd, oldest first.
#[derive(Default)]
pub(super) struct Waiters {
    first: Option<Waiter>,
    /// Those after `first`, boxed so that an fd's entry is no larger than
    /// with a `Vec` (24 bytes a direction); `None` while nobody waits
    /// behind `first`, never an empty list. So `first` is `None` only when
    /// nobody waits at all.
    #[expect(
        clippy::box_collection,
        reason = "the box is the point: 8 bytes in every fd's entry instead of 24, for a list that is almost never needed"
    )]
    more: Option<Box<Vec<Waiter>>>,
}

impl Waiters {
    /// Whether nobody waits.
    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Adds a waiter at the back.
    pub(super) fn push(&mut self, waiter: Waiter) {
        if self.first.is_none() {
            self.first = Some(waiter);
        } else {
            self.more.get_or_insert_with(Box::default).push(waiter);
        }
    }

    /// Removes `g`'s entry; whether it had one. The box goes once it is
    /// empty, so waiters cancelled by a timeout or a kill leave no
    /// allocation behind.
    pub(super) fn remove(&mut self, g: &Rc<Core>) -> bool {
        if self.first.as_ref().is_some_and(|(w, _)| Rc::ptr_eq(w, g)) {
            self.first = self.more.as_mut().map(|m| m.remove(0));
        } else {
            let Some(more) = self.more.as_mut() else {
                return false;
            };
            let Some(i) = more.iter().position(|(w, _)| Rc::ptr_eq(w, g)) else {
                return false;
            };
            more.remove(i);
        }
        if self.more.as_ref().is_some_and(|m| m.is_empty()) {
            self.more = None;
        }
        true
    }

    /// Takes every waiter out, oldest first, leaving none.
    pub(super) fn take(&mut self) -> impl Iterator<Item = Waiter> {
        let first = self.first.take();
        let more = self.more.take().map(|m| *m).unwrap_or_default();
        first.into_iter().chain(more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::greenlet::finished_cores as cores;

    /// `g` waiting, in order, each with its index as park sequence.
    fn waiting(g: &[Rc<Core>]) -> Waiters {
        let mut w = Waiters::default();
        for (i, g) in g.iter().enumerate() {
            w.push((g.clone(), i as u64));
        }
        w
    }

    fn ids(w: &mut Waiters) -> Vec<u64> {
        w.take().map(|(_, seq)| seq).collect()
    }

    #[test]
    fn keeps_the_order_they_came_in() {
        assert!(Waiters::default().is_empty());
        let mut w = waiting(&cores(3));
        assert!(!w.is_empty());
        assert_eq!(ids(&mut w), [0, 1, 2]);
        assert!(w.is_empty());
    }

    #[test]
    fn is_as_small_as_a_vec() {
        assert_eq!(
            std::mem::size_of::<Waiters>(),
            std::mem::size_of::<Vec<Waiter>>()
        );
    }

    #[test]
    fn removes_any_and_the_next_moves_up() {
        let g = cores(4);
        let mut w = waiting(&g);
        assert!(w.remove(&g[0]));
        assert!(w.remove(&g[2]));
        assert!(!w.remove(&g[2]), "already gone");
        assert_eq!(ids(&mut w), [1, 3]);
        w.push((g[0].clone(), 7));
        assert!(w.remove(&g[0]));
        assert!(w.is_empty());
    }

    #[test]
    fn waiters_removed_one_by_one_leave_no_box() {
        let g = cores(3);
        let mut w = waiting(&g);
        assert!(w.more.is_some());
        assert!(w.remove(&g[2]));
        assert!(w.more.is_some(), "g[1] still waits behind the first");
        assert!(w.remove(&g[0]));
        assert!(w.more.is_none(), "g[1] moved up: nobody behind it");
        assert!(w.remove(&g[1]));
        assert!(w.is_empty() && w.more.is_none());
    }
}
