//! Waiting on and killing collections of greenlets: [`killall`],
//! [`wait_any`], [`iwait`] (gevent's `killall`, `wait(count=1)`, `iwait`).

use std::fmt;
use std::rc::Rc;

use crate::greenlet::Core;
use crate::hub;
use crate::join::JoinHandle;

/// Kills every greenlet of `handles` (a slice, a `Vec`, or any iterator of
/// handle references, as gevent's takes any iterable) and waits until they
/// have all died (gevent's `killall`). Finished ones keep their results.
///
/// Each greenlet is killed once: one that catches the kill and carries on
/// is waited for, not killed again while the others die (a kill of the
/// calling greenlet, if it is among them, comes last and unwinds it).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// green::run(|| {
///     let sleepers: Vec<_> = (0..3).map(|_| green::spawn(|| green::sleep(Duration::from_secs(60)))).collect();
///     green::yield_now();
///     green::killall(&sleepers);
///     assert!(sleepers.iter().all(|h| h.is_finished()));
/// });
/// ```
pub fn killall<'a, T: 'a>(handles: impl IntoIterator<Item = &'a JoinHandle<T>>) {
    let handles: Vec<&JoinHandle<T>> = handles.into_iter().collect();
    // Mark them all first, so that they unwind in one turn, then wait.
    for h in &handles {
        h.kill_nowait();
    }
    let mut me = None;
    for h in handles {
        if h.is_finished() {
            continue;
        }
        if h.is_current() {
            me = Some(h);
            continue;
        }
        hub::with(|hub| hub.wait_finished(h.core(), "killall"));
    }
    if let Some(me) = me {
        me.kill();
    }
}

/// Waits until one of `handles` has finished and returns its index (the
/// lowest, if several have).
///
/// # Panics
///
/// Panics if `handles` is empty (that wait could never end), or contains
/// the calling greenlet.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// green::run(|| {
///     let slow = green::spawn(|| green::sleep(Duration::from_millis(50)));
///     let fast = green::spawn(|| green::sleep(Duration::from_millis(1)));
///     assert_eq!(green::wait_any(&[slow, fast]), 1);
/// });
/// ```
pub fn wait_any<T>(handles: &[JoinHandle<T>]) -> usize {
    assert!(
        !handles.is_empty(),
        "green::wait_any: no greenlet to wait for"
    );
    let cores: Vec<Rc<Core>> = handles.iter().map(|h| h.core().clone()).collect();
    hub::with(|hub| hub.wait_any(&cores))
}

/// An iterator over `handles` that yields each one as it finishes (gevent's
/// `iwait`); ties come out in the order given.
///
/// # Examples
///
/// ```
/// green::run(|| {
///     // Each finishes after as many turns of the hub as it says.
///     let handles: Vec<_> = [6u32, 2, 4]
///         .into_iter()
///         .map(|turns| green::spawn(move || { (0..turns).for_each(|_| green::yield_now()); turns }))
///         .collect();
///     let order: Vec<u32> = green::iwait(handles).map(|h| h.join().unwrap()).collect();
///     assert_eq!(order, [2, 4, 6]);
/// });
/// ```
pub fn iwait<T>(handles: impl IntoIterator<Item = JoinHandle<T>>) -> IWait<T> {
    IWait {
        pending: handles.into_iter().collect(),
    }
}

/// The iterator of [`iwait`].
pub struct IWait<T> {
    pending: Vec<JoinHandle<T>>,
}

impl<T> Iterator for IWait<T> {
    type Item = JoinHandle<T>;

    fn next(&mut self) -> Option<JoinHandle<T>> {
        if self.pending.is_empty() {
            return None;
        }
        let i = wait_any(&self.pending);
        Some(self.pending.remove(i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.pending.len(), Some(self.pending.len()))
    }
}

impl<T> ExactSizeIterator for IWait<T> {}

impl<T> fmt::Debug for IWait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IWait")
            .field("pending", &self.pending.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// gevent's test__iwait `test_iwait_nogarbage`: a wait that ended
    /// leaves no link on the greenlets still running. Left there, each entry
    /// keeps the waiter's record alive until that greenlet ends: a loop of
    /// `wait_any` on a long-lived greenlet and short ones grows its list
    /// without bound.
    #[test]
    fn a_wait_any_that_ended_leaves_the_unfinished_greenlets_joiners() {
        crate::run(|| {
            let slow = crate::spawn(|| crate::sleep(Duration::from_secs(60)));
            let joiners =
                |h: &crate::JoinHandle<()>| h.core().extras().map_or(0, |e| e.joiners.len());
            let mut handles = vec![slow];
            for _ in 0..3 {
                handles.push(crate::spawn(crate::yield_now));
                assert_eq!(super::wait_any(&handles), 1);
                handles.pop().unwrap().join().unwrap();
                assert_eq!(
                    joiners(&handles[0]),
                    0,
                    "a wait_any that ended is still a joiner"
                );
            }
            // Cut short from outside too.
            let cut = crate::timeout(Duration::from_millis(1), || super::wait_any(&handles));
            assert!(cut.is_err());
            assert_eq!(
                joiners(&handles[0]),
                0,
                "a wait_any cut short is still a joiner"
            );
            // And iwait, consumed in part.
            handles.push(crate::spawn(|| ()));
            let mut it = super::iwait(handles.drain(..));
            assert!(it.next().unwrap().is_finished());
            let slow = it.pending.pop().unwrap();
            assert_eq!(
                joiners(&slow),
                0,
                "an iwait consumed in part is still a joiner"
            );
            slow.kill();
        });
    }
}
